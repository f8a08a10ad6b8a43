"""A latency predictor for a device you can measure on, learned from sampled configurations.

Every form starts from the analytic per-class costs: for each operator class its multiply-adds,
bytes moved and operator launches, plus a constant.

- ``linear``: a non-negative linear combination of them. Non-negative, because each term is time
  a device spends, and so that it extrapolates sanely.
- ``sized``: the same terms, plus for each class with multiply-adds a term ``flops * (log s -
  m)``, ``s`` the class's multiply-adds per operator launch (its mean operator size) and ``m``
  that log-size's mean over the sample. A class's time per multiply-add then depends on how big
  its operators are: with several threads a small GEMM does not fill them, so it runs at a lower
  rate than a large one, which no constant rate captures. Size slopes may take either sign.
- ``boosted``: the ``linear`` prediction times ``exp(g)``, ``g`` a small gradient-boosted tree
  ensemble on the log of every cost feature (what the field's learned predictors use: nn-Meter's
  per-kernel forests, HAT's MLP on architecture features), fitted to the log of what the linear
  form leaves unexplained.

All are fitted on relative error (rows divided by the measured latency), because a scaling search
compares small and large models alike. ``fit_and_evaluate`` chooses the form by k-fold
cross-validation on the training share (the simplest one unless a more complex one is clearly
better) and reports every form on the held-out share beside it.
Users sample configurations, measure them (``cost.latency_table``), fit, save to JSON, and load the
file wherever a latency estimate is needed.
"""
import json
import math
import random
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np

from ..arch import DeiTArch
from ..fileio import atomic_open
from .analytic import Cost, analytic_cost
from .classes import OP_CLASSES

FEATURES = tuple(f'{c.value}:{k}' for c in OP_CLASSES for k in ('flops', 'bytes', 'kernels'))
FORMS = ('linear', 'sized', 'boosted')

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


# -- the forms' design matrices --------------------------------------------------------------------
def _base(costs: Sequence[Cost]) -> np.ndarray:
    return np.array([[1.0] + features(c) for c in costs])


def _log_sizes(costs: Sequence[Cost]) -> np.ndarray:
    """Per class: log of its multiply-adds per launch (0 for a class without either)."""
    return np.array([[math.log(v.flops / v.kernels) if v.flops and v.kernels else 0.0
                      for _, v in c] for c in costs])


def _sized(costs: Sequence[Cost], params: dict) -> np.ndarray:
    """The base columns and ``flops * (log s - m)`` per class, ``log s`` held within the sizes
    the fit saw: beyond them a class keeps the rate of its largest (or smallest) operators,
    rather than a rate extrapolated towards zero or below."""
    flops = np.array([[float(v.flops) for _, v in c] for c in costs])
    log_s = np.clip(_log_sizes(costs), params['low'], params['high'])
    return np.hstack([_base(costs), flops * (log_s - np.asarray(params['centre']))])


def _log_features(costs: Sequence[Cost]) -> np.ndarray:
    return np.log1p(np.array([features(c) for c in costs]))


def _relative_lsq(X: np.ndarray, y: np.ndarray, free: int = 0) -> np.ndarray:
    """Weights minimising the relative error of ``X w`` against ``y``; all non-negative but the
    last ``free``. Columns scaled to unit range first, for conditioning."""
    from scipy.optimize import lsq_linear
    scale = np.abs(X).max(axis=0)
    scale[scale == 0] = 1.0
    A = (X / scale) / y[:, None]
    lower = np.r_[np.zeros(X.shape[1] - free), np.full(free, -np.inf)]
    w = lsq_linear(A, np.ones_like(y), bounds=(lower, np.inf), method='bvls').x
    return w / scale


# -- boosted trees, kept as plain arrays so that the JSON file is the whole model ------------------
def _trees_to_dict(gbr) -> List[dict]:
    out = []
    for (est,) in gbr.estimators_:
        t = est.tree_
        out.append({'left': t.children_left.tolist(), 'right': t.children_right.tolist(),
                    'feature': t.feature.tolist(), 'threshold': t.threshold.tolist(),
                    'value': t.value[:, 0, 0].tolist()})
    return out


def _tree_predict(tree: dict, Z: np.ndarray) -> np.ndarray:
    out = np.empty(len(Z))
    for i, z in enumerate(Z):
        node = 0
        while tree['left'][node] != -1:
            f = tree['feature'][node]
            node = tree['left'][node] if z[f] <= tree['threshold'][node] else tree['right'][node]
        out[i] = tree['value'][node]
    return out


BOOSTING = dict(n_estimators=150, learning_rate=0.05, max_depth=2, subsample=0.8,
                min_samples_leaf=4)


@dataclass
class LatencyPredictor:
    coef: List[float]
    intercept: float
    batch_size: int = 1
    dtype_bytes: int = 4
    meta: dict = field(default_factory=dict)
    form: str = 'linear'
    params: dict = field(default_factory=dict)  # the form's other fitted values

    def predict_costs(self, costs: Sequence[Cost]) -> np.ndarray:
        """Milliseconds for one pass of each cost (computed at this predictor's batch size)."""
        w = np.r_[self.intercept, self.coef]
        if self.form == 'sized':
            return _sized(costs, self.params) @ np.r_[w, self.params['size_coef']]
        out = _base(costs) @ w
        if self.form == 'boosted':
            Z = _log_features(costs)
            g = self.params['offset'] + self.params['learning_rate'] * sum(
                _tree_predict(t, Z) for t in self.params['trees'])
            out = out * np.exp(g)
        return out

    def predict_cost(self, cost: Cost) -> float:
        return float(self.predict_costs([cost])[0])

    def predict(self, arch) -> float:
        return self.predict_cost(analytic_cost(arch, self.batch_size, 0, self.dtype_bytes))

    def to_dict(self) -> dict:
        return {'features': list(FEATURES), 'form': self.form, 'coef': list(self.coef),
                'intercept': self.intercept, 'params': self.params,
                'batch_size': self.batch_size, 'dtype_bytes': self.dtype_bytes, 'meta': self.meta}

    def save(self, path: str):
        with atomic_open(path, 'w') as f:
            json.dump(self.to_dict(), f, indent=2)

    @classmethod
    def load(cls, path: str) -> 'LatencyPredictor':
        with open(path) as f:
            d = json.load(f)
        if d.get('features') != list(FEATURES) or d.get('form', 'linear') not in FORMS:
            raise ValueError(f'{path} was fitted on other features or another model form than '
                             f'this version computes ({", ".join(FORMS)}); fit it again')
        return cls(d['coef'], d['intercept'], d['batch_size'], d['dtype_bytes'],
                   d.get('meta', {}), d.get('form', 'linear'), d.get('params', {}))


def fit(costs: Sequence[Cost], latencies_ms: Sequence[float], meta: Optional[dict] = None,
        form: str = 'linear', seed: int = 0) -> LatencyPredictor:
    """Fit ``form`` (one of ``FORMS``) on relative error."""
    if form not in FORMS:
        raise ValueError(f'form={form!r} is invalid: choose one of {FORMS}')
    y = np.asarray(latencies_ms, float)
    b = costs[0]
    pred = LatencyPredictor([], 0.0, b.batch_size, b.dtype_bytes, dict(meta or {}), form)
    if form == 'sized':
        log_s = _log_sizes(costs)
        pred.params = {'centre': log_s.mean(axis=0).tolist(), 'low': log_s.min(axis=0).tolist(),
                       'high': log_s.max(axis=0).tolist()}
        w = _relative_lsq(_sized(costs, pred.params), y, free=log_s.shape[1])
        pred.params['size_coef'] = w[len(FEATURES) + 1:].tolist()
    else:
        w = _relative_lsq(_base(costs), y)
    pred.intercept, pred.coef = float(w[0]), [float(v) for v in w[1:1 + len(FEATURES)]]
    if form == 'boosted':
        from sklearn.ensemble import GradientBoostingRegressor
        residual = np.log(y / np.maximum(_base(costs) @ w[:len(FEATURES) + 1], 1e-9))
        offset = float(residual.mean())
        gbr = GradientBoostingRegressor(init='zero', random_state=seed, **BOOSTING)
        gbr.fit(_log_features(costs), residual - offset)
        pred.params = {'offset': offset, 'learning_rate': BOOSTING['learning_rate'],
                       'trees': _trees_to_dict(gbr)}
    return pred


# A more complex form is kept only if it cross-validates this much (relatively) better than every
# simpler one: differences smaller than this are within what resampling the folds moves.
PARSIMONY = 0.10


def split(n: int, holdout: float = 0.25, seed: int = 0):
    """Shuffled train and held-out index lists."""
    idx = list(range(n))
    random.Random(seed).shuffle(idx)
    k = max(1, round(n * holdout))
    return sorted(idx[k:]), sorted(idx[:k])


def cross_validate(costs: Sequence[Cost], latencies_ms: Sequence[float], form: str,
                   folds: int = 5, seed: int = 0) -> Dict[str, float]:
    """Metrics of ``form`` over ``folds``-fold cross-validation: every row predicted once, by a
    fit that did not see it."""
    n = len(costs)
    idx = list(range(n))
    random.Random(seed).shuffle(idx)
    predicted = np.empty(n)
    for k in range(folds):
        test = idx[k::folds]
        held = set(test)
        train = [i for i in idx if i not in held]
        p = fit([costs[i] for i in train], [latencies_ms[i] for i in train], form=form, seed=seed)
        predicted[test] = p.predict_costs([costs[i] for i in test])
    return metrics(predicted, latencies_ms)


def fit_and_evaluate(archs: Sequence, latencies_ms: Sequence[float], batch_size: int = 1,
                     holdout: float = 0.25, seed: int = 0, meta: Optional[dict] = None,
                     forms: Sequence[str] = FORMS, folds: int = 5, exclude: Sequence[int] = ()):
    """Fit on a shuffled share of the measured archs, choose the simplest form (in the order
    of ``forms``) whose cross-validated MAPE on that share is within ``PARSIMONY`` of the
    lowest, and evaluate every form on the held-out rest. Rows in
    ``exclude`` (measurements too noisy to trust) are in neither. Returns the chosen predictor
    (its ``meta`` records the cross-validation, the held-out metrics of every form and the
    choice) and its held-out metrics."""
    costs = [analytic_cost(a, batch_size) for a in archs]
    train, held = split(len(archs), holdout, seed)
    exclude = set(exclude)
    train, held = [i for i in train if i not in exclude], [i for i in held if i not in exclude]
    if len(train) < 2 * folds or not held:
        raise ValueError(f'{len(train)} trusted training and {len(held)} held-out '
                         f'configurations are too few to fit and evaluate')
    xs, ys = [costs[i] for i in train], [latencies_ms[i] for i in train]
    cv = {f: cross_validate(xs, ys, f, folds, seed) for f in forms}
    best = min(cv[f]['mape'] for f in forms)
    chosen = next(f for f in forms if cv[f]['mape'] <= (1 + PARSIMONY) * best)
    fitted = {f: fit(xs, ys, form=f, seed=seed) for f in forms}
    report = {}
    for f, p in fitted.items():
        report[f] = {'cv': cv[f]}
        for name, idx in (('train', train), ('heldout', held)):
            report[f][name] = metrics(p.predict_costs([costs[i] for i in idx]),
                                      [latencies_ms[i] for i in idx])
    pred = fitted[chosen]
    pred.meta = dict(meta or {}, n_train=len(train), n_heldout=len(held), folds=folds,
                     chosen_by=f'the simplest form within {100 * PARSIMONY:.0f}% of the lowest '
                     f'{folds}-fold cross-validated MAPE on the training share',
                     forms=report, train_metrics=report[chosen]['train'],
                     heldout_metrics=report[chosen]['heldout'])
    return pred, pred.meta['heldout_metrics']
