"""``scale(base, strategy, budget)``: the strategy's model whose cost meets the budget most closely
from below.

Along the strategy each dimension is ``base * s ** rate``; rounding makes the cost a step function
of ``s``. Cheap costs (FLOPs, parameters, device models, predictors): cost the nearest rounding
along the whole scale range, take the crossing of the budget nearest to the base (s = 1), bisect
it, then score the whole rounding neighbourhood (each dimension's grid value just below or above)
for ``s`` in a window around it, and keep the largest cost within the budget. Measured latency
(a second a model): bracket ``s`` by doubling or halving, bisect, then measure the few neighbours
that this machine's roofline model, rescaled to the measurements, puts between the best one and
the budget.
"""
import math
from dataclasses import dataclass, field
from typing import Callable, List, Optional

from ..cost.analytic import analytic_cost
from .budget import Budget, BudgetError, CostFn, format_cost, make_cost
from .space import Space, check_family, describe, far_outside_notes
from .strategy import Strategy

WINDOW = 0.35        # +-log(s) around the bisected s whose neighbourhoods are scored
WINDOW_POINTS = 29
GRID_POINTS = 240    # log-spaced s over the scale range, to find where the cost crosses
MEASURED_FLOPS_CAP = 20e9  # never measure a model above this (batch-1 multiply-adds)
MEASURED_REFINEMENTS = 5   # measurements after the bisection, at most
REFINED_ENOUGH = 0.02      # stop refining within 2% below the budget


def note_line(note: str) -> str:
    """A note as printed: warnings keep their own prefix."""
    return note if note.startswith('warning:') else f'note: {note}'


class UnreachableBudget(BudgetError):
    """The budget is outside what the strategy can reach; says the smallest and largest cost."""

    def __init__(self, budget: Budget, smallest: float, largest: float, note: str = '',
                 smallest_arch=None):
        self.budget, self.smallest, self.largest = budget, smallest, largest
        self.smallest_arch = smallest_arch  # the cheapest model the strategy reaches
        k = budget.kind
        super().__init__(
            f'budget {budget} is unreachable with this strategy: the smallest reachable cost is '
            f'{format_cost(k, smallest)} and the largest {format_cost(k, largest)}{note}')


@dataclass
class Scaled:
    arch: object
    cost: float
    budget: Budget
    s: float
    cost_label: str
    evaluated: int
    notes: List[str] = field(default_factory=list)

    @property
    def below(self) -> float:
        """How far below the budget, as a fraction of it (0.01 = 1 % under)."""
        return 1 - self.cost / self.budget.value

    def summary(self) -> str:
        s = (f'{describe(self.arch)}: {format_cost(self.budget.kind, self.cost)} '
             f'({100 * self.below:.2f}% below the budget {self.budget}; {self.cost_label}; '
             f's={self.s:.4g}, {self.evaluated} candidates costed)')
        return '\n'.join([s] + [note_line(n) for n in self.notes])


def _path(space: Space, origin: dict, strategy: Strategy) -> Callable[[float], dict]:
    rates = strategy.rates
    return lambda s: space.move(origin, {d: r * math.log(s) for d, r in rates.items()})


def _distance(space: Space, arch, ideal) -> float:
    """Squared log distance of ``arch`` from the continuous point (breaks ties toward the
    strategy's own direction)."""
    p = space.point(arch)
    return sum(math.log(a / b) ** 2 for d in p for a, b in zip(p[d], ideal[d]))


def scale(base, strategy: Strategy, budget: Budget, cost: Optional[CostFn] = None,
          progress: Callable[[str], None] = lambda msg: None, origin: Optional[dict] = None,
          **cost_kwargs) -> Scaled:
    """The scaled architecture of ``base`` under ``budget``. ``cost`` defaults to the budget
    kind's (``make_cost(budget.kind, **cost_kwargs)``). ``origin``, a continuous point, replaces
    ``base``'s own dimensions as the start of the path (the search moves from such points)."""
    cost = cost or make_cost(budget.kind, **cost_kwargs)
    if cost.kind != budget.kind:
        raise BudgetError(f'a {budget.kind} budget cannot be checked with a {cost.kind} cost')
    notes = [n for n in [check_family(strategy, base)] if n]
    space = Space.of(base, strategy)
    at = _path(space, origin or space.point(base), strategy)
    if cost.expensive:
        result = _scale_measured(space, at, strategy, budget, cost, progress)
    else:
        result = _scale_cheap(space, at, strategy, budget, cost)
    result.notes[:0] = notes
    if origin is None:
        result.notes += far_outside_notes(strategy, result.arch, base)
    return result


def _crossings(logs, costs, value, direction):
    """Grid intervals ``(i, i + 1)`` where the cost crosses ``value``, nearest to s = 1 first, those
    on the ``direction`` side of it (+1 up, -1 down) before the others."""
    out = [i for i in range(len(logs) - 1)
           if (costs[i] <= value) != (costs[i + 1] <= value)]
    return sorted(out, key=lambda i: (math.copysign(1, logs[i] + logs[i + 1]) != direction,
                                      abs(logs[i] + logs[i + 1])))


def _scale_cheap(space, at, strategy, budget, cost) -> Scaled:
    # Cost along the whole scale range: a rate may be negative (a dimension shrinking as the
    # others grow), so the cost need not be monotonic in s far from the base.
    lo, hi = (math.log(v) for v in strategy.scale_range)
    logs = sorted({lo + (hi - lo) * i / GRID_POINTS for i in range(GRID_POINTS + 1)} | {0.0})
    archs = [space.nearest(at(math.exp(x))) for x in logs]
    costs = [cost(a) for a in archs]
    i_min = min(range(len(costs)), key=costs.__getitem__)
    hood = list(space.neighbourhood(at(math.exp(logs[i_min]))))
    cheapest = min(hood + [archs[i_min]], key=cost)
    smallest, largest = cost(cheapest), max(costs)
    if not smallest <= budget.value:
        raise UnreachableBudget(budget, smallest, largest, smallest_arch=cheapest)
    if budget.value > largest:
        raise UnreachableBudget(budget, smallest, largest,
                                f' (within the scale range {list(strategy.scale_range)})')
    base_cost = cost(space.nearest(at(1.0)))
    found = _crossings(logs, costs, budget.value, 1 if budget.value >= base_cost else -1)
    if not found:  # the budget lies within the neighbourhood of a grid point
        found = [min(range(len(logs) - 1), key=lambda i: abs(costs[i] - budget.value))]
    # Walk from the base: the crossing nearest to s = 1; bisect it on the nearest rounding, then
    # score the rounding neighbourhoods in a window around it.
    i = found[0]
    a, b = logs[i], logs[i + 1]
    below_at_a = costs[i] <= budget.value
    trail = []
    for _ in range(50):
        mid = (a + b) / 2
        trail.append(mid)
        if (cost(space.nearest(at(math.exp(mid)))) <= budget.value) == below_at_a:
            a = mid
        else:
            b = mid
    centre = a
    window = [centre + WINDOW * (2 * k / (WINDOW_POINTS - 1) - 1) for k in range(WINDOW_POINTS)]
    best = None
    for log_s in window + trail[-12:] + [logs[i_min]]:
        ideal = at(math.exp(log_s))
        for arch in space.neighbourhood(ideal):
            c = cost(arch)
            if c > budget.value:
                continue
            key = (c, -_distance(space, arch, ideal))
            if best is None or key > best[0]:
                best = (key, arch, math.exp(log_s))
    (c, _), arch, s = best
    return Scaled(arch, c, budget, s, cost.label, len(cost.cache))


def _estimator():
    """``arch -> seconds`` on this machine's roofline model (FLOPs if it cannot be had)."""
    try:
        from ..cost.devices import get_device
        device = get_device('local')
        return lambda arch: device.latency(analytic_cost(arch))
    except Exception:  # a roofline is a ranking aid here: FLOPs rank nearly as well
        return lambda arch: float(analytic_cost(arch).flops)


def _scale_measured(space, at, strategy, budget, cost, progress) -> Scaled:
    lo_s, hi_s = strategy.scale_range
    seen = set()  # this call's models (the cache may hold other strategies')

    def f(s):
        arch = space.nearest(at(s))
        seen.add(arch)
        if arch not in cost.cache:
            if analytic_cost(arch).flops > MEASURED_FLOPS_CAP:
                return math.inf
            v = cost(arch)
            progress(f'measured {describe(arch)}: {v:.3f} ms (s={s:.3g})')
        return cost.cache[arch]

    def unreachable(note):
        measured = [a for a in seen if a in cost.cache]
        cheapest = min(measured, key=cost.cache.get)
        return UnreachableBudget(budget, cost.cache[cheapest], max(map(cost.cache.get, measured)),
                                 note, smallest_arch=cheapest)

    # Bracket: double (or halve) s from the base until the budget lies between.
    s_lo = s_hi = 1.0
    if f(1.0) <= budget.value:
        while True:
            s_hi = s_lo * 2
            if s_hi > hi_s or f(s_hi) == math.inf:
                raise unreachable(f' (measured; models above {MEASURED_FLOPS_CAP / 1e9:g}G FLOPs '
                                  'or beyond the scale range are not tried)')
            if f(s_hi) > budget.value:
                break
            s_lo = s_hi
    else:
        while True:
            s_lo = s_hi / 2
            if s_lo < lo_s:
                f(lo_s)
                raise unreachable(' (measured)')
            if f(s_lo) <= budget.value:
                break
            s_hi = s_lo
    # Bisect until the two ends round to neighbouring models.
    for _ in range(8):
        mid = math.sqrt(s_lo * s_hi)
        if space.nearest(at(mid)) in (space.nearest(at(s_lo)), space.nearest(at(s_hi))):
            break
        if f(mid) <= budget.value:
            s_lo = mid
        else:
            s_hi = mid
    # Refine: the local device model (a roofline of this machine, overheads included), rescaled
    # to agree with the measurements at the bracket's two ends, ranks the neighbours in between;
    # measure the best-ranked ones below the budget, most promising first.
    estimate = _estimator()
    a_lo, a_hi = space.nearest(at(s_lo)), space.nearest(at(s_hi))
    e_lo, e_hi = estimate(a_lo), estimate(a_hi)
    r_lo, r_hi = cost.cache[a_lo] / e_lo, cost.cache[a_hi] / e_hi

    def predict(arch):
        e = estimate(arch)
        t = math.log(e / e_lo) / math.log(e_hi / e_lo) if e_hi != e_lo else 0.0
        return e * (r_lo + min(max(t, 0.0), 1.0) * (r_hi - r_lo))

    candidates = {}
    for i in range(-2, 11):  # the bracket, a little beyond each end
        s = s_lo * (s_hi / s_lo) ** (i / 8)
        for arch in space.neighbourhood(at(s)):
            if arch not in seen and arch not in candidates:
                candidates[arch] = predict(arch)
    for _ in range(MEASURED_REFINEMENTS):
        best = max((cost.cache[a] for a in seen if a in cost.cache
                    and cost.cache[a] <= budget.value), default=0.0)
        hopeful = {a: p for a, p in candidates.items()
                   if a not in seen and best < p <= 1.02 * budget.value}
        if not hopeful or best >= (1 - REFINED_ENOUGH) * budget.value:
            break
        arch = max(hopeful, key=hopeful.get)
        seen.add(arch)
        v = cost(arch)
        progress(f'measured {describe(arch)}: {v:.3f} ms (refinement; predicted '
                 f'{hopeful[arch]:.3f} ms)')
    within = {a: cost.cache[a] for a in seen if a in cost.cache and cost.cache[a] <= budget.value}
    arch = max(within, key=within.get)
    return Scaled(arch, within[arch], budget, s_lo, cost.label, len(cost.cache))
