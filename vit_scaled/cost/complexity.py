"""What ``get_flops`` reports for any built model: its traced multiply-adds, its parameter count,
and the per-class table, with the analytic model's columns when the backbone's architecture is
known (and a roofline estimate on a device model when asked)."""
import math
from dataclasses import dataclass
from typing import Dict, Optional

import torch
from torch import nn

from ..families import family_of
from .analytic import Cost, backbone_cost, find_arch, find_backbone
from .classes import OP_CLASSES, OpClass
from .traced import traced_flops


@dataclass
class Complexity:
    input_shape: tuple
    params: int                       # of the whole module
    traced: Dict[OpClass, int]        # multiply-adds of the whole module, per class
    analytic: Optional[Cost]          # of the backbone (and a classifier's head), if known
    device_ms: Optional[Dict[OpClass, float]] = None
    device: str = ''
    backbone: str = ''                # the module the analytic columns cover

    @property
    def flops(self) -> int:
        return sum(self.traced.values())

    def table(self) -> str:
        head = f'{"operator class":<24}{"GFLOPs":>9}'
        if self.analytic is not None:
            head += f'{"analytic":>10}{"params M":>10}{"act. MB":>10}{"moved MB":>10}{"kernels":>9}'
        if self.device_ms is not None:
            head += f'{self.device + " ms":>16}'
        lines = [head]
        for c in OP_CLASSES:
            line = f'{c.value:<24}{self.traced[c] / 1e9:>9.3f}'
            if self.analytic is not None:
                a = self.analytic[c]
                line += (f'{a.flops / 1e9:>10.3f}{a.params / 1e6:>10.3f}{a.activations / 2 ** 20:>10.2f}'
                         f'{a.bytes / 2 ** 20:>10.2f}{a.kernels:>9d}')
            if self.device_ms is not None:
                line += f'{self.device_ms[c]:>16.3f}'
            lines.append(line)
        total = f'{"total":<24}{self.flops / 1e9:>9.3f}'
        if self.analytic is not None:
            a = self.analytic
            total += (f'{a.flops / 1e9:>10.3f}{a.params / 1e6:>10.3f}{a.activations / 2 ** 20:>10.2f}'
                      f'{a.bytes / 2 ** 20:>10.2f}{a.kernels:>9d}')
        if self.device_ms is not None:
            total += f'{sum(self.device_ms.values()):>16.3f}'
        lines.append(total)
        if self.analytic is not None and self.analytic.flops != self.flops:
            lines.append(f'(the analytic columns cover {self.backbone} and a linear head only; '
                         'the rest of the model is in the traced column)')
        return '\n'.join(lines)

    def to_dict(self) -> dict:
        return {'input_shape': list(self.input_shape), 'flops': self.flops, 'params': self.params,
                'traced': {c.value: v for c, v in self.traced.items()},
                'analytic': self.analytic.to_dict() if self.analytic is not None else None,
                'device': self.device or None,
                'device_ms': ({c.value: v for c, v in self.device_ms.items()}
                              if self.device_ms is not None else None)}


def head_classes(model: nn.Module) -> int:
    """Classes of a linear classification head around the backbone (``ViTClassifier``), or 0."""
    head = getattr(model, 'head', None)
    return head.out_features if isinstance(head, nn.Linear) else 0


def model_complexity(model: nn.Module, x: torch.Tensor, kwargs: Optional[dict] = None,
                     device_model=None, precision: str = 'fp32') -> Complexity:
    from .devices import PRECISION_BYTES
    traced = traced_flops(model, x, **(kwargs or {}))
    params = sum(p.numel() for p in model.parameters())
    # the backbone sees every leading dimension as a batch: (N, segments, C, H, W) for a 2-D video
    # model, (N, clips, C, T, H, W) for a clip model whose own input is (B, C, T, H, W)
    arch = find_arch(model)
    own = family_of(arch).example_input(arch, 1).dim() - 1 if arch is not None else 3
    images = math.prod(x.shape[:-own])
    analytic = backbone_cost(model, images, tuple(x.shape[-2:]), head_classes(model),
                             PRECISION_BYTES[precision])
    device_ms = None
    if analytic is not None and device_model is not None:
        device_ms = {c: 1000 * s for c, s in device_model.class_latency(analytic, precision).items()}
    backbone = find_backbone(model)
    return Complexity(tuple(x.shape), params, traced, analytic, device_ms,
                      device_model.name if device_model is not None else '',
                      type(backbone).__name__ if backbone is not None else '')
