"""Fake quantization equals a reference that quantizes by hand, element by element, on the integer
grid, for each scheme; calibration, straight-through training and the model rewrite."""
import math

import pytest
import torch
from torch import nn

from vit_scaled.models import DeiTScaled, PiTScaled
from vit_scaled.models.quant import (ActQuant, AttentionQuant, QuantLinear, calibrate,
                                     parse_scheme, quantize_model, quantizers)

SMALL = dict(depth=2, num_heads=2, head_dim=16, mlp_ratio=2.0)


def _round(v: float) -> float:
    """Round half to even, in float32 like torch."""
    return float(torch.round(torch.tensor(v, dtype=torch.float32)))


def _by_hand(w: torch.Tensor, bits: int, group: str, V: int = 0, scale_bits: int = 0,
             amax=None):
    """Integers and scales of a 2-D tensor (rows = output channels, columns = reduction), one
    element at a time; ``amax``: an activation's calibrated range (per-tensor gamma)."""
    Q, f32 = 2 ** (bits - 1) - 1, lambda v: torch.tensor(v, dtype=torch.float32)
    tiny = torch.finfo(torch.float32).tiny  # an all-zero channel: any positive scale, q = 0
    rows, cols = w.shape
    q, s = torch.zeros_like(w), torch.zeros_like(w)
    for r in range(rows):
        row = w[r]
        if group == 'tensor':
            scales = [max(f32(float(w.abs().max() if amax is None else amax)) / Q, tiny)] * cols
        elif group == 'channel':
            scales = [max(row.abs().max() / Q, tiny)] * cols
        else:
            top = row.abs().max() if amax is None else f32(amax)
            gamma = max(top / (Q * (2 ** scale_bits - 1)), f32(tiny))
            scales = []
            for start in range(0, cols, V):
                vec = row[start:start + V]
                s_int = min(max(math.ceil(float(vec.abs().max() / (Q * gamma))), 1),
                            2 ** scale_bits - 1)
                scales += [s_int * gamma] * len(vec)
        for c in range(cols):
            s[r, c] = scales[c]
            q[r, c] = min(max(_round(float(w[r, c] / scales[c])), -Q), Q)
    return q, s


SCHEMES = ['int8-tensor', 'int4-tensor', 'int4-channel', 'int8-vsq16', 'int4-vsq16',
           'int4-vsq32', 'int4-vsq64', 'int4-vsq16-a8-s6', 'int3-vsq16-s2']


@pytest.mark.parametrize('name', SCHEMES)
def test_quantized_linear_equals_hand_quantization(name):
    scheme = parse_scheme(name)
    lin = nn.Linear(40, 6)          # 40: the last vector of 16 or 32 is short, of 64 partial
    with torch.no_grad():
        lin.weight[1] *= 10          # channels of different ranges
        lin.weight[2, :16] *= 0.01   # a vector much smaller than its channel
        lin.weight[3] = 0            # an all-zero channel
    ql = QuantLinear(lin, scheme)
    x = torch.randn(5, 40)
    x[0, 3] = 8.0                    # an outlier beyond the calibrated range of 4 below
    ql.input_quant.amax.fill_(4.0)
    group = dict(tensor='tensor', channel='channel', vector='vector')[scheme.granularity]
    qw, sw = _by_hand(lin.weight.detach(), scheme.w_bits, group, scheme.vector_size,
                      scheme.scale_bits)
    w_hat = ql.quantized_weight().detach()
    assert torch.equal(w_hat, qw * sw)
    # on the integer grid: the hand reference's integers, exactly, times its scales
    assert torch.equal(qw, qw.round()) and (w_hat / sw - qw).abs().max() < 1e-4
    Q = 2 ** (scheme.w_bits - 1) - 1
    assert qw.abs().max() <= Q
    # activations: per tensor for 'tensor' and 'channel', per vector under the range otherwise
    agroup = 'vector' if scheme.granularity == 'vector' else 'tensor'
    qx, sx = _by_hand(x, scheme.a_bits, agroup, scheme.vector_size, scheme.scale_bits, amax=4.0)
    assert torch.equal(ql.input_quant(x), qx * sx)
    with torch.no_grad():
        assert torch.equal(ql(x), nn.functional.linear(qx * sx, qw * sw, lin.bias))
    if scheme.granularity == 'vector':  # storage: data bits plus the scales' share
        assert scheme.bits_per_weight == scheme.w_bits + scheme.scale_bits / scheme.vector_size


def test_attention_operands_quantized_along_their_reduction_dims():
    scheme = parse_scheme('int4-vsq16')
    aq = AttentionQuant(scheme)
    for q in (aq.q, aq.k, aq.a, aq.v):
        q.amax.fill_(2.0)
    v = torch.randn(2, 3, 20, 8)       # (B, heads, keys, e): AV reduces over the keys, dim -2
    ref_q, ref_s = _by_hand(v.transpose(-1, -2).reshape(-1, 20), 4, 'vector', 16, 4, amax=2.0)
    assert torch.equal(aq.v(v), (ref_q * ref_s).reshape(2, 3, 8, 20).transpose(-1, -2))
    qk = torch.randn(2, 3, 5, 40)
    ref_q, ref_s = _by_hand(qk.reshape(-1, 40), 4, 'vector', 16, 4, amax=2.0)
    assert torch.equal(aq.q(qk), (ref_q * ref_s).reshape(qk.shape))


def test_calibration_max_and_percentile():
    batches = [torch.randn(64, 1000) for _ in range(3)]
    batches[1][0, 0] = 1000.0  # one outlier
    for calib, expect in (('max', 1000.0), ('pct', None)):
        q = ActQuant(parse_scheme(f'int8-tensor-{calib}'))
        calibrate(q, batches)
        if expect is not None:
            assert q.amax.item() == expect
        else:  # the 99.99th percentile of each batch, averaged: the outlier barely moves it
            ks = [math.ceil(64000 * 0.9999) for _ in batches]
            want = torch.stack([b.abs().flatten().kthvalue(k).values for b, k in zip(batches, ks)])
            assert q.amax.item() == pytest.approx(want.mean().item())
            assert q.amax.item() < 10
    with pytest.raises(RuntimeError, match='before calibration'):
        ActQuant(parse_scheme('int8-tensor'))(torch.randn(3))


@pytest.mark.parametrize('bad,says', [('int8', 'expected int<bits>'), ('fp8-tensor', 'invalid'),
                                      ('int1-tensor', 'w_bits=1'), ('int4-vsq0', 'vector')])
def test_bad_scheme_names_the_problem(bad, says):
    with pytest.raises(ValueError, match=says):
        parse_scheme(bad)


@pytest.mark.parametrize('softmax', ['exp', 'exp2'])
def test_quantized_model_runs_trains_and_loads(softmax):
    model = DeiTScaled(arch=SMALL, img_size=32, patch_size=8, softmax=softmax)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        ref = model.eval()(x)[0]
    quantize_model(model, parse_scheme('int8-vsq16'))
    assert quantizers(model) == (2 * 4, 2)  # qkv, proj, fc1, fc2 per block; each attention
    assert calibrate(model, [x[:2], x[2:]]) == 2
    with torch.no_grad():
        out = model(x)[0]
    assert 0 < (out - ref).abs().max() < 0.1 * ref.abs().max()  # close at 8 bits, not equal
    model.load_state_dict(state, strict=False)  # the float checkpoint's keys are unchanged
    model.train()
    (model(x)[0] * torch.randn(4, 32)).sum().backward()  # straight-through: gradients reach the float weights
    assert model.blocks[0].mlp.fc1.weight.grad.abs().sum() > 0
    pit = quantize_model(PiTScaled(arch=dict(depths=[1, 1, 1], base_heads=2, head_dim=8,
                                              mlp_ratio=2.0, patch_size=8, stride=4),
                                   img_size=32), parse_scheme('int4-channel'))
    assert quantizers(pit) == (12, 3)
