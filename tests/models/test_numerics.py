"""Hardware-friendly numerics: base-2 softmax with the folded scale, ReLU, the online softmax, and
their cost (analytic = traced, class by class, multiply-adds and elementary functions)."""
import pytest
import torch
import torch.nn.functional as F

from vit_scaled.arch import DeiTArch, PiTArch, video_deit_arch
from vit_scaled.cost import OP_CLASSES, OpClass, analytic_cost, backbone_cost, traced_flops
from vit_scaled.cost.analytic import online_softmax_traffic
from vit_scaled.cost.traced import traced_functions
from vit_scaled.families import get_family
from vit_scaled.models import DeiTScaled, PiTScaled
from vit_scaled.models.softmax import LOG2E, attention_math, online_softmax, softmax2

SMALL = dict(depth=2, num_heads=2, head_dim=16, mlp_ratio=2.0)
PIT_SMALL = dict(depths=[1, 1, 1], base_heads=2, head_dim=8, mlp_ratio=2.0, patch_size=8, stride=4)


def test_base2_softmax_with_folded_scale_equals_base_e():
    s = torch.randn(4, 3, 50, 50) * 8
    assert (softmax2(s * LOG2E) - torch.softmax(s, -1)).abs().max() <= 1e-6
    q, k, v = torch.randn(3, 2, 3, 50, 16).unbind(0)
    mask = torch.zeros(50, 50).masked_fill_(torch.rand(50, 50) < 0.3, float('-inf'))
    mask.fill_diagonal_(0)
    for m in (None, mask, torch.randn(50, 50)):  # none, -inf mask, an additive bias
        base_e = attention_math(q, k, v, m)
        assert (attention_math(q, k, v, m, base2=True) - base_e).abs().max() <= 1e-6
        # PyTorch's kernel sums in another order: a few fp32 ulps of outputs of order 1 (1.07e-6
        # for base 2 with the additive bias on a 2026-12-03 machine; 1e-6 had passed before)
        ref = F.scaled_dot_product_attention(q, k, v, attn_mask=m)
        assert (base_e - ref).abs().max() <= 1e-6
        assert (attention_math(q, k, v, m, base2=True) - ref).abs().max() <= 2e-6


@pytest.mark.parametrize('chunk', [1, 7, 16, 64])
def test_online_softmax_equals_torch_softmax(chunk):
    x = torch.randn(5, 37) * 10
    x[0, :20] = float('-inf')   # a row whose first chunks are all masked
    x[1] = x[1] - 1e4           # large offsets: the running maximum keeps it finite
    assert (online_softmax(x, chunk=chunk) - torch.softmax(x, -1)).abs().max() <= 1e-6
    assert (online_softmax(x.t(), dim=0, chunk=chunk) - torch.softmax(x.t(), 0)).abs().max() <= 1e-6
    y = x * LOG2E
    assert (online_softmax(y, chunk=chunk, base2=True) - torch.softmax(x, -1)).abs().max() <= 1e-6
    with pytest.raises(ValueError, match='chunk=0'):
        online_softmax(x, chunk=0)


def _same_weights(model_cls, **kwargs):
    a = model_cls(**kwargs).eval()
    b = model_cls(**kwargs, softmax='exp2').eval()
    b.load_state_dict(a.state_dict())
    return a, b


@pytest.mark.parametrize('options', [
    dict(), dict(distilled=True),
    dict(with_cls_token=False, out_type='featmap', window_size=3, shift_window=True,
         use_rel_pos=True),
    dict(with_cls_token=False, out_type='featmap', window_size=(4, 3), pool_window=True)])
def test_base2_model_runs_base_e_weights_unchanged(options):
    a, b = _same_weights(DeiTScaled, arch=SMALL, img_size=(80, 112), **options)
    assert b.arch.softmax == 'exp2' and b.blocks[0].attn.softmax == 'exp2'
    for p in b.parameters():
        torch.nn.init.normal_(p, std=0.1)  # rel-pos tables are zero-initialised: make them count
    a.load_state_dict(b.state_dict())
    x = torch.randn(2, 3, 80, 112)
    with torch.no_grad():
        assert (a(x)[0] - b(x)[0]).abs().max() <= 1e-5
    a, b = _same_weights(PiTScaled, arch=PIT_SMALL, img_size=64)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert (a(x)[0] - b(x)[0]).abs().max() <= 1e-5


def test_relu_mlp_and_its_inplace_inference():
    m = DeiTScaled(arch=SMALL, img_size=32, act='relu').eval()
    mlp = m.blocks[0].mlp
    assert isinstance(mlp.act, torch.nn.ReLU) and m.arch.act == 'relu'
    x = torch.randn(3, 5, 32)
    with torch.no_grad():
        inplace = mlp(x)
    assert torch.equal(inplace, mlp.fc2(F.relu(mlp.fc1(x))))
    p = PiTScaled(arch=PIT_SMALL, img_size=64, act='relu')
    assert isinstance(p.transformers[2].blocks[0].mlp.act, torch.nn.ReLU)


def test_bad_numerics_name_the_field():
    with pytest.raises(ValueError, match=r"softmax='exp10' is invalid: choose one of"):
        DeiTArch(softmax='exp10')
    with pytest.raises(ValueError, match=r"act='swish' is invalid: choose one of"):
        PiTArch(act='swish')
    with pytest.raises(ValueError, match=r"act='tanh' is invalid"):
        DeiTScaled(arch=SMALL, img_size=32, act='tanh')
    with pytest.raises(ValueError, match='video model has the default numerics'):
        video_deit_arch(DeiTArch(softmax='exp2'))


@pytest.mark.parametrize('family,backbone', [
    ('deit', dict(arch=SMALL, img_size=32, softmax='exp2', act='relu')),
    ('pit', dict(arch=PIT_SMALL, img_size=64, softmax='exp2', act='relu'))])
def test_configs_carry_the_numerics(family, backbone):
    f = get_family(family)
    arch = f.from_cfg(backbone)
    assert (arch.softmax, arch.act) == ('exp2', 'relu')
    cfg = f.to_cfg(arch)
    assert cfg['softmax'] == 'exp2' and cfg['act'] == 'relu'
    assert f.build(arch).arch == arch  # the written arguments build the same architecture
    plain = f.to_cfg(arch.replace(softmax='exp', act='gelu'))
    assert 'softmax' not in plain and 'act' not in plain  # defaults leave configs as they were


@pytest.mark.parametrize('model', [
    lambda **k: DeiTScaled(arch=SMALL, img_size=(48, 32), **k),
    lambda **k: DeiTScaled(arch=SMALL, img_size=(48, 32), with_cls_token=False,
                           out_type='featmap', window_size=4, shift_window=True, **k),
    lambda **k: PiTScaled(arch=PIT_SMALL, img_size=64, **k)])
@pytest.mark.parametrize('numerics', [dict(), dict(softmax='exp2'), dict(act='relu'),
                                      dict(softmax='exp2', act='relu')])
def test_analytic_equals_traced_per_class_and_function(model, numerics):
    m = model(**numerics)
    x = torch.randn(2, 3, *m.arch.img_size)
    cost = backbone_cost(m, batch_size=2)
    assert {c: cost[c].flops for c in OP_CLASSES} == traced_flops(m, x)
    assert cost.functions == traced_functions(m, x)
    base, act = numerics.get('softmax', 'exp'), numerics.get('act', 'gelu')
    assert set(cost.functions[OpClass.MSA_SOFTMAX]) == {base}
    assert set(cost.functions[OpClass.MLP]) == {act}


def test_softmax_bytes_are_the_two_passes():
    a = DeiTArch(**SMALL, img_size=32, patch_size=8)
    N = 1 + 16
    rows = 3 * a.num_heads * N
    reads, writes = online_softmax_traffic(rows, N)
    assert (reads, writes) == (2 * rows * N + 2 * rows, rows * N + 2 * rows)
    cost = analytic_cost(a, batch_size=3)
    assert cost[OpClass.MSA_SOFTMAX].bytes == a.depth * (reads + writes) * 4
    # the numerics leave multiply-adds and bytes alone; only the functions differ
    other = analytic_cost(a.replace(softmax='exp2', act='relu'), batch_size=3)
    assert other.flops == cost.flops and other.bytes == cost.bytes
    assert other.functions[OpClass.MSA_SOFTMAX] == {'exp2': cost.functions[OpClass.MSA_SOFTMAX]['exp']}
