"""Softmax numerics: base-2 attention with the folded scale, and the two-pass online softmax.

Base 2: ``exp(s) = 2 ** (s * log2(e))``, so a softmax over scores ``q . k * scale`` equals one in
base 2 over ``q . k * (scale * log2(e))``. Folding ``log2(e)`` into the query scaling (one
multiply per query element, already paid for the ``1 / sqrt(e)`` scaling) leaves the softmax a
power of two per score, which hardware computes with a shift and a small table instead of an
exponential; a model trained with base e runs with base 2 unchanged (equal to rounding error).

The online softmax (Milakov and Gimelshein, 2018; NVIDIA's Softermax) streams a row twice:
pass 1 keeps a running maximum ``m`` and the sum ``d`` of ``exp(x - m)``, rescaling ``d`` by
``exp(m_old - m_new)`` whenever the maximum grows; pass 2 takes the reciprocal ``1 / d`` once per
row and scales ``exp(x - m)``. ``online_softmax`` is the reference (vectorised over rows, a loop
over chunks of the row, as a vector unit would stream it); the analytic cost model charges
MSA-Softmax the elements its passes read and write (``cost.analytic.online_softmax_traffic``).
"""
import math
from typing import Optional

import torch

LOG2E = math.log2(math.e)


def online_softmax(x: torch.Tensor, dim: int = -1, chunk: int = 16, base2: bool = False
                   ) -> torch.Tensor:
    """Softmax of ``x`` along ``dim`` by the two-pass online form, ``chunk`` elements at a time.
    ``base2``: ``x`` is already in base 2 (scores times log2(e)); powers of two replace ``exp``."""
    if chunk <= 0:
        raise ValueError(f'chunk={chunk!r} is invalid: expected a positive integer')
    power = torch.exp2 if base2 else torch.exp
    x = x.movedim(dim, -1)
    n = x.shape[-1]
    m = torch.full(x.shape[:-1] + (1,), float('-inf'), dtype=x.dtype, device=x.device)
    d = torch.zeros_like(m)
    for i in range(0, n, chunk):  # pass 1: running maximum and rescaled sum
        c = x[..., i:i + chunk]
        m_new = torch.maximum(m, c.amax(-1, keepdim=True))
        # while a row is all -inf so far, shift by 0 (not -inf - -inf = nan): its terms are 0
        shift = torch.where(torch.isinf(m_new), torch.zeros_like(m_new), m_new)
        d = d * power(m - shift) + power(c - shift).sum(-1, keepdim=True)
        m = m_new
    r = 1.0 / d                   # pass 2: one reciprocal per row, then a multiply per element
    out = torch.cat([power(x[..., i:i + chunk] - m) * r for i in range(0, n, chunk)], dim=-1)
    return out.movedim(-1, dim)


def softmax2(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Softmax in base 2 of base-2 scores: ``2 ** (x - max) / sum``."""
    p = torch.exp2(x - x.amax(dim, keepdim=True))
    return p / p.sum(dim, keepdim=True)


def attention_math(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                   mask: Optional[torch.Tensor] = None, base2: bool = False,
                   dropout_p: float = 0., quant=None) -> torch.Tensor:
    """Scaled dot-product attention as separate operators (QK^T, softmax, AV), for the numerics
    that the fused kernel cannot do: base 2 (``base2``: log2(e) folded into the query scaling
    and into the additive ``mask``, which is in base e) and fake-quantized products (``quant``:
    a ``models.quant.AttentionQuant`` with quantizers ``q``, ``k``, ``a`` (probabilities), ``v``)."""
    scale = q.shape[-1] ** -0.5 * (LOG2E if base2 else 1.0)
    q = q * scale
    if quant is not None:
        q, k = quant.q(q), quant.k(k)
    s = q @ k.transpose(-2, -1)
    if mask is not None:
        s = s + (mask * LOG2E if base2 else mask)
    a = softmax2(s) if base2 else torch.softmax(s, dim=-1)
    if dropout_p:
        a = torch.nn.functional.dropout(a, dropout_p)
    if quant is not None:
        a, v = quant.a(a), quant.v(v)
    return a @ v
