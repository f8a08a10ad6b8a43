"""Per-operator-class breakdown of measured time with ``torch.profiler``.

Each module call is a profiler range (``ModuleScopes(record=True)``), so every operator event
knows the modules it ran in. An operator's *self* time (its time minus its children's) goes to
the class of the outermost operator between it and its module, so the copies inside a
``matmul`` count as MSA-MatMul, not as reshapes, and no time is counted twice. The self time of
the module ranges themselves is Python and hook overhead between operators: reported apart as
``framework_ms``, outside the shares.

Attention runs through PyTorch's math backend by default, where QK^T, softmax and AV are separate
operators; the fused kernel (``attention='default'``) is faster but reports all three as
MSA-MatMul.
"""
import contextlib
import csv
import json
from dataclasses import dataclass, field
from typing import Dict, Optional

import torch
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.profiler import ProfilerActivity, profile

from ..fileio import atomic_open
from .classes import CONTAINERS, OP_CLASSES, OpClass, classify, op_name
from .measure import default_threads, time_calls, torch_threads
from .scopes import SCOPE_PREFIX, ModuleScopes

ATTENTION_MODES = ('math', 'default')


@dataclass
class Breakdown:
    ms: Dict[OpClass, float]      # mean self time per forward pass
    framework_ms: float           # module-range self time: Python between operators
    wall_ms: float                # mean wall time per profiled forward pass
    device: str
    batch_size: int
    threads: int
    iters: int
    attention: str
    meta: dict = field(default_factory=dict)

    @property
    def total_ms(self) -> float:
        return sum(self.ms.values())

    @property
    def shares(self) -> Dict[OpClass, float]:
        """Percent of operator time per class; they sum to 100."""
        total = self.total_ms or 1.0
        return {c: 100 * v / total for c, v in self.ms.items()}

    def rows(self):
        shares = self.shares
        return [{'class': c.value, 'ms': self.ms[c], 'percent': shares[c]} for c in OP_CLASSES]

    def table(self) -> str:
        lines = [f'{"operator class":<24}{"ms":>10}{"%":>8}']
        lines += [f'{r["class"]:<24}{r["ms"]:>10.3f}{r["percent"]:>8.1f}' for r in self.rows()]
        lines.append(f'{"total":<24}{self.total_ms:>10.3f}{100.0:>8.1f}')
        lines.append(f'(self time per forward on {self.device}, batch {self.batch_size}, '
                     f'{self.threads} threads, {self.iters} profiled passes, attention={self.attention}; '
                     f'framework overhead outside operators {self.framework_ms:.3f} ms, '
                     f'wall {self.wall_ms:.3f} ms under the profiler)')
        return '\n'.join(lines)

    def to_dict(self) -> dict:
        return {'device': self.device, 'batch_size': self.batch_size, 'threads': self.threads,
                'iters': self.iters, 'attention': self.attention, 'total_ms': self.total_ms,
                'framework_ms': self.framework_ms, 'wall_ms': self.wall_ms, 'meta': self.meta,
                'classes': self.rows()}

    def save(self, csv_path: Optional[str] = None, json_path: Optional[str] = None):
        if csv_path:
            with atomic_open(csv_path, 'w', newline='') as f:
                w = csv.DictWriter(f, fieldnames=['class', 'ms', 'percent'])
                w.writeheader()
                w.writerows(self.rows())
        if json_path:
            with atomic_open(json_path, 'w') as f:
                json.dump(self.to_dict(), f, indent=2)


def _event_class(event, labels) -> Optional[OpClass]:
    """Class of an operator event, or None for events outside the model's modules."""
    chain = []  # operator names from the event up to its module range, innermost first
    p = event
    while p is not None and not p.name.startswith(SCOPE_PREFIX):
        chain.append(p.name)
        p = p.cpu_parent
    if p is None:
        return None
    kinds = labels.get(p.name, ())
    decisive = next((n for n in reversed(chain) if op_name(n) not in CONTAINERS), chain[0])
    return classify(decisive, kinds)


@torch.no_grad()
def op_breakdown(model: nn.Module, x: torch.Tensor, kwargs: Optional[dict] = None, *,
                 iters: int = 10, warmup: int = 3, threads: Optional[int] = None,
                 attention: str = 'math') -> Breakdown:
    """Profile ``iters`` forward passes of ``model(x, **kwargs)`` and split their time by class."""
    if attention not in ATTENTION_MODES:
        raise ValueError(f'attention={attention!r} is invalid: choose one of {ATTENTION_MODES}')
    kwargs = kwargs or {}
    threads = threads or default_threads()
    model.eval()
    on_gpu = x.is_cuda
    sync = torch.cuda.synchronize if on_gpu else (lambda: None)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if on_gpu else [])
    backend = sdpa_kernel(SDPBackend.MATH) if attention == 'math' else contextlib.nullcontext()
    with torch_threads(threads), backend:
        for _ in range(warmup):
            model(x, **kwargs)
        sync()
        with ModuleScopes(model, record=True) as scopes, profile(activities=activities) as prof:
            (calls, ), _ = time_calls(lambda: model(x, **kwargs), sync, warmup=0, rounds=1,
                                      iters=iters)
    wall = sum(calls) / iters
    us = dict.fromkeys(OP_CLASSES, 0.0)
    framework = 0.0
    for e in prof.events():
        self_us = e.self_device_time_total if on_gpu else e.self_cpu_time_total
        if e.name.startswith(SCOPE_PREFIX):
            framework += 0.0 if on_gpu else self_us
            continue
        c = _event_class(e, scopes.labels)
        if c is not None:
            us[c] += self_us
    return Breakdown({c: v / iters / 1000 for c, v in us.items()}, framework / iters / 1000, wall,
                     'cuda' if on_gpu else 'cpu', x.shape[0], threads, iters, attention)
