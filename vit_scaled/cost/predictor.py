"""A latency predictor for a device you can measure on, learned from sampled configurations.

The model is a non-negative linear combination of the analytic per-class costs: for each operator
class its multiply-adds, bytes moved and operator launches, plus a constant. Non-negative, because
each term is time a device spends, and so that it extrapolates sanely; fitted on relative error
(rows divided by the measured latency), because a scaling search compares small and large models
alike. Users sample configurations, measure them (``collect``), fit and save to JSON, and load the
file wherever a latency estimate is needed.
"""
import csv
import json
import random
import statistics
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

from ..arch import DeiTArch
from ..families import family_of, get_family
from ..fileio import atomic_open
from .analytic import Cost, analytic_cost
from .classes import OP_CLASSES

FEATURES = tuple(f'{c.value}:{k}' for c in OP_CLASSES for k in ('flops', 'bytes', 'kernels'))

# Scaled-DeiT sampling space: the study's dimensions around DeiT-Ti/S on a CPU-sized budget.
DEIT_SPACE = dict(depth=range(4, 17), num_heads=range(2, 9), head_dim=(32, 48, 64),
                  mlp_ratio=(2.0, 3.0, 4.0), img_size=(160, 192, 224, 256))


def features(cost: Cost) -> List[float]:
    return [float(x) for _, v in cost for x in (v.flops, v.bytes, v.kernels)]


def sample_archs(n: int, seed: int = 0, space: Optional[dict] = None, template=None) -> list:
    """``n`` distinct architectures drawn uniformly from ``space`` (field -> choices), each
    ``template`` (any family's value; default DeiT-Tiny) with the drawn fields replaced."""
    space = space or DEIT_SPACE
    template = template if template is not None else DeiTArch()
    rng = random.Random(seed)
    seen, out = set(), []
    for _ in range(100 * n):
        cfg = {k: rng.choice(list(v)) for k, v in space.items()}
        arch = template.replace(**cfg)
        if arch not in seen:
            seen.add(arch)
            out.append(arch)
            if len(out) == n:
                break
    return out


def sample_deit_archs(n: int, seed: int = 0, space: Optional[dict] = None) -> List[DeiTArch]:
    """``n`` distinct scaled DeiT architectures drawn uniformly from ``space``."""
    return sample_archs(n, seed, space)


def metrics(predicted: Sequence[float], measured: Sequence[float]) -> Dict[str, float]:
    """MAPE (%), share within +-10 % (%), Kendall's tau."""
    from scipy.stats import kendalltau
    p, m = np.asarray(predicted, float), np.asarray(measured, float)
    rel = np.abs(p - m) / m
    tau = kendalltau(p, m).statistic if len(m) > 1 else float('nan')
    return {'n': int(len(m)), 'mape': float(100 * rel.mean()),
            'within_10': float(100 * (rel <= 0.10).mean()), 'kendall_tau': float(tau)}


@dataclass
class LatencyPredictor:
    coef: List[float]
    intercept: float
    batch_size: int = 1
    dtype_bytes: int = 4
    meta: dict = field(default_factory=dict)

    def predict_cost(self, cost: Cost) -> float:
        """Milliseconds for one pass of ``cost`` (computed at this predictor's batch size)."""
        return self.intercept + float(np.dot(self.coef, features(cost)))

    def predict(self, arch) -> float:
        return self.predict_cost(analytic_cost(arch, self.batch_size, 0, self.dtype_bytes))

    def to_dict(self) -> dict:
        return {'features': list(FEATURES), 'coef': list(self.coef), 'intercept': self.intercept,
                'batch_size': self.batch_size, 'dtype_bytes': self.dtype_bytes, 'meta': self.meta}

    def save(self, path: str):
        with atomic_open(path, 'w') as f:
            json.dump(self.to_dict(), f, indent=2)

    @classmethod
    def load(cls, path: str) -> 'LatencyPredictor':
        with open(path) as f:
            d = json.load(f)
        if d.get('features') != list(FEATURES):
            raise ValueError(f'{path} was fitted on other features than this version computes; '
                             'fit it again')
        return cls(d['coef'], d['intercept'], d['batch_size'], d['dtype_bytes'], d.get('meta', {}))


def fit(costs: Sequence[Cost], latencies_ms: Sequence[float], meta: Optional[dict] = None
        ) -> LatencyPredictor:
    """Non-negative least squares on relative error; features scaled to unit range first."""
    from scipy.optimize import nnls
    X = np.array([[1.0] + features(c) for c in costs])
    y = np.asarray(latencies_ms, float)
    scale = X.max(axis=0)
    scale[scale == 0] = 1.0
    w, _ = nnls((X / scale) / y[:, None], np.ones_like(y))
    w = w / scale
    b = costs[0]
    return LatencyPredictor([float(v) for v in w[1:]], float(w[0]), b.batch_size, b.dtype_bytes,
                            dict(meta or {}))


STATISTICS = ('median', 'best')


def measure_archs(archs: Sequence, build: Callable, batch_size: int = 1, backend: str = 'torch',
                  threads: Optional[int] = None, progress: Callable = lambda i, n, a, ms: None,
                  statistic: str = 'median', passes: int = 1, **measure_kwargs) -> List[float]:
    """Measured latency (ms) of the model ``build(arch)`` for each arch, in order: the median
    call, or the fastest (``best``, robust on a shared machine, where interference only adds).
    ``passes`` > 1 measures the whole list again and keeps the best (or median) pass, so that a
    burst of load on the machine cannot skew neighbouring configurations alone."""
    import torch

    from .measure import measure
    if statistic not in STATISTICS:
        raise ValueError(f'statistic={statistic!r} is invalid: choose one of {STATISTICS}')
    runs = [[] for _ in archs]
    for p in range(passes):
        for i, arch in enumerate(archs):
            model = build(arch).eval()
            x = family_of(arch).example_input(arch, batch_size)
            m = measure(model, x, backend=backend, threads=threads, **measure_kwargs)
            runs[i].append(m.latency_ms if statistic == 'median' else m.best_ms)
            progress(p * len(archs) + i, passes * len(archs), arch, runs[i][-1])
    pick = min if statistic == 'best' else statistics.median
    return [pick(r) for r in runs]


def split(n: int, holdout: float = 0.25, seed: int = 0):
    """Shuffled train and held-out index lists."""
    idx = list(range(n))
    random.Random(seed).shuffle(idx)
    k = max(1, round(n * holdout))
    return sorted(idx[k:]), sorted(idx[:k])


def fit_and_evaluate(archs: Sequence, latencies_ms: Sequence[float], batch_size: int = 1,
                     holdout: float = 0.25, seed: int = 0, meta: Optional[dict] = None):
    """Fit on a shuffled share of the measured archs and evaluate on the rest: the predictor
    (its ``meta`` records both metric sets) and the held-out metrics."""
    costs = [analytic_cost(a, batch_size) for a in archs]
    train, held = split(len(archs), holdout, seed)
    pred = fit([costs[i] for i in train], [latencies_ms[i] for i in train],
               dict(meta or {}, n_train=len(train), n_heldout=len(held)))
    for name, idx in (('train_metrics', train), ('heldout_metrics', held)):
        pred.meta[name] = metrics([pred.predict_cost(costs[i]) for i in idx],
                                  [latencies_ms[i] for i in idx])
    return pred, pred.meta['heldout_metrics']


MEASUREMENT_FIELDS = ('family', 'arch', 'latency_ms')


def save_measurements(path: str, archs: Sequence, latencies_ms: Sequence[float]):
    """A CSV of (family, architecture as JSON, latency): any family's values round-trip."""
    with atomic_open(path, 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(MEASUREMENT_FIELDS)
        for a, v in zip(archs, latencies_ms):
            w.writerow([family_of(a).name, json.dumps(a.to_dict(), sort_keys=True), v])


def load_measurements(path: str):
    """``(archs, latencies_ms)`` from a file of ``save_measurements``."""
    with open(path) as f:
        rows = list(csv.DictReader(f))
    archs = [get_family(r['family']).arch_type(**json.loads(r['arch'])) for r in rows]
    return archs, [float(r['latency_ms']) for r in rows]
