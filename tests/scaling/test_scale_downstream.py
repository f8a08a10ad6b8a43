"""``tools/scale.py`` on every downstream config of the repo writes a config whose whole model
(backbone, neck, head) builds, initialises (pretrained weights of the base's shape are dropped,
with a note) and runs a forward pass with the new width and depth."""
import glob
import os.path as osp

import pytest
import torch

from vit_scaled.families import family_of
from vit_scaled.scaling import configs

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DOWNSTREAM = sorted(p for d in ('deformable_detr', 'vitpose', 'timesformer')
                    for p in glob.glob(osp.join(ROOT, 'configs', d, '*.py')))
STRATEGY = osp.join(ROOT, 'configs', 'scaling', 'deit_digits_flops.yaml')


def forward(model, scope, x):
    """One forward pass of a whole downstream model in its 'tensor' mode."""
    if scope == 'mmdet':
        from mmdet.structures import DetDataSample
        shape = tuple(x.shape[-2:])
        samples = [DetDataSample(metainfo=dict(img_shape=shape, batch_input_shape=shape,
                                               pad_shape=shape, scale_factor=(1.0, 1.0)))
                   for _ in range(x.shape[0])]
        return model(x, samples, mode='tensor')
    if scope == 'mmaction':
        feats = model(x[:, None], None, mode='tensor')       # (B, clips, C, T, H, W) in
        return model.cls_head(feats[0] if isinstance(feats, tuple) else feats)
    return model(x, None, mode='tensor')


def _leaves(out):
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, (list, tuple)):
        return [t for o in out for t in _leaves(o)]
    if isinstance(out, dict):
        return [t for o in out.values() for t in _leaves(o)]
    return []


@pytest.mark.parametrize('config', DOWNSTREAM, ids=lambda p: osp.relpath(p, ROOT))
@torch.no_grad()
def test_scaled_downstream_config_builds_and_runs(config, run_script, build_from_config,
                                                  tmp_path):
    out = tmp_path / 'scaled.py'
    code, stdout, err = run_script('tools/scale.py', config, '--strategy', STRATEGY,
                                   '--budget', 'flops=2x', '--out', out)
    assert code in (0, None), err
    base = configs.load_base(config)[1]
    cfg, model = build_from_config(str(out))
    arch = model.backbone.arch
    assert arch == configs.arch_of(cfg)
    assert family_of(arch).num_layers(arch) != family_of(base).num_layers(base) or \
        arch.embed_dims != base.embed_dims           # the model did change
    base_init = configs.find_backbone(configs.load(config))[0].get('init_cfg') or {}
    if base_init.get('type') == 'Pretrained':   # weights of the base's shape: dropped, said so
        assert cfg.model.backbone.init_cfg is None
        assert f"pretrained weights ({base_init['checkpoint']}) have another shape" in \
            out.read_text()
        model.init_weights()                      # reads no checkpoint
    model.eval()
    x = family_of(arch).example_input(arch, 1)
    if cfg.default_scope == 'mmdet':
        x = torch.randn(1, 3, 128, 160)                 # any size: a detector resizes its embedding
    leaves = _leaves(forward(model, cfg.default_scope, x))
    assert leaves
    # The features the new width feeds to the neck are finite. (A randomly initialised Deformable
    # DETR head can itself give NaN on some inputs: mmdet's, not the scaled backbone's, doing.)
    feats = _leaves(model.extract_feat(x[:, None] if cfg.default_scope == 'mmaction' else x))
    assert feats and all(torch.isfinite(t).all() for t in feats)
    if cfg.default_scope != 'mmdet':
        assert all(torch.isfinite(t).all() for t in leaves)


def test_strategy_pushed_far_beyond_its_candidates_warns(run_script, tmp_path):
    config = osp.join(ROOT, 'configs', 'deformable_detr', 'deformable-detr_deit-tiny_16xb2-50e_coco.py')
    code, stdout, err = run_script('tools/scale.py', config, '--strategy', STRATEGY,
                                   '--budget', 'flops=40x', '--out', tmp_path / 'far.py')
    assert code in (0, None), err
    warned = [line for line in err.splitlines() if line.startswith('warning:')]
    assert any(line.startswith('warning: depth') for line in warned), err
    assert any(line.startswith('warning: mlp_ratio') for line in warned), err
    assert all('fitted on (x' in line for line in warned)
    assert 'warning: depth' in (tmp_path / 'far.py').read_text()     # and in the config's header


def test_weights_are_kept_for_a_new_resolution_and_dropped_for_a_new_shape():
    import dataclasses
    cfg = configs.load(osp.join(ROOT, 'configs', 'deformable_detr',
                                'deformable-detr_deit-tiny_16xb2-50e_coco.py'))
    base = configs.arch_of(cfg)
    checkpoint = configs.find_backbone(cfg)[0]['init_cfg']['checkpoint']
    bigger = dataclasses.replace(base, img_size=(320, 320))     # pos_embed is resized on loading
    assert configs.stale_weights(cfg, bigger) is None
    assert 'init_cfg' not in configs.overrides(cfg, bigger)['model']['backbone']
    deeper = dataclasses.replace(base, depth=base.depth + 2)
    assert configs.stale_weights(cfg, deeper) == checkpoint
    assert configs.overrides(cfg, deeper)['model']['backbone']['init_cfg'] is None
