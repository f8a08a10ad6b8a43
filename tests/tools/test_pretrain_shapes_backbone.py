"""tools/analysis_tools/pretrain_shapes_backbone.py: a few steps in a fresh process pretrain a
detector config's own backbone and write a state dict that the detector then loads through its
``init_cfg``; bad configs are refused naming the field."""
import os
import re
import subprocess
import sys

import pytest
import torch

SMALL = 'configs/deformable_detr/deformable-detr-refine-twostage_deit-tiny_1xb8-24e_small.py'
TOOL = 'tools/analysis_tools/pretrain_shapes_backbone.py'


def run(root, *args):
    return subprocess.run([sys.executable, TOOL, *map(str, args)], cwd=root, capture_output=True,
                          text=True, timeout=300, env={'OMP_NUM_THREADS': '1', 'PATH': '/usr/bin:/bin'})


def tiny_config(path, root, checkpoint=None, **backbone):
    backbone = dict(dict(arch=dict(_delete_=True, depth=2, num_heads=2, head_dim=32, mlp_ratio=2.0),
                         img_size=64, out_indices=(1, )), **backbone)
    if checkpoint:
        backbone['init_cfg'] = dict(_delete_=True, type='Pretrained', checkpoint=str(checkpoint))
    path.write_text(f'_base_ = [{os.path.join(root, SMALL)!r}]\n'
                    f'model = dict(backbone={backbone!r}, neck=dict(in_channels=64))\n')
    return path


def test_pretraining_writes_a_backbone_the_detector_loads(tmp_path, root):
    from mmdet.registry import MODELS
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    out = tmp_path / 'backbone.pth'
    proc = run(root, tiny_config(tmp_path / 'tiny.py', root), out, '--num', 8, '--steps', 3,
               '--batch', 4, '--objects', 1, 2)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'drew 8 images of 64 x 64' in proc.stdout and 'step 2 loss_cls' in proc.stdout
    state = torch.load(out, weights_only=True)

    init_default_scope('mmdet')
    import vit_scaled.models.detectors  # noqa: F401
    cfg = Config.fromfile(tiny_config(tmp_path / 'tiny_pretrained.py', root, checkpoint=out))
    detector = MODELS.build(cfg.model)
    before = {k: v.clone() for k, v in detector.backbone.state_dict().items()}
    detector.init_weights()
    loaded = detector.backbone.state_dict()
    assert loaded.keys() == state.keys()
    assert all(torch.equal(loaded[k], state[k]) for k in state)
    assert not torch.equal(before['blocks.0.attn.qkv.weight'], loaded['blocks.0.attn.qkv.weight'])


@pytest.mark.parametrize('backbone, message', [
    ("dict(img_size=(64, 96))", 'img_size=(64, 96), patch_size=16'),
    ("dict(_delete_=True, type='PiTScaled')", "model.backbone.type='PiTScaled'"),
])
def test_backbones_it_cannot_pretrain_are_refused(tmp_path, root, run_script, backbone, message):
    config = tmp_path / 'bad.py'
    config.write_text(f'_base_ = [{os.path.join(root, SMALL)!r}]\nmodel = dict(backbone={backbone})\n')
    out = tmp_path / 'backbone.pth'
    with pytest.raises(ValueError, match=re.escape(message)):
        run_script(TOOL, config, out, '--num', 2, '--steps', 1)
    assert not out.exists()
