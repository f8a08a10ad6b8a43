"""Transfers, the study's two questions: does a strategy found on DeiT work for PiT, and does a
strategy found for one device work on another?

- ``to_pit``: the same rates on PiT's dimensions, per stage: every stage's depth grows at the
  depth rate (each rounded on its own), the base heads at the heads rate (stages keep h-2h-4h),
  and the input on PiT's stride grid instead of the patch grid.
- ``cross_device``: for each target device, the base scaled to the same latency budget on that
  device with every strategy (the target's own and the others'): the study's cross-device table.
  Latency comes from the device models; accuracy, when asked, from the proxy training.
"""
import os
from typing import Callable, Dict, List, Mapping, Optional

from ..cost.analytic import analytic_cost
from .budget import Budget, format_cost, make_cost
from .scaler import UnreachableBudget, scale
from .space import describe, family_of
from ..families import get_family
from .strategy import NAMED_MULTIPLES, Rounding, Strategy


def transfer(strategy: Strategy, family: str) -> Strategy:
    """A strategy re-expressed for another family: the same rates on that family's dimensions
    (PiT: per-stage depths, heads h-2h-4h) and inputs rounded on its grid (PiT's stride)."""
    if strategy.family == family:
        return strategy
    rounding = dict(strategy.rounding)
    named = get_family(family).img_rounding
    r = rounding['img_size']
    if r.multiple in NAMED_MULTIPLES and r.multiple != named:
        rounding['img_size'] = Rounding(named, r.min, r.max)
    return strategy.replace(family=family, rounding=rounding,
                            name=f'{strategy.name or "strategy"}-to-{family}',
                            notes=(strategy.notes + ' ' if strategy.notes else '') +
                            f'Transferred from {strategy.family} to {family}: the same rates on '
                            f'its dimensions, inputs rounded to its {named} grid.')


def to_pit(strategy: Strategy) -> Strategy:
    """A DeiT strategy re-expressed for PiT (a PiT strategy is returned unchanged)."""
    return transfer(strategy, 'pit')


def _applicable(strategy: Strategy, base) -> Strategy:
    return transfer(strategy, family_of(base))


def cross_device(base, strategies: Mapping[str, Strategy], budgets: Mapping[str, Budget],
                 accuracy: Optional[Callable] = None, batch_size: int = 1,
                 num_classes: int = 0) -> List[dict]:
    """One row per (target device, strategy origin). ``budgets[device]`` is a latency budget;
    ``accuracy(arch) -> top-1 %`` (optional) trains each model. A strategy that cannot reach a
    target's budget (its rounding floors stop it) gets a row with ``unreachable`` set to the
    smallest latency it reaches there, instead of ending the table."""
    rows = []
    for target, budget in budgets.items():
        cost = make_cost('latency', device=target, batch_size=batch_size, num_classes=num_classes)
        for origin, strategy in strategies.items():
            try:
                r = scale(base, _applicable(strategy, base), budget, cost=cost)
            except UnreachableBudget as e:
                rows.append(dict(target=target, strategy=origin, own=origin == target,
                                 budget_ms=budget.value, unreachable=e.smallest))
                continue
            c = analytic_cost(r.arch, 1, num_classes)
            rows.append(dict(target=target, strategy=origin, own=origin == target,
                             desc=describe(r.arch), arch=r.arch, latency_ms=r.cost,
                             budget_ms=budget.value, flops=c.flops, params=c.params,
                             top1=accuracy(r.arch) if accuracy else None))
    return rows


def cross_device_markdown(rows: List[dict]) -> str:
    """Targets down, strategy origins across; each cell the model, its latency on the target,
    and its accuracy when trained."""
    targets = list(dict.fromkeys(r['target'] for r in rows))
    origins = list(dict.fromkeys(r['strategy'] for r in rows))
    cell = {(r['target'], r['strategy']): r for r in rows}
    lines = ['| target device (budget) | ' + ' | '.join(f'strategy of {o}' for o in origins) + ' |',
             '|---' * (len(origins) + 1) + '|']
    for t in targets:
        first = cell[(t, origins[0])]
        out = [f'{t} ({format_cost("latency", first["budget_ms"])})']
        for o in origins:
            r = cell[(t, o)]
            if 'unreachable' in r:
                out.append(f'unreachable (its smallest model: {r["unreachable"]:.2f} ms)')
                continue
            acc = '' if r['top1'] is None else f', {r["top1"]:.2f}%'
            mark = ' (own)' if r['own'] else ''
            out.append(f'{r["desc"]}: {r["latency_ms"]:.2f} ms, '
                       f'{format_cost("flops", r["flops"])}{acc}{mark}')
        lines.append('| ' + ' | '.join(out) + ' |')
    return '\n'.join(lines)


def cached_accuracy(config: str, epochs: int, work_dir: str, seed: int = 0,
                    progress: Callable[[str], None] = print) -> Callable:
    """``arch -> top-1 %`` by proxy training on ``config``'s data, cached in the same kind of
    table as the search's (``work_dir/candidates.jsonl``), so a rerun trains nothing twice."""
    from .search import Table, candidate_key, candidate_row
    from .train import ProxyTrainer
    trainer = ProxyTrainer(config, epochs, os.path.join(work_dir, 'runs'), seed, report=progress)
    table = Table(os.path.join(work_dir, 'candidates.jsonl'))

    def accuracy(arch) -> float:
        key = candidate_key(arch, trainer.proxy)
        if key not in table.candidates:
            progress(f'[transfer] training {describe(arch)} ({epochs} epochs)')
            table.append(candidate_row(arch, key, trainer(arch, key), trainer.proxy))
        return table.candidates[key]['top1']
    return accuracy


def device_budgets(base, devices, ratio: float, batch_size: int = 1,
                   num_classes: int = 0) -> Dict[str, Budget]:
    """Per device, ``ratio`` x the base's estimated latency there: the same relative budget."""
    return {d: Budget('latency', ratio * make_cost('latency', device=d, batch_size=batch_size,
                                                    num_classes=num_classes)(base))
            for d in devices}
