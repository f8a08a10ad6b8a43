"""A detector's multiply-adds: the traced count plus what traced counters cannot see, mmcv's
multi-scale deformable attention (MSDA), counted from its shape (docs/cost.md, "Detectors").

MSDA's four linear layers (value, sampling offsets, attention weights, output) and its softmax
run as ordinary operators and are traced. The sampling itself is invisible: on the CPU it runs
as ``grid_sample`` plus an element-wise product and sum, on a GPU as mmcv's own kernel, and no
counter has a formula for either. Each query, in each head, samples ``num_points`` locations on
each of ``num_levels`` maps; a bilinear sample of a ``head_dim`` vector weighs 4 neighbours (4
multiply-adds per channel) and adding it into the output with its attention weight is one more:

    MSDA sampling multiply-adds = 5 x queries x num_heads x num_levels x num_points x head_dim
"""
from dataclasses import dataclass
from typing import Dict, List, Optional

import torch
from torch import nn

from .classes import OpClass
from .traced import traced_flops

BILINEAR_MACS = 4     # one multiply-add per neighbour of a bilinear sample, per channel
AGGREGATE_MACS = 1    # the attention-weighted sum, per sampled point and channel


def msda_sampling_flops(queries: int, num_heads: int, num_levels: int, num_points: int,
                        head_dim: int) -> int:
    """Multiply-adds of MSDA's sampling and weighted sum (the part traced counters miss)."""
    return (BILINEAR_MACS + AGGREGATE_MACS) * queries * num_heads * num_levels * num_points * head_dim


def _is_msda(m: nn.Module) -> bool:
    return all(hasattr(m, a) for a in ('num_levels', 'num_points', 'num_heads', 'sampling_offsets'))


@dataclass
class DetectorFlops:
    traced: Dict[OpClass, int]     # every traced operator of the whole model
    msda: int                      # the deformable sampling, analytic
    msda_calls: List[tuple]        # (module name, queries, heads, levels, points, head dim)
    backbone: Optional[int]        # traced multiply-adds of the backbone alone

    @property
    def total(self) -> int:
        return sum(self.traced.values()) + self.msda

    def report(self) -> str:
        lines = [f'deformable attention sampling (analytic): {self.msda / 1e9:.3f}G over '
                 f'{len(self.msda_calls)} calls; 5 x queries x heads x levels x points x head dim']
        lines.append(f'detector total (traced + deformable sampling): {self.total / 1e9:.3f}G')
        if self.backbone is not None:
            lines.append(f'backbone: {self.backbone / 1e9:.3f}G '
                         f'({100 * self.backbone / self.total:.1f}% of the detector)')
        return '\n'.join(lines)

    def to_dict(self) -> dict:
        return dict(total=self.total, msda_sampling=self.msda, backbone=self.backbone,
                    msda_calls=[list(c) for c in self.msda_calls])


def detector_flops(model: nn.Module, x: torch.Tensor,
                   kwargs: Optional[dict] = None) -> Optional[DetectorFlops]:
    """The detector's count on ``model(x, **kwargs)``, or ``None`` for a model without
    deformable attention."""
    modules = [(n, m) for n, m in model.named_modules() if _is_msda(m)]
    if not modules:
        return None
    calls = []

    def hook(name):
        def record(m, args, out):
            # the output has the query's shape: (batch, queries, C) or (queries, batch, C)
            queries = out.numel() // m.embed_dims
            calls.append((name, queries, m.num_heads, m.num_levels, m.num_points,
                          m.embed_dims // m.num_heads))
        return record

    handles = [m.register_forward_hook(hook(n)) for n, m in modules]
    try:
        counted = traced_flops(model, x, **(kwargs or {}))
    finally:
        for h in handles:
            h.remove()
    backbone = getattr(model, 'backbone', None)
    backbone_flops = sum(traced_flops(backbone, x).values()) if isinstance(backbone, nn.Module) else None
    msda = sum(msda_sampling_flops(*c[1:]) for c in calls)
    return DetectorFlops(counted, msda, calls, backbone_flops)
