"""tools/analysis_tools/pretrain_shapes_backbone.py: a few steps in a fresh process write a state
dict that the same DeiTScaled loads exactly (what the detector's ``init_cfg`` then reads)."""
import subprocess
import sys

import torch

from vit_scaled.models.deit import DeiTScaled


def test_pretraining_writes_a_loadable_backbone(tmp_path, root):
    out = tmp_path / 'backbone.pth'
    proc = subprocess.run([sys.executable, 'tools/analysis_tools/pretrain_shapes_backbone.py',
                           str(out), '--img', '64', '--num', '8', '--steps', '3', '--batch', '4',
                           '--arch', '2,2,32,2.0'], cwd=root, capture_output=True, text=True,
                          timeout=300, env={'OMP_NUM_THREADS': '1', 'PATH': '/usr/bin:/bin'})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'step 2 loss_cls' in proc.stdout
    state = torch.load(out, weights_only=True)
    net = DeiTScaled(arch=dict(depth=2, num_heads=2, head_dim=32, mlp_ratio=2.0), img_size=64,
                     out_type='featmap', with_cls_token=False)
    before = net.state_dict()['blocks.0.attn.qkv.weight'].clone()
    net.load_state_dict(state, strict=True)
    assert not torch.equal(net.state_dict()['blocks.0.attn.qkv.weight'], before)
