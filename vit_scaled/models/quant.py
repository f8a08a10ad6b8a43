"""Fake quantization: what a model loses at low precision, simulated in floating point.

Every linear layer of the transformer blocks (``qkv``, ``proj``, ``fc1``, ``fc2``) has its
weight and its input quantized, and so have both operands of the attention products (q and k of
QK^T along the head dim; the probabilities and v of AV along the keys). The patch embedding,
PiT's pooling layers and the classifier head stay in floating point, as is usual.

Symmetric, signed, narrow-range integers: ``q = clamp(round(x / s), -Q, Q)``, ``Q = 2^(b-1) - 1``,
and the model computes with ``q * s``. Granularities (``s`` shared by):
- ``tensor``: the whole tensor (weights: their max; activations: a calibrated range);
- ``channel``: each output channel of a weight (the rows of ``W``); activations per tensor (a
  per-channel activation scale along the reduction dimension cannot leave the integer GEMM);
- ``vector`` (VS-Quant, Dai et al., MLSys 2021): each vector of ``V`` consecutive elements along
  the reduction dimension, with two-level scales: an unsigned integer scale of ``scale_bits``
  per vector under one floating-point scale per output channel (weights) or per tensor
  (activations, calibrated), ``s = s_int * gamma`` with ``gamma = amax / (Q * S)``,
  ``S = 2^scale_bits - 1`` and ``s_int = clamp(ceil(amax_v / (Q * gamma)), 1, S)``: the
  smallest integer scale that holds the vector's maximum (clamped: a vector beyond the
  calibrated range is clipped). A vector shorter than ``V`` at the end is zero-padded.

Activation ranges come from ``calibrate`` on a few batches: ``max`` (the largest magnitude
seen) or ``percentile`` (the mean over batches of the 99.99th percentile of |x|, robust to rare
outliers). Weights are quantized from their own values. In training the rounding is
straight-through (the gradient passes as if it were the identity).
"""
import math
import re
from dataclasses import dataclass
from typing import Iterable, Tuple

import torch
import torch.nn.functional as F
from torch import nn

GRANULARITIES = ('tensor', 'channel', 'vector')
CALIBRATIONS = ('max', 'percentile')


@dataclass(frozen=True)
class QuantScheme:
    """Bit widths and granularity of one simulated deployment (``parse_scheme`` reads names)."""
    name: str
    w_bits: int = 8
    a_bits: int = 8
    granularity: str = 'tensor'
    vector_size: int = 0
    scale_bits: int = 0
    calibration: str = 'max'
    percentile: float = 99.99

    def __post_init__(self):
        for field in ('w_bits', 'a_bits'):
            v = getattr(self, field)
            if isinstance(v, bool) or not isinstance(v, int) or not 2 <= v <= 16:
                raise ValueError(f'{field}={v!r} is invalid: expected an integer from 2 to 16')
        if self.granularity not in GRANULARITIES:
            raise ValueError(f'granularity={self.granularity!r} is invalid: choose one of '
                             f'{GRANULARITIES}')
        if self.granularity == 'vector' and (self.vector_size < 1 or self.scale_bits < 1):
            raise ValueError(f'vector_size={self.vector_size!r}, scale_bits={self.scale_bits!r}: '
                             'vector scales need both positive')
        if self.calibration not in CALIBRATIONS:
            raise ValueError(f'calibration={self.calibration!r} is invalid: choose one of '
                             f'{CALIBRATIONS}')

    @property
    def bits_per_weight(self) -> float:
        """Storage per weight element, the per-vector integer scales included (VS-Quant's 4.25
        bits for 4-bit data with 4-bit scales per 16)."""
        extra = self.scale_bits / self.vector_size if self.granularity == 'vector' else 0
        return self.w_bits + extra


_SCHEME = re.compile(r'^int(\d+)-(tensor|channel|vsq(\d+))(?:-a(\d+))?(?:-s(\d+))?'
                     r'(?:-(max|pct))?$')
SCHEME_HELP = ('int<bits>-<tensor|channel|vsq<V>>[-a<activation bits>][-s<vector scale bits>]'
               '[-max|-pct], e.g. int8-tensor, int4-channel, int4-vsq16, int4-vsq64-a8-s6-pct')


def parse_scheme(name: str) -> QuantScheme:
    """``int4-vsq16`` -> 4-bit weights and activations, vectors of 16 with 4-bit scales, max
    calibration. Activation bits default to the weight bits, vector scale bits too."""
    m = _SCHEME.match(name)
    if not m:
        raise ValueError(f'scheme {name!r} is invalid: expected {SCHEME_HELP}')
    bits = int(m[1])
    vector = m[3] is not None
    return QuantScheme(name, w_bits=bits, a_bits=int(m[4]) if m[4] else bits,
                       granularity='vector' if vector else m[2],
                       vector_size=int(m[3]) if vector else 0,
                       scale_bits=(int(m[5]) if m[5] else bits) if vector else 0,
                       calibration='percentile' if m[6] == 'pct' else 'max')


# -- the arithmetic ------------------------------------------------------------------------------
def qmax(bits: int) -> int:
    return 2 ** (bits - 1) - 1


def _vectors(x: torch.Tensor, axis: int, size: int) -> torch.Tensor:
    """x with ``axis`` moved last and split into (..., n, size) vectors, zero-padded."""
    x = x.movedim(axis, -1)
    pad = -x.shape[-1] % size
    if pad:
        x = F.pad(x, (0, pad))
    return x.reshape(*x.shape[:-1], -1, size)


def _unvectors(v: torch.Tensor, like: torch.Tensor, axis: int) -> torch.Tensor:
    n = like.shape[axis]
    return v.flatten(-2)[..., :n].movedim(-1, axis)


def vector_scales(x: torch.Tensor, bits: int, axis: int, size: int, scale_bits: int,
                  gamma: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """(integer per-vector scales (..., n, 1), the scale of each element, shaped as ``x``) for
    vectors of ``size`` along ``axis`` under the floating-point scale ``gamma`` (broadcastable
    to the vectors' (..., n, 1))."""
    v = _vectors(x, axis, size)
    amax_v = v.abs().amax(-1, keepdim=True)
    s_int = torch.clamp(torch.ceil(amax_v / (qmax(bits) * gamma)), 1, 2 ** scale_bits - 1)
    scale = (s_int * gamma).expand_as(v)
    return s_int, _unvectors(scale, x, axis)


def quantize(x: torch.Tensor, scale: torch.Tensor, bits: int) -> torch.Tensor:
    """The integers (as floats) of ``x`` at ``scale``: round to nearest even, clamp to +-Q."""
    q = qmax(bits)
    return torch.clamp(torch.round(x / scale), -q, q)


def weight_scale(w: torch.Tensor, scheme: QuantScheme, axis: int = 1) -> torch.Tensor:
    """The scale of each element of a weight whose reduction dimension is ``axis`` (a linear
    layer's ``(out, in)`` weight: 1); the other dimensions are its output channels."""
    b = scheme.w_bits
    tiny = torch.finfo(w.dtype).tiny  # an all-zero tensor or channel: any scale, q = 0
    if scheme.granularity == 'tensor':
        return (w.abs().amax() / qmax(b)).clamp_min(tiny).expand_as(w)
    if scheme.granularity == 'channel':
        return (w.abs().amax(axis, keepdim=True) / qmax(b)).clamp_min(tiny).expand_as(w)
    S = 2 ** scheme.scale_bits - 1
    amax_c = w.abs().amax(axis, keepdim=True).movedim(axis, -1)   # (..., 1) per channel
    gamma = (amax_c / (qmax(b) * S)).clamp_min(tiny)[..., None]  # (..., 1, 1) over its vectors
    return vector_scales(w, b, axis, scheme.vector_size, scheme.scale_bits, gamma)[1]


def activation_scale(x: torch.Tensor, amax: torch.Tensor, scheme: QuantScheme,
                     axis: int) -> torch.Tensor:
    """The scale of each element of an activation with calibrated range ``amax``: one per
    tensor, or per vector along the reduction ``axis`` under a per-tensor ``gamma``."""
    b = scheme.a_bits
    tiny = torch.finfo(x.dtype).tiny
    if scheme.granularity != 'vector':
        return (amax / qmax(b)).clamp_min(tiny).expand_as(x)
    gamma = (amax / (qmax(b) * (2 ** scheme.scale_bits - 1))).clamp_min(tiny)
    return vector_scales(x, b, axis, scheme.vector_size, scheme.scale_bits, gamma)[1]


def _straight_through(x: torch.Tensor, xq: torch.Tensor) -> torch.Tensor:
    return x + (xq - x).detach() if x.requires_grad else xq


# -- modules -------------------------------------------------------------------------------------
class ActQuant(nn.Module):
    """Fake quantization of an activation along its reduction ``axis``, after calibration."""

    def __init__(self, scheme: QuantScheme, axis: int = -1):
        super().__init__()
        self.scheme, self.axis = scheme, axis
        self.register_buffer('amax', torch.tensor(float('nan')))
        self.observing = False
        self._seen = []

    def extra_repr(self) -> str:
        return f'{self.scheme.name}, axis={self.axis}'

    def observe(self, x: torch.Tensor):
        a = x.detach().abs().flatten().float()
        if self.scheme.calibration == 'max':
            self._seen.append(a.max())
        else:  # the k-th smallest |x|: torch.quantile refuses tensors of over 16M elements
            k = max(1, min(a.numel(), math.ceil(a.numel() * self.scheme.percentile / 100)))
            self._seen.append(a.kthvalue(k).values)

    def finish(self):
        if not self._seen:
            raise RuntimeError('calibration saw no batch through this quantizer')
        seen = torch.stack(self._seen)
        self.amax.fill_(seen.max() if self.scheme.calibration == 'max' else seen.mean())
        self._seen = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.observing:
            self.observe(x)
            return x
        if torch.isnan(self.amax):
            raise RuntimeError('an activation quantizer was used before calibration: run '
                               'vit_scaled.models.quant.calibrate(model, batches) first')
        scale = activation_scale(x, self.amax.to(x.dtype), self.scheme, self.axis)
        return _straight_through(x, quantize(x, scale, self.scheme.a_bits) * scale)


class QuantLinear(nn.Linear):
    """``nn.Linear`` on fake-quantized input and weight (same parameter names: checkpoints load)."""

    def __init__(self, linear: nn.Linear, scheme: QuantScheme):
        super().__init__(linear.in_features, linear.out_features, linear.bias is not None,
                         device=linear.weight.device, dtype=linear.weight.dtype)
        self.weight, self.bias = linear.weight, linear.bias
        self.scheme = scheme
        self.input_quant = ActQuant(scheme, axis=-1)

    def quantized_weight(self) -> torch.Tensor:
        scale = weight_scale(self.weight, self.scheme)
        return _straight_through(self.weight, quantize(self.weight, scale, self.scheme.w_bits) * scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(self.input_quant(x), self.quantized_weight(), self.bias)


class AttentionQuant(nn.Module):
    """The operands of QK^T (q, k: along the head dim) and AV (``a`` the probabilities: along
    the keys; v: along the keys, its dim -2)."""

    def __init__(self, scheme: QuantScheme):
        super().__init__()
        self.q, self.k = ActQuant(scheme, -1), ActQuant(scheme, -1)
        self.a, self.v = ActQuant(scheme, -1), ActQuant(scheme, -2)


def quantize_model(model: nn.Module, scheme: QuantScheme) -> nn.Module:
    """Fake-quantize ``model`` in place: every linear layer inside a transformer ``Block`` and
    every ``Attention``'s products. Then ``calibrate`` it."""
    from .attention import Attention
    from .layers import Block
    for block in [m for m in model.modules() if isinstance(m, Block)]:
        for parent in list(block.modules()):
            for name, child in list(parent.named_children()):
                if type(child) is nn.Linear:
                    setattr(parent, name, QuantLinear(child, scheme))
            if isinstance(parent, Attention):
                parent.quant = AttentionQuant(scheme)
    return model


@torch.no_grad()
def calibrate(model: nn.Module, batches: Iterable, forward=None) -> int:
    """Set every activation range from ``batches`` (inputs of ``model``, or whatever ``forward``
    takes); returns the number of batches seen."""
    quants = [m for m in model.modules() if isinstance(m, ActQuant)]
    was_training = model.training
    model.eval()
    for q in quants:
        q.observing = True
    n = 0
    try:
        for batch in batches:
            (forward or model)(batch)
            n += 1
    finally:
        for q in quants:
            q.observing = False
        model.train(was_training)
    for q in quants:
        q.finish()
    return n


def quantizers(model: nn.Module) -> Tuple[int, int]:
    """(quantized linear layers, quantized attention modules) of a model."""
    linears = sum(isinstance(m, QuantLinear) for m in model.modules())
    attn = sum(isinstance(m, AttentionQuant) for m in model.modules())
    return linears, attn
