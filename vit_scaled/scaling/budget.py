"""Budgets (``flops=1.25G``, ``params=5M``, ``latency=20ms``) and the cost each one is checked with.

Every cost kind is a callable ``arch -> float`` in the budget's unit: multiply-adds ("FLOPs", as the
field counts them), parameters, or milliseconds per batch. Latency comes from a device model's
roofline estimate, a fitted latency predictor, or a measurement on this machine (``cost.measure``:
drift-corrected, paired with the base); only the last is ``expensive`` (the scaler then measures
few candidates: bracket, bisect, refine).
"""
import re
from dataclasses import dataclass
from typing import Callable, Dict, Optional

from ..cost.analytic import analytic_cost
from ..cost.measure import DriftCorrected, measured_latency, paired_ratio

KINDS = ('flops', 'params', 'latency')
MEASURED = 'measured'  # the --device name of "measure it on this machine"
_SUFFIX = {'': 1, 'K': 1e3, 'M': 1e6, 'G': 1e9, 'T': 1e12}
_TIME = {'ms': 1.0, 's': 1e3, 'us': 1e-3}


class BudgetError(ValueError):
    """A budget that cannot be parsed or reached; the message says why and what would work."""


@dataclass(frozen=True)
class Budget:
    kind: str
    value: float  # multiply-adds, parameters, or milliseconds

    def __str__(self) -> str:
        return f'{self.kind}={format_cost(self.kind, self.value)}'


def split_relative(text: str):
    """``(kind, ratio)`` for a budget relative to the base model (``flops=0.5x``), else None."""
    m = re.fullmatch(r'\s*(\w+)\s*=\s*([0-9.eE+-]+)\s*x\s*', text or '')
    if not m or m.group(1).lower() not in KINDS:
        return None
    try:
        ratio = float(m.group(2))
    except ValueError:
        return None
    if not ratio > 0:
        raise BudgetError(f'budget {text!r} must be positive')
    return m.group(1).lower(), ratio


def resolve_budget(text: str, base, cost: Optional['CostFn'] = None, **cost_kwargs):
    """``(budget, cost)``: a budget string, absolute or relative to ``base`` (``latency=0.5x``),
    and the cost that checks it (built by ``make_cost`` unless given)."""
    rel = split_relative(text)
    absolute = None if rel else parse_budget(text)
    kind = rel[0] if rel else absolute.kind
    cost = cost or make_cost(kind, **cost_kwargs)
    return (Budget(kind, rel[1] * cost(base)) if rel else absolute), cost


def parse_budget(text: str) -> Budget:
    """``flops=1.25G``, ``params=5M``, ``latency=20ms`` (``s``, ``us`` too)."""
    m = re.fullmatch(r'\s*(\w+)\s*=\s*([0-9.eE+-]+)\s*([A-Za-z]*)\s*', text or '')
    if not m or m.group(1).lower() not in KINDS:
        raise BudgetError(f'budget {text!r} is malformed: expected KIND=VALUE with KIND one of '
                          f'{KINDS}, e.g. flops=1.25G, params=5M, latency=20ms (or relative to '
                          'the base model: flops=0.5x)')
    kind, number, unit = m.group(1).lower(), m.group(2), m.group(3)
    try:
        value = float(number)
    except ValueError:
        raise BudgetError(f'budget {text!r}: {number!r} is not a number') from None
    if kind == 'latency':
        if unit.lower() not in _TIME:
            raise BudgetError(f'budget {text!r}: a latency needs a unit, one of {list(_TIME)}')
        value *= _TIME[unit.lower()]
    else:
        if unit.upper() not in _SUFFIX:
            raise BudgetError(f'budget {text!r}: unknown suffix {unit!r}; use one of K, M, G, T')
        value *= _SUFFIX[unit.upper()]
    if not value > 0:
        raise BudgetError(f'budget {text!r} must be positive')
    return Budget(kind, value)


def format_cost(kind: str, value: float) -> str:
    if kind == 'latency':
        return f'{value:.3g}ms' if value < 100 else f'{value:.0f}ms'
    if abs(value) >= 1e15:
        return f'{value:.3g}'
    for suffix in ('T', 'G', 'M', 'K'):
        if abs(value) >= _SUFFIX[suffix]:
            return f'{value / _SUFFIX[suffix]:.4g}{suffix}'
    return f'{value:.4g}'


class CostFn:
    """``arch -> cost`` with a cache (architectures are frozen values) and a description."""

    def __init__(self, kind: str, fn: Callable, label: str, expensive: bool = False):
        self.kind, self.fn, self.label, self.expensive = kind, fn, label, expensive
        self.cache: Dict[object, float] = {}

    def __call__(self, arch) -> float:
        if arch not in self.cache:
            self.cache[arch] = float(self.fn(arch))
        return self.cache[arch]

    def again(self, arch) -> float:
        """The cost computed afresh (a measurement taken again), not the cached figure."""
        return float(self.fn(arch))

    def spread(self, arch) -> Optional[float]:
        """How much the rounds of a measured cost disagreed (None for computed costs)."""
        return getattr(self.fn, 'spreads', {}).get(arch)

    def __repr__(self) -> str:
        return f'CostFn({self.label})'


def make_cost(kind: str, device: Optional[str] = None, predictor: Optional[str] = None,
              num_classes: int = 0, batch_size: int = 1, threads: Optional[int] = None,
              rounds: int = 5, clock: str = 'wall', backend: str = 'torch',
              precision: str = 'fp32') -> CostFn:
    """The cost of a budget kind. Latency: ``predictor`` (a JSON file from
    ``fit_predictor.py``), else ``device``: a device model's name (``v100``, ``jetson-tx2``,
    ``pixel3-cpu``, ``local``) or ``measured`` (the default) to measure on this machine, on the
    deployment path ``backend`` / ``precision`` (``cost/precision.py``: e.g. onnxruntime int8)."""
    if kind == 'flops':
        return CostFn(kind, lambda a: analytic_cost(a, batch_size, num_classes).flops,
                      'FLOPs (multiply-adds, analytic)')
    if kind == 'params':
        return CostFn(kind, lambda a: analytic_cost(a, 1, num_classes).params,
                      'parameters (analytic)')
    if kind != 'latency':
        raise BudgetError(f'cost kind {kind!r} is unknown: choose one of {KINDS}')
    if predictor:
        from ..cost.predictor import LatencyPredictor
        p = LatencyPredictor.load(predictor)
        fitted = dict(batch_size=p.batch_size, backend=p.meta.get('backend', 'torch'),
                      precision=p.meta.get('precision', 'fp32'), threads=p.meta.get('threads'))
        asked = dict(batch_size=batch_size, backend=backend, precision=precision, threads=threads)
        for name, value in asked.items():  # a predictor holds for the path it was measured on
            if value is not None and fitted[name] is not None and value != fitted[name]:
                raise BudgetError(f'predictor {predictor} was fitted at {name} {fitted[name]}, '
                                  f'not {value}: fit one for {name} {value} '
                                  '(tools/analysis_tools/fit_predictor.py) or ask for '
                                  f'{name} {fitted[name]}')
        path = f'{fitted["backend"]} {fitted["precision"]}, {fitted["threads"] or "?"} threads'
        return CostFn(kind, p.predict, f'latency (predictor {predictor}: {path}, '
                      f'{p.form} form), batch {batch_size}')
    device = device or MEASURED
    if device == MEASURED:
        m = DriftCorrected(
            lambda arch, r: measured_latency(arch, batch_size, threads, rounds=r, clock=clock,
                                             backend=backend, precision=precision),
            lambda ref, arch, r: paired_ratio(ref, arch, r, threads, clock, batch_size,
                                              backend=backend, precision=precision), rounds)
        how = 'CPU time of 1 thread' if clock == 'cpu' else f'{threads or "all"} threads'
        path = 'PyTorch' if (backend, precision) == ('torch', 'fp32') else f'{backend} {precision}'
        return CostFn(kind, m, f'latency measured here ({path}, CPU, batch {batch_size}, {how}, '
                      f'fastest of {rounds} rounds, drift-corrected)', expensive=True)
    from ..cost.devices import DEVICE_NAMES, get_device
    if device not in DEVICE_NAMES:
        raise BudgetError(f'device {device!r} is unknown: choose one of '
                          f'{", ".join(DEVICE_NAMES + (MEASURED,))}')
    model = get_device(device)
    return CostFn(kind, lambda a: 1000 * model.latency(analytic_cost(a, batch_size, num_classes)),
                  f'latency on {device} (device model), batch {batch_size}')
