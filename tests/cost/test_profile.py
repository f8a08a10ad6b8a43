"""Per-operator-class breakdown with torch.profiler, and the op -> class mapping it shares with
the traced count."""
import csv
import json

import pytest
import torch
from torch import nn

from vit_scaled.cost import OP_CLASSES, OpClass, classify, op_breakdown
from vit_scaled.cost.classes import ATTENTION, LINEAR, MLP, NORM, module_kind
from vit_scaled.models import DeiTScaled
from vit_scaled.models.layers import Attention, Mlp


@pytest.mark.parametrize('op,kinds,expected', [
    ('aten::linear', (MLP, LINEAR), OpClass.MLP),
    ('aten::gelu', (MLP,), OpClass.MLP),
    ('aten::linear', (ATTENTION, LINEAR), OpClass.MLP),          # qkv / proj
    ('aten.addmm.default', (ATTENTION,), OpClass.MLP),           # a projection with no Linear module
    ('aten::matmul', (ATTENTION,), OpClass.MSA_MATMUL),
    ('aten.bmm.default', (ATTENTION,), OpClass.MSA_MATMUL),
    ('aten::_scaled_dot_product_flash_attention_for_cpu', (ATTENTION,), OpClass.MSA_MATMUL),
    ('aten::_safe_softmax', (ATTENTION,), OpClass.MSA_SOFTMAX),
    ('aten::permute', (ATTENTION,), OpClass.MSA_RESHAPE),
    ('aten::reshape', (ATTENTION,), OpClass.MSA_RESHAPE),
    ('aten::unbind', (ATTENTION,), OpClass.MSA_GATHER),
    ('aten::layer_norm', (NORM,), OpClass.LAYERNORM),
    ('aten::layer_norm', (), OpClass.LAYERNORM),                 # functional, anywhere
    ('aten::add', (), OpClass.OTHERS),                           # residuals, position embedding
    ('aten::conv2d', (), OpClass.OTHERS),
])
def test_classify(op, kinds, expected):
    assert classify(op, kinds) is expected


def test_module_kinds():
    assert module_kind(nn.LayerNorm(4)) == NORM
    assert module_kind(nn.Linear(2, 2)) == LINEAR
    assert module_kind(Attention(8, 2)) == ATTENTION
    assert module_kind(nn.MultiheadAttention(8, 2)) == ATTENTION
    assert module_kind(Mlp(8, 16)) == MLP
    assert module_kind(nn.GELU()) is None


def test_deit_tiny_breakdown_has_all_seven_classes(tmp_path):
    model = DeiTScaled(arch='deit-tiny')
    b = op_breakdown(model, torch.randn(1, 3, 224, 224), iters=2, warmup=1, threads=1)
    table = b.table()
    for c in OP_CLASSES:
        assert b.ms[c] > 0, c
        assert c.value in table
    assert abs(sum(b.shares.values()) - 100) < 1e-9
    assert b.ms[OpClass.MLP] == max(b.ms.values())
    b.save(tmp_path / 'b.csv', tmp_path / 'b.json')
    rows = list(csv.DictReader(open(tmp_path / 'b.csv')))
    assert [r['class'] for r in rows] == [c.value for c in OP_CLASSES]
    data = json.load(open(tmp_path / 'b.json'))
    assert abs(sum(r['percent'] for r in data['classes']) - 100) < 1e-9
    assert data['threads'] >= 1 and data['attention'] == 'math'


def test_fused_attention_reports_one_matmul_class():
    model = DeiTScaled(arch=dict(depth=2, num_heads=2, head_dim=16, mlp_ratio=2.0), img_size=64)
    b = op_breakdown(model, torch.randn(1, 3, 64, 64), iters=2, warmup=1, attention='default')
    assert b.ms[OpClass.MSA_SOFTMAX] == 0 and b.ms[OpClass.MSA_MATMUL] > 0
    with pytest.raises(ValueError, match="attention='flash' is invalid"):
        op_breakdown(model, torch.randn(1, 3, 64, 64), attention='flash')
