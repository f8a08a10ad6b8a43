"""The study's strategy search: sample around the current model, proxy-train each sample briefly,
fit how accuracy and cost move with each dimension, step along the best direction toward the
budget; after the last step the strategy is the path travelled, per unit of log-cost.

One step, in log-dimension space (u = log of each dimension, relative to the current model):
- ``samples`` configurations drawn uniformly in a box of half-width ``radius`` around the current
  one (rounded to valid models), plus the current model itself;
- a least-squares fit over them, accuracy ~ beta . u (lightly ridge-regularised: there may be
  fewer samples than dimensions), and each dimension's cost elasticity k = d log cost / d u
  (a central difference over one grid step);
- the move v = delta * k / |k|^2 + radius * P(beta) / |P(beta)|: the shortest move that changes
  log-cost by ``delta`` (a geometric path from the base's cost to the budget in ``steps`` steps)
  plus a reallocation, at constant cost, toward higher accuracy (P projects out the cost
  direction). The scaler then rounds and re-fits the cost to the step's target from below.

Every candidate is appended to a JSON-lines table as soon as it is trained. The search is a
function of that table: restarted, it replays the same steps, finds the finished candidates there
and trains only the missing ones.
"""
import csv
import hashlib
import json
import math
import os
import random
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

from ..fileio import atomic_open

from .budget import Budget, BudgetError, CostFn, format_cost
from .scaler import scale
from .space import Space, describe, family_of, fitted_range
from .strategy import DIMS, Strategy, StrategyError


@dataclass
class SearchSettings:
    budget: Budget
    samples: int = 6          # sampled configurations per step (the current one is added)
    steps: int = 3
    proxy_epochs: int = 2
    radius: float = 0.3       # half-width of the sampling box, in log of each dimension
    dims: Sequence[str] = DIMS
    seed: int = 0
    ridge: float = 0.01       # accuracy fit: penalty on the slopes (accuracy in %, u in log units)

    def check(self, base_cost: float):
        for name in ('samples', 'steps', 'proxy_epochs'):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise StrategyError(f'search setting {name}={v!r} is invalid: expected an '
                                    'integer >= 1')
        if not 0 < self.radius < 2:
            raise StrategyError(f'search setting radius={self.radius!r} is invalid: expected 0..2')
        bad = [d for d in self.dims if d not in DIMS]
        if bad or not self.dims:
            raise StrategyError(f'search setting dims={list(self.dims)!r} is invalid: choose '
                                f'from {DIMS}')
        if abs(math.log(self.budget.value / base_cost)) < math.log(1.1):
            raise BudgetError(f'budget {self.budget} is within 10% of the base model\'s cost '
                              f'{format_cost(self.budget.kind, base_cost)}: a strategy is a rate '
                              'per unit of cost change, so search toward a budget at least 10% '
                              'away')


@dataclass
class SearchResult:
    strategy: Strategy
    arch: object
    cost: float
    top1: float
    steps: List[dict] = field(default_factory=list)
    trained: int = 0          # proxy trainings run by this call (not found in the table)


def candidate_key(arch, proxy: dict) -> str:
    blob = json.dumps({'arch': arch.to_dict(), 'type': type(arch).__name__, 'proxy': proxy},
                      sort_keys=True)
    return hashlib.sha1(blob.encode()).hexdigest()[:12]


def candidate_row(arch, key: str, top1: float, proxy: dict, **extra) -> dict:
    """A proxy-trained model as a table row (the search's and the transfer table's)."""
    return dict(type='candidate', key=key, desc=describe(arch), arch=arch.to_dict(),
                arch_type=type(arch).__name__, top1=top1, proxy=proxy, **extra)


class Table:
    """An append-only JSON-lines file; a line cut short by a kill is ignored on reading."""

    def __init__(self, path: str):
        self.path = path
        self.rows: List[dict] = []
        if os.path.exists(path):
            self._drop_partial_line()
            with open(path) as f:
                for line in f:
                    try:
                        self.rows.append(json.loads(line))
                    except json.JSONDecodeError:
                        continue  # the half-written last line of a killed run
        self.candidates = {r['key']: r for r in self.rows if r.get('type') == 'candidate'}

    def _drop_partial_line(self):
        """Cut a last line that a kill left without its newline, so the next row starts clean."""
        with open(self.path, 'rb+') as f:
            data = f.read()
            if data and not data.endswith(b'\n'):
                f.truncate(data.rfind(b'\n') + 1)

    def append(self, row: dict):
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        with open(self.path, 'a') as f:
            f.write(json.dumps(row) + '\n')
            f.flush()
            os.fsync(f.fileno())
        self.rows.append(row)
        if row.get('type') == 'candidate':
            self.candidates[row['key']] = row

    def to_csv(self, path: str):
        rows = [r for r in self.rows if r.get('type') == 'candidate']
        cols = ['step', 'desc', 'cost', 'cost_kind', 'top1', 'seconds', 'key']
        with atomic_open(path, 'w', newline='') as f:
            w = csv.writer(f)
            w.writerow(cols + list(DIMS))
            for r in rows:  # a dimension of several components (PiT's depths) as 2-6-4
                w.writerow([r.get(c, '') for c in cols]
                           + ['-'.join(f'{v:g}' for v in r['dims'][d]) for d in DIMS])


def _log_dims(space: Space, arch) -> np.ndarray:
    """Each dimension's log value (the mean over a dimension's components)."""
    p = space.point(arch)
    return np.array([np.mean(np.log(p[d])) for d in DIMS])


def ridge_fit(X: np.ndarray, y: np.ndarray, penalty: float) -> np.ndarray:
    """Slopes of ``y ~ b0 + X @ beta`` with ``penalty * |beta|^2`` (intercept unpenalised)."""
    Xc, yc = X - X.mean(0), y - y.mean()
    A = Xc.T @ Xc + penalty * np.eye(X.shape[1])
    return np.linalg.solve(A, Xc.T @ yc)


class StrategySearch:
    """Search a strategy for ``base`` under ``settings.budget`` (priced by ``cost``).

    ``train(arch, key) -> top-1 %`` is the proxy training; ``table`` the JSON-lines file that
    makes the search resumable; ``progress`` receives one line per event.
    """

    def __init__(self, base, settings: SearchSettings, cost: CostFn, train: Callable,
                 table: str, proxy: Optional[dict] = None,
                 strategy_template: Optional[Strategy] = None,
                 progress: Callable[[str], None] = print):
        self.base, self.settings, self.cost, self.train = base, settings, cost, train
        self.table = Table(table)
        self.proxy = dict(proxy or {}, epochs=settings.proxy_epochs)
        self.template = strategy_template or Strategy(rates={d: 1.0 for d in DIMS},
                                                      family=family_of(base))
        self.space = Space.of(base, self.template)
        self.progress = progress
        self.active = [DIMS.index(d) for d in settings.dims]
        self.trained = 0
        self.evaluated: List[tuple] = []  # (arch, row) of every candidate of this run
        self._train_seconds: List[float] = []

    # -- candidates -------------------------------------------------------------------------------
    def sample(self, current, step: int) -> list:
        s = self.settings
        rng = random.Random(f'{s.seed}-{step}-{describe(current)}')
        point = self.space.point(current)
        out, seen = [current], {current}
        box = {d: self._box(point, d) for d in s.dims}
        for _ in range(50):
            # Latin hypercube: each dimension's range cut into ``samples`` strata, one sample
            # in each, so a handful of samples still covers every dimension evenly.
            n = s.samples
            strata = {d: rng.sample(range(n), n) for d in s.dims}
            for i in range(n):
                u = {d: box[d][0] + (strata[d][i] + rng.random()) / n * (box[d][1] - box[d][0])
                     for d in s.dims}
                arch = self.space.nearest(Space.move(point, u))
                if arch not in seen and len(out) <= n:
                    seen.add(arch)
                    out.append(arch)
            if len(out) > n:
                break
        return out

    def _box(self, point, d: str, radius: Optional[float] = None):
        """The log range sampled for ``d``: +-radius, widened to reach at least one grid step
        each way (a depth of 2 has no neighbour within +-30%)."""
        radius = self.settings.radius if radius is None else radius
        x = float(np.mean(point[d]))
        q = self.space.rounding[d].step(self.base)
        lo_bound, hi_bound = self.space.bounds[d]
        up = math.log((x + q) / x) if x + q <= hi_bound else 0.0
        down = math.log(x / (x - q)) if x - q >= lo_bound else 0.0
        return -max(radius, down), max(radius, up)

    def evaluate(self, arch, step: int, i: int, n: int) -> dict:
        key = candidate_key(arch, self.proxy)
        where = (f'step {step + 1}/{self.settings.steps}, candidate {i + 1}/{n}' if i < n
                 else 'the final model')
        row = self.table.candidates.get(key)
        if row is not None:  # its accuracy; the cost is this search's (the table may be shared
            # with searches under other budget kinds)
            row = dict(row, cost=self.cost(arch), cost_kind=self.cost.kind)
            self.progress(f'[search] {where}: {row["desc"]} '
                          f'{format_cost(self.cost.kind, row["cost"])} top-1 {row["top1"]:.2f}% '
                          '(from the table)')
            self.evaluated.append((arch, row))
            return row
        c = self.cost(arch)
        t = time.perf_counter()
        top1 = float(self.train(arch, key))
        seconds = time.perf_counter() - t
        self.trained += 1
        self._train_seconds.append(seconds)
        row = candidate_row(arch, key, top1, self.proxy, step=step,
                            dims={d: list(v) for d, v in self.space.point(arch).items()},
                            cost=c, cost_kind=self.cost.kind, seconds=round(seconds, 2))
        self.table.append(row)
        left = self._left(step, i, n)
        eta = f', ~{left * np.mean(self._train_seconds) / 60:.1f} min left' if left else ''
        self.progress(f'[search] {where}: {row["desc"]} {format_cost(self.cost.kind, c)} '
                      f'top-1 {top1:.2f}% ({seconds:.0f}s{eta})')
        self.evaluated.append((arch, row))
        return row

    def _left(self, step, i, n):
        s = self.settings
        return (n - i - 1) + (s.steps - step - 1) * (s.samples + 1) + 1

    # -- one step ---------------------------------------------------------------------------
    def elasticities(self, arch) -> np.ndarray:
        """d log cost / d log dimension at ``arch`` for the searched dimensions: a central
        difference over one grid step each way (one-sided at a bound)."""
        point = self.space.point(arch)
        k = np.zeros(len(self.active))
        for j, i in enumerate(self.active):
            d = DIMS[i]
            lo, hi = self._box(point, d, radius=0.0)
            ends = [self.space.nearest(Space.move(point, {d: u})) for u in (lo, hi)]
            dx = _log_dims(self.space, ends[1])[i] - _log_dims(self.space, ends[0])[i]
            if dx > 1e-9:
                k[j] = math.log(self.cost(ends[1]) / self.cost(ends[0])) / dx
        return k

    def direction(self, rows: List[dict], archs: list, delta: float) -> Dict[str, float]:
        """The log-dimension move of one step (see the module's docstring)."""
        X = np.array([_log_dims(self.space, a) for a in archs])[:, self.active]
        X = X - X[0]
        acc = np.array([r['top1'] for r in rows])
        varied = np.ptp(X, axis=0) > 1e-9
        beta = np.zeros(X.shape[1])
        if varied.any():
            beta[varied] = ridge_fit(X[:, varied], acc, self.settings.ridge)
        k = np.maximum(self.elasticities(archs[0]), 1e-3)  # cost never falls as a dimension grows
        move = delta * k / (k @ k)
        p_beta = beta - (beta @ k) / (k @ k) * k
        norm = np.linalg.norm(p_beta)
        if norm > 1e-9:
            move = move + self.settings.radius * p_beta / norm
        names = [DIMS[i] for i in self.active]
        self._last_fit = {'beta': dict(zip(names, beta.round(4).tolist())),
                          'k': dict(zip(names, k.round(4).tolist()))}
        return dict(zip(names, move.tolist()))

    def run(self) -> SearchResult:
        s = self.settings
        c0 = self.cost(self.base)
        s.check(c0)
        current, history = self.base, []
        self.progress(f'[search] base {describe(self.base)} {format_cost(self.cost.kind, c0)}, '
                      f'budget {s.budget}, {s.steps} steps x {s.samples + 1} candidates, '
                      f'{s.proxy_epochs} proxy epoch(s) each; table {self.table.path}')
        for step in range(s.steps):
            archs = self.sample(current, step)
            rows = [self.evaluate(a, step, i, len(archs)) for i, a in enumerate(archs)]
            target = c0 * (s.budget.value / c0) ** ((step + 1) / s.steps)
            delta = math.log(target / rows[0]['cost'])
            move = self.direction(rows, archs, delta)
            # Round the move, then bring the cost back to the step's target along the cost
            # direction (rates = k / |k|^2, so s is the cost multiplier).
            k = self._last_fit['k']
            kk = sum(v * v for v in k.values()) or 1.0
            along = self.template.replace(rates={d: k.get(d, 0.0) / kk for d in DIMS})
            origin = Space.move(self.space.point(current), move)
            step_budget = Budget(s.budget.kind, target)
            nxt = scale(current, along, step_budget, cost=self.cost, origin=origin).arch
            if nxt == current:  # on a coarse grid the reallocation can undo the cost move
                nxt = scale(current, along, step_budget, cost=self.cost).arch
            history.append(dict(step=step, fro=describe(current), to=describe(nxt),
                                cost=self.cost(nxt), target=target, move=move, **self._last_fit))
            self.progress(f'[search] step {step + 1}/{s.steps}: {describe(current)} -> '
                          f'{describe(nxt)} ({format_cost(self.cost.kind, self.cost(nxt))}, '
                          f'target {format_cost(self.cost.kind, target)}); accuracy slopes '
                          f'{self._last_fit["beta"]}')
            current = nxt
        final = self.evaluate(current, s.steps - 1, s.samples + 1, s.samples + 1)  # i == n: final
        current, final = self.incumbent(current, final, c0)
        strategy = self.extract(current)
        return SearchResult(strategy, current, final['cost'], final['top1'], history, self.trained)

    def incumbent(self, moved, moved_row: dict, c0: float):
        """The model the strategy leads to: the moved model, unless a candidate trained on the
        way is more accurate within the budget and at least half-way there in log-cost. The fit
        is linear and the grid coarse, so the last move can overshoot (say, to a one-token
        input) where a measured candidate did better; the strategy then follows the evidence."""
        goal = math.log(self.settings.budget.value / c0)
        best_arch, best = moved, moved_row
        for arch, row in self.evaluated:
            way = math.log(row['cost'] / c0) / goal
            if row['cost'] <= self.settings.budget.value and way >= 0.5 and (
                    (row['top1'], row['cost']) > (best['top1'], best['cost'])):
                best_arch, best = arch, row
        if best_arch != moved:
            self.progress(f'[search] the moved model {moved_row["desc"]} (top-1 '
                          f'{moved_row["top1"]:.2f}%) is less accurate than {best["desc"]} '
                          f'(top-1 {best["top1"]:.2f}%, '
                          f'{format_cost(self.cost.kind, best["cost"])}), trained on the way: '
                          'the strategy leads to the latter')
        return best_arch, best

    def extract(self, final) -> Strategy:
        """Rates = log(final / base) per dimension over log(final cost / base cost)."""
        x0, x1 = _log_dims(self.space, self.base), _log_dims(self.space, final)
        dc = math.log(self.cost(final) / self.cost(self.base))
        if abs(dc) < 1e-6:
            raise BudgetError('the search ended at the base model\'s cost: no strategy to extract')
        rates = {d: round(float((x1[i] - x0[i]) / dc), 6) + 0.0 for i, d in enumerate(DIMS)}
        return self.template.replace(rates=rates)


def search_config(config: str, budget: str, work_dir: str, out: Optional[str] = None,
                  settings: Optional[dict] = None, device: Optional[str] = None,
                  name: str = '', command: str = '', progress: Callable[[str], None] = print
                  ) -> SearchResult:
    """The search for ``config``'s model on ``config``'s data (proxy-trained there); the table
    and the runs go to ``work_dir``, the strategy to ``out`` (default
    ``work_dir/strategy.yaml``)."""
    from . import configs
    from .budget import resolve_budget
    from .strategy import save_strategy
    from .train import ProxyTrainer

    _, base, ncls = configs.load_base(config)
    b, cost = resolve_budget(budget, base, device=device, num_classes=ncls)
    settings = SearchSettings(b, **(settings or {}))
    trainer = ProxyTrainer(config, settings.proxy_epochs, os.path.join(work_dir, 'runs'),
                           settings.seed, report=progress)
    search = StrategySearch(base, settings, cost, trainer,
                            os.path.join(work_dir, 'candidates.jsonl'), proxy=trainer.proxy,
                            progress=progress)
    result = search.run()
    search.table.to_csv(os.path.join(work_dir, 'candidates.csv'))
    where = 'measured here' if cost.kind == 'latency' and cost.expensive else (device or '')
    strategy = result.strategy.replace(
        name=name or '-'.join([search.template.family,
                               os.path.splitext(os.path.basename(config))[0], b.kind]),
        base=dict(config=config, arch=base.to_dict(), cost=search.cost(base)),
        found_on=dict(budget=str(b), cost=cost.label, device=where or None,
                      data=os.path.basename(config), command=command,
                      settings={k: (list(v) if isinstance(v, tuple) else v)
                                for k, v in vars(settings).items() if k != 'budget'},
                      final=dict(desc=describe(result.arch), cost=result.cost, top1=result.top1),
                      table=os.path.join(work_dir, 'candidates.jsonl')),
        fitted_range=fitted_range(base, [a for a, _ in search.evaluated]))
    out = out or os.path.join(work_dir, 'strategy.yaml')
    save_strategy(strategy, out, header=f'Found by: {command}' if command else '')
    progress(f'[search] strategy {strategy.name}: '
             + ', '.join(f'{d} {r:+.3f}' for d, r in strategy.rates.items())
             + f'; final {describe(result.arch)} top-1 {result.top1:.2f}%; wrote {out}')
    return result
