"""The ViTPose configs (configs/vitpose/): each builds in mmpose's scope and trains one step on
real images through its own pipeline; layer-wise lr decay reaches every block of the windowed
backbones; bad shapes fail at build time naming the values; the traced FLOPs of the whole pose
model are the analytic backbone's plus the decoder's."""
import glob
import json
import os.path as osp

import pytest
import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', 'vitpose', '*.py')))
NAMES = [osp.basename(c) for c in CONFIGS]
WINDOWED = [n for n in NAMES if '-win' in n]


def _cfg(name, **options):
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'vitpose', name))
    if options:
        cfg.merge_from_dict(options)
    return cfg


def _build(cfg):
    from mmengine.registry import init_default_scope
    from mmengine.utils import import_modules_from_strings
    from mmpose.registry import MODELS
    import_modules_from_strings(**cfg.custom_imports)
    init_default_scope(cfg.default_scope)
    return MODELS.build(cfg.model)


@pytest.fixture(scope='module')
def kpt_set(tmp_path_factory):
    from vit_scaled.datasets.synthetic.coco_keypoints import write_coco_keypoints
    root = str(tmp_path_factory.mktemp('kpts'))
    write_coco_keypoints(root, num_train=2, num_val=1, seed=0, max_figures=2)
    return root


def test_every_config_is_found():
    assert len(NAMES) >= 12 and len(WINDOWED) >= 5
    assert 'vitpose_deit-small_coco-256x192.py' in NAMES


@pytest.mark.parametrize('name', NAMES)
def test_config_builds_and_trains_one_step(name, kpt_set):
    from mmengine.dataset import pseudo_collate
    from mmengine.optim import build_optim_wrapper
    from mmpose.registry import DATASETS
    from vit_scaled import DeiTScaled
    from vit_scaled.models.pose import CheckedTopdownPoseEstimator
    cfg = _cfg(name)
    assert cfg.default_scope == 'mmpose'
    assert cfg.model.test_cfg.flip_test is True   # flip testing, as the reference has it
    model = _build(cfg)
    assert isinstance(model, CheckedTopdownPoseEstimator) and isinstance(model.backbone, DeiTScaled)
    ds_cfg = cfg.train_dataloader.dataset
    ds_cfg.update(data_root=kpt_set, ann_file='annotations/person_keypoints_train.json',
                  data_prefix=dict(img='train/'))
    dataset = DATASETS.build(ds_cfg)
    # two crops on the small set's configs, one at COCO's 256 x 192 (a step there costs seconds)
    data = pseudo_collate([dataset[i] for i in range(2 if '_synth-' in name else 1)])
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    before = model.backbone.blocks[0].attn.qkv.weight.detach().clone()
    model.train()
    losses = model.train_step(data, wrapper)
    assert torch.isfinite(losses['loss']) and losses['loss'] > 0
    assert not torch.equal(before, model.backbone.blocks[0].attn.qkv.weight)


@pytest.mark.parametrize('name', WINDOWED)
def test_layer_decay_reaches_every_block_of_windowed_backbones(name):
    from mmengine.optim import build_optim_wrapper
    cfg = _cfg(name)
    model = _build(cfg)
    arch = model.backbone.arch
    assert arch.windowed and arch.window_block_indexes
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    base = cfg.optim_wrapper.optimizer.lr
    rate = cfg.optim_wrapper.paramwise_cfg.layer_decay_rate
    L = arch.depth
    lr_of = {id(p): g['lr'] for g in wrapper.optimizer.param_groups for p in g['params']}
    assert len(lr_of) == sum(1 for _ in model.parameters())  # every parameter, once
    for i, block in enumerate(model.backbone.blocks):
        want = base * rate ** (L + 1 - (i + 1))
        for pname, p in block.named_parameters():
            assert lr_of[id(p)] == pytest.approx(want), f'blocks.{i}.{pname}'
    assert lr_of[id(model.backbone.patch_embed.proj.weight)] == pytest.approx(base * rate ** (L + 1))
    assert lr_of[id(model.head.final_layer.weight)] == pytest.approx(base)
    # the blocks differ in their attention, not in their rate schedule: the first and last differ
    assert lr_of[id(model.backbone.blocks[0].attn.qkv.weight)] < \
        lr_of[id(model.backbone.blocks[L - 1].attn.qkv.weight)]


BASE = 'vitpose_deit-small-s8_coco-256x192.py'


@pytest.mark.parametrize('window', [-4, 0.5, (8, 0), (0, -8)])
def test_non_positive_window_size_is_named(window):
    with pytest.raises(ValueError, match=r'window_size') as e:
        _build(_cfg(BASE, **{'model.backbone.window_size': window}))
    assert str(window).replace(' ', '') in str(e.value).replace(' ', '')


def test_windowed_blocks_beyond_depth_are_named():
    with pytest.raises(ValueError, match=r'window_block_indexes') as e:
        _build(_cfg(BASE, **{'model.backbone.window_size': 8,
                             'model.backbone.window_block_indexes': [0, 5, 12]}))
    assert '12' in str(e.value) and '0..11' in str(e.value)


@pytest.mark.parametrize('name, key', [
    ('vitpose_deit-small_coco-256x192.py', 'model.head.in_channels'),        # classic decoder
    ('vitpose-simple_deit-small_coco-256x192.py', 'model.head.in_channels'),  # neck, then head
    ('vitpose_deit-d4_synth-128x96.py', 'model.head.in_channels'),
])
def test_decoder_channels_must_match_the_backbone_at_build_time(name, key):
    width = 192 if 'd4' in name else 384
    with pytest.raises(ValueError, match=rf'in_channels=256 .*{width}'):
        _build(_cfg(name, **{key: 256}))
    # a backbone resized without the decoder is caught the same way
    with pytest.raises(ValueError, match=r'in_channels=(384|192) .*\[768\]'):
        _build(_cfg(name, **{'model.backbone.arch': 'deit-base'}))


# -- FLOPs --------------------------------------------------------------------------------------
FLOPS_CONFIGS = [n for n in NAMES if '_synth-' in n] + [
    'vitpose-simple_deit-small_coco-256x192.py', 'vitpose_deit-small-s8-win8-shift-pool_coco-256x192.py',
    'vitpose_deit-small-s8-win8-vitdet_coco-256x192.py']  # the full-size windows, as on COCO


@pytest.mark.parametrize('name', FLOPS_CONFIGS)
def test_traced_flops_are_analytic_backbone_plus_decoder(name):
    from vit_scaled.cost.analytic import backbone_cost
    from vit_scaled.cost.config import model_inputs
    from vit_scaled.cost.traced import traced_flops
    from vit_scaled.models.pose import decoder_flops
    model = _build(_cfg(name)).eval()
    arch = model.backbone.arch
    x, kwargs = model_inputs(model, (3, *arch.img_size), batch_size=2)
    traced = sum(traced_flops(model, x, **kwargs).values())
    backbone = backbone_cost(model, 2, arch.img_size).flops
    decoder = decoder_flops(model, arch.grid, batch_size=2)
    assert decoder > 0 and backbone > decoder / 10
    assert traced == backbone + decoder
    # and the traced count sees the heatmaps the model really produces
    with torch.no_grad():
        out = model(x, **kwargs)
    assert tuple(out.shape[-2:]) == tuple(reversed(model.head.decoder.heatmap_size))


def test_get_flops_counts_a_windowed_pose_model(run_script, tmp_path):
    from vit_scaled.cost.analytic import backbone_cost
    from vit_scaled.models.pose import decoder_flops
    name = 'vitpose_deit-d4-s8-win4-shift-pool_synth-128x96.py'
    out = tmp_path / 'flops.json'
    code, stdout, err = run_script('tools/analysis_tools/get_flops.py',
                                   osp.join(ROOT, 'configs', 'vitpose', name), '--out', out)
    assert code == 0, err
    assert 'Input shape: (1, 3, 128, 96)' in stdout
    got = json.loads(out.read_text())
    model = _build(_cfg(name)).eval()
    backbone = backbone_cost(model, 1, (128, 96)).flops
    assert got['analytic']['total']['flops'] == backbone   # the analytic column: the backbone
    assert got['flops'] == backbone + decoder_flops(model, model.backbone.arch.grid)
