"""Every Deformable DETR config builds in mmdet's scope; one training step of each COCO config runs
on the CPU; backbone, neck and transformer that disagree fail when the model is built."""
import glob
import math
import os.path as osp

import pytest
import torch

CONFIG_DIR = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'configs',
                      'deformable_detr')
CONFIGS = sorted(osp.basename(p) for p in glob.glob(osp.join(CONFIG_DIR, '*.py')))
COCO_CONFIGS = [c for c in CONFIGS if c.endswith('_coco.py')]
SMALL = 'deformable-detr-refine-twostage_deit-tiny_1xb8-24e_small.py'


def build(config, changes=None):
    """The config's model built as mmdet's tools build it, after ``changes`` (a nested dict)."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmengine.utils import import_modules_from_strings
    cfg = Config.fromfile(osp.join(CONFIG_DIR, config))
    if changes:
        cfg.merge_from_dict(changes)
    import_modules_from_strings(**cfg.custom_imports)
    init_default_scope(cfg.default_scope)
    from mmdet.registry import MODELS
    return cfg, MODELS.build(cfg.model)


def test_the_expected_configs_are_there():
    names = set(CONFIGS)
    for c in ('deformable-detr_deit-tiny_16xb2-50e_coco.py',
              'deformable-detr_deit-tiny-vitdet_16xb2-50e_coco.py',
              'deformable-detr_deit-scaled_16xb2-50e_coco.py',
              'deformable-detr-refine_deit-scaled_16xb2-50e_coco.py',
              'deformable-detr-refine-twostage_deit-scaled_16xb2-50e_coco.py',
              'deformable-detr_pit-scaled_16xb2-50e_coco.py', SMALL):
        assert c in names
    assert 'deformable-detr_deit-tiny_coco.py' not in names   # the old three-depths config is gone


@pytest.mark.parametrize('config', CONFIGS)
def test_config_builds_in_mmdet_scope(config):
    from mmdet.models.detectors import DeformableDETR
    cfg, model = build(config)
    assert cfg.default_scope == 'mmdet'
    assert isinstance(model, DeformableDETR)
    assert model.backbone.init_cfg is None or model.backbone.init_cfg['type'] == 'Pretrained'


def test_reference_schedule_is_kept():
    from mmengine.config import Config
    for config in COCO_CONFIGS:
        cfg = Config.fromfile(osp.join(CONFIG_DIR, config))
        opt = cfg.optim_wrapper
        assert (opt.optimizer.type, opt.optimizer.lr) == ('AdamW', 2e-4), config
        assert opt.paramwise_cfg.custom_keys['backbone'].lr_mult == 0.1, config
        assert cfg.train_cfg.max_epochs == 50, config
        assert cfg.model.backbone.init_cfg.type == 'Pretrained', config


def test_vitdet_style_backbone_windows_all_but_four_global_blocks():
    _, model = build('deformable-detr_deit-tiny-vitdet_16xb2-50e_coco.py')
    arch = model.backbone.arch
    assert arch.window_block_indexes == (0, 1, 3, 4, 6, 7, 9, 10)
    assert tuple(arch.window_size) == (14, 14) and arch.use_rel_pos
    assert not model.backbone.with_cls_token


def _synthetic_batch(size=(64, 96), batch=2, num_classes=80):
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData
    g = torch.Generator().manual_seed(0)
    inputs, samples = [], []
    h, w = size
    for _ in range(batch):
        inputs.append(torch.randint(0, 256, (3, h, w), dtype=torch.uint8, generator=g))
        s = DetDataSample(metainfo=dict(img_shape=size, ori_shape=size, scale_factor=(1.0, 1.0)))
        s.gt_instances = InstanceData(
            bboxes=torch.tensor([[10., 20., 40., 50.], [50., 8., 90., 60.]]),
            labels=torch.randint(0, num_classes, (2, ), generator=g))
        samples.append(s)
    return dict(inputs=inputs, data_samples=samples)


@pytest.mark.parametrize('config', COCO_CONFIGS)
def test_one_training_step_of_each_coco_config(config):
    from mmengine.optim import OptimWrapper
    # the ImageNet checkpoint is a path users supply; here every part starts from its own init
    _, model = build(config, dict(model=dict(backbone=dict(init_cfg=None))))
    model.init_weights()
    before = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    wrapper = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=1e-4))
    model.train()
    # two-stage picks num_queries=300 proposals among the encoder's tokens: 426 at 128 x 160
    size = (128, 160) if model.as_two_stage else (64, 96)
    losses = model.train_step(_synthetic_batch(size, num_classes=model.bbox_head.num_classes),
                              wrapper)
    assert math.isfinite(float(losses['loss']))
    changed = [n for n, p in model.named_parameters() if n in before and not torch.equal(p, before[n])]
    assert any(n.startswith('backbone.') for n in changed)
    assert any(n.startswith('neck.') for n in changed)
    assert any(n.startswith('encoder.') for n in changed)


# -- shapes that disagree fail when the model is built, naming both numbers ----------------------
def test_neck_channels_that_differ_from_the_backbone_fail_at_build():
    with pytest.raises(ValueError, match=r'in_channels=\[384\].*channels \[192\]'):
        build(SMALL, dict(model=dict(neck=dict(in_channels=384))))


def test_several_backbone_maps_into_the_simple_pyramid_fail_at_build():
    with pytest.raises(ValueError, match=r'in_channels=\[192\] \(1 maps\).*returns 2 maps'):
        build(SMALL, dict(model=dict(backbone=dict(out_indices=(1, 3)))))


def test_channel_mapper_channels_that_differ_from_pit_stages_fail_at_build():
    with pytest.raises(ValueError, match=r'in_channels=\[64, 128, 512\].*\[64, 128, 256\]'):
        build('deformable-detr_pit-scaled_16xb2-50e_coco.py',
              dict(model=dict(neck=dict(in_channels=[64, 128, 512]))))


@pytest.mark.parametrize('changes, match', [
    (dict(num_feature_levels=3), 'gives 2 feature levels .* num_feature_levels=3'),
    (dict(encoder=dict(layer_cfg=dict(self_attn_cfg=dict(num_levels=4)))),
     r'gives 2 feature levels .* encoder\.layer_cfg\.self_attn_cfg\.num_levels=4'),
    (dict(decoder=dict(layer_cfg=dict(cross_attn_cfg=dict(num_levels=1)))),
     r'gives 2 feature levels .* decoder\.layer_cfg\.cross_attn_cfg\.num_levels=1'),
    (dict(neck=dict(scale_factors=(2.0, 1.0, 0.5))),
     'gives 3 feature levels .* num_feature_levels=2'),
])
def test_level_counts_that_disagree_fail_at_build(changes, match):
    with pytest.raises(ValueError, match=match):
        build(SMALL, dict(model=changes))


# -- the two-stage options of CheckedDeformableDETR ----------------------------------------------
def test_proposal_size_sets_the_proposals_side_per_level():
    _, plain = build(SMALL, dict(model=dict(proposal_size=0.05)))
    _, sized = build(SMALL, dict(model=dict(proposal_size=0.2)))
    memory = torch.randn(2, 8 * 8 + 4 * 4, 256)
    shapes = torch.tensor([[8, 8], [4, 4]])
    _, ref = plain.gen_encoder_output_proposals(memory, None, shapes)
    _, new = sized.gen_encoder_output_proposals(memory, None, shapes)
    assert torch.allclose(ref[..., 2:].sigmoid(), torch.tensor([0.05] * 64 + [0.1] * 16)[None, :, None]
                          .expand(2, -1, 2))                     # mmdet's 0.05 * 2**level
    assert torch.allclose(new[..., 2:].sigmoid(), torch.tensor([0.2] * 64 + [0.4] * 16)[None, :, None]
                          .expand(2, -1, 2))
    assert torch.equal(new[..., :2], ref[..., :2])                # the centres are mmdet's


@pytest.mark.parametrize('value', [0.5, 0.0, True, 'big'])
def test_proposal_size_beyond_the_image_fails_at_build(value):
    with pytest.raises(ValueError, match=rf'proposal_size={value!r} is invalid.*\(0\.01, 0\.495\)'):
        build(SMALL, dict(model=dict(proposal_size=value)))


def test_distinct_queries_skip_near_copies_of_a_better_proposal():
    _, model = build(SMALL, dict(model=dict(num_queries=3, distinct_queries=0.7)))
    boxes = torch.tensor([[0.3, 0.3, 0.2, 0.2],      # best
                          [0.31, 0.3, 0.2, 0.2],     # a near copy of it (IoU 0.9)
                          [0.7, 0.7, 0.2, 0.2],      # another object
                          [0.3, 0.31, 0.2, 0.21]])   # another near copy
    scores = torch.tensor([0.9, 0.8, 0.5, 0.4])
    # NMS keeps 0 and 2; the third query is the best suppressed one
    assert model._distinct(boxes, scores).tolist() == [0, 2, 1]
    with pytest.raises(ValueError, match=r'distinct_queries=1\.5 is invalid'):
        build(SMALL, dict(model=dict(distinct_queries=1.5)))


def test_distinct_queries_feed_the_decoder_the_chosen_proposals():
    _, model = build(SMALL, dict(model=dict(num_queries=5, distinct_queries=0.7)))
    model.train()
    memory = torch.randn(2, 8 * 8 + 4 * 4, 256)
    shapes = torch.tensor([[8, 8], [4, 4]])
    decoder_inputs, head_inputs = model.pre_decoder(memory, None, shapes)
    assert decoder_inputs['query'].shape == decoder_inputs['query_pos'].shape == (2, 5, 256)
    boxes, scores = head_inputs['enc_outputs_coord'], head_inputs['enc_outputs_class'][..., 0]
    for i in range(2):
        chosen = model._distinct(boxes[i].detach(), scores[i].detach())
        assert torch.allclose(decoder_inputs['reference_points'][i], boxes[i, chosen])


def test_missing_pretrained_backbone_names_the_file_and_the_way_out(tmp_path):
    missing = str(tmp_path / 'none.pth')
    _, model = build(SMALL, dict(model=dict(backbone=dict(init_cfg=dict(checkpoint=missing)))))
    with pytest.raises(FileNotFoundError, match=rf"checkpoint='{missing}'\): no such file.*"
                                                r'init_cfg=None'):
        model.init_weights()
