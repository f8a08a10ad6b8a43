"""The analytic cost of windowed attention equals the traced count of the real module, class by
class: windows, shifted windows, pooling windows and relative position, on grids the window
divides and does not divide."""
import pytest
import torch

from vit_scaled.cost import OP_CLASSES, OpClass, analytic_cost, backbone_cost, traced_flops
from vit_scaled.models import DeiTScaled

SMALL = dict(depth=4, num_heads=2, head_dim=16, mlp_ratio=2.0)
VARIANTS = {
    'window': dict(window_size=14),
    'shifted': dict(window_size=14, shift_window=True),
    'pooling': dict(window_size=14, pool_window=True),
    'shift+pool': dict(window_size=(8, 6), shift_window=True, pool_window=True),
    'rel-pos vitdet': dict(window_size=14, window_block_indexes=[0, 2], use_rel_pos=True),
    'rel-pos global': dict(use_rel_pos=True),
}


@pytest.mark.parametrize('img', [(256, 192), (512, 384)])
@pytest.mark.parametrize('variant', list(VARIANTS))
def test_traced_equals_analytic_per_class(variant, img):
    model = DeiTScaled(arch=SMALL, img_size=img, with_cls_token=False, out_type='featmap',
                       **VARIANTS[variant])
    traced = traced_flops(model, torch.randn(1, 3, *img))
    cost = backbone_cost(model)
    assert {c: cost[c].flops for c in OP_CLASSES} == traced
    assert cost.params == sum(p.numel() for p in model.parameters())


def test_windows_cut_the_attention_matmuls():
    g = analytic_cost(DeiTScaled(arch='deit-tiny', img_size=1024, with_cls_token=False,
                                 out_type='featmap').arch, num_prefix_tokens=0)
    w = analytic_cost(DeiTScaled(arch='deit-tiny', img_size=1024, with_cls_token=False,
                                 out_type='featmap', window_size=14).arch, num_prefix_tokens=0)
    # 64 x 64 tokens: global QK^T and AV are over 4096 keys, windows over 196 (padded to 70 x 70)
    assert w[OpClass.MSA_MATMUL].flops < g[OpClass.MSA_MATMUL].flops / 15
    assert w[OpClass.MSA_GATHER].bytes > g[OpClass.MSA_GATHER].bytes  # into windows and back
