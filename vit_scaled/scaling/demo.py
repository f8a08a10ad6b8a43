"""The main job (``make demo``): scale the digits config's DeiT-Tiny-like model for this machine
under a FLOPs budget and under a measured-latency budget, train the family briefly, and report
accuracy against FLOPs and measured latency beside the naive DeiT scaling at the same budgets.

Every number in the report is produced by the run: FLOPs and parameters by the analytic model,
latency by measuring each model here, top-1 by training it on the digits train split and
validating on the held-out split. The strategies are read from files (found beforehand by
``tools/search_strategy.py``, whose command each file records); ``--search`` finds a fresh one
instead, which takes longer than the 15-minute budget of the default run.
"""
import json
import os.path as osp
import platform
import time
from dataclasses import asdict, dataclass, replace
from typing import Callable, List, Optional

import torch

from ..cli import command_line
from ..cost.analytic import analytic_cost
from ..cost.measure import measured_latency
from ..fileio import atomic_open
from . import configs
from .budget import Budget, format_cost, make_cost
from .scaler import UnreachableBudget, scale
from .space import describe
from .strategy import load_strategy
from .train import top1_of, train_arch


@dataclass
class DemoSettings:
    config: str = 'configs/classification/deit-tiny_digits.py'
    strategy: str = 'configs/scaling/deit_digits_flops.yaml'
    latency_strategy: str = 'configs/scaling/deit_digits_latency.yaml'
    baseline: str = 'configs/scaling/deit_width.yaml'
    flops_ratio: float = 0.5      # the FLOPs budget, as a share of the base model's
    latency_ratio: float = 0.5    # the latency budget, as a share of the base's measured latency
    epochs: Optional[int] = None  # training epochs per model, at most (None: the config's)
    min_epochs: int = 3
    time_budget: float = 13.0     # minutes for the whole run: fewer epochs if this machine is slow
    out: str = 'work_dirs/demo'
    seed: int = 0
    rounds: int = 5               # latency measurement rounds per model


class Clock:
    def __init__(self, log: Callable[[str], None]):
        self.t0, self.log = time.perf_counter(), log

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.t0

    def __call__(self, msg: str):
        m, s = divmod(int(self.seconds), 60)
        self.log(f'[demo {m:02d}:{s:02d}] {msg}')


def _machine() -> str:
    from ..cost.measure import default_threads
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            cpu = next(line.split(':', 1)[1].strip() for line in f if line.startswith('model name'))
    except (OSError, StopIteration):
        pass
    return f'{cpu}, {default_threads()} threads, torch {torch.__version__}'


def run_demo(s: DemoSettings, log: Callable[[str], None] = print,
             command: Optional[str] = None) -> dict:
    threads = torch.get_num_threads()
    try:
        return _run(s, log, command)
    finally:
        torch.set_num_threads(threads)


def _run(s: DemoSettings, log: Callable[[str], None], command: Optional[str]) -> dict:
    from ..report import Entry, write_report

    clock = Clock(log)
    command = command or command_line()
    cfg, base, ncls = configs.load_base(s.config)
    strategies = {'flops': load_strategy(s.strategy), 'latency': load_strategy(s.latency_strategy),
                  'baseline': load_strategy(s.baseline)}
    clock(f'base model {describe(base)} from {s.config}; measuring its latency here '
          f'({_machine()})')
    threads, timing = _timing(base, clock)
    torch.set_num_threads(threads)  # training too: on a busy machine two threads thrash
    # Drift-corrected: the base is the reference every later measurement is scaled to.
    lat_cost = make_cost('latency', threads=threads, clock='cpu' if threads == 1 else 'wall',
                         rounds=s.rounds)
    base_flops = analytic_cost(base, 1, ncls).flops
    base_ms = lat_cost(base)
    budgets = {'flops': Budget('flops', s.flops_ratio * base_flops),
               'latency': Budget('latency', s.latency_ratio * base_ms)}
    clock(f'base: {format_cost("flops", base_flops)} FLOPs, {base_ms:.2f} ms; budgets '
          f'{budgets["flops"]} ({s.flops_ratio:g} x base) and {budgets["latency"]} '
          f'({s.latency_ratio:g} x base, measured)')

    # The family: the base, then per budget the strategy's model and the baseline's.
    flops_cost = make_cost('flops', num_classes=ncls)
    models = [dict(name='base', group='unscaled base (DeiT-Tiny-like)', arch=base, budget='-')]
    for kind, cost in (('flops', flops_cost), ('latency', lat_cost)):
        for role, strategy in (('scaled', strategies[kind]), ('baseline', strategies['baseline'])):
            clock(f'scaling for {budgets[kind]} with {strategy.name} ({role})')
            budget_note = str(budgets[kind])
            try:
                r = scale(base, strategy, budgets[kind], cost=cost,
                          progress=lambda m: clock(f'  {m}'))
                arch = r.arch
                clock(f'  -> {describe(arch)}: {format_cost(kind, r.cost)} '
                      f'({100 * r.below:.1f}% below)')
            except UnreachableBudget as e:  # e.g. width alone cannot shed enough latency
                arch = e.smallest_arch
                budget_note += f' (unreachable: {format_cost(kind, e.smallest)} at the least)'
                clock(f'  -> {e}; keeping its cheapest model, {describe(arch)}')
            group = (f'scaled ({strategy.name})' if role == 'scaled'
                     else f'baseline: DeiT width-only ({strategy.name})')
            models.append(dict(name=f'{role}-{kind}', group=group, arch=arch,
                               budget=budget_note, strategy=strategy.name))

    # Train each distinct architecture once, from the config written for it.
    trained = {}
    distinct = list(dict.fromkeys(m['arch'] for m in models))
    if s.epochs is None:
        s = replace(s, epochs=cfg.train_cfg.max_epochs)
    epochs = _epochs(s, distinct, clock)
    for i, arch in enumerate(distinct):
        m = next(m for m in models if m['arch'] == arch)
        cfg_path = osp.join(s.out, 'configs', f'{m["name"]}.py')
        configs.write_config(s.config, arch, cfg_path, header=(
            f'{m["name"]}: {describe(arch)}, budget {m["budget"]}; written by {command}'))
        clock(f'training {i + 1}/{len(distinct)}: {m["name"]} {describe(arch)} for {epochs} '
              f'epochs ({cfg_path})')
        res = train_arch(cfg_path, arch, osp.join(s.out, m['name']), epochs, seed=s.seed,
                         report=lambda msg: clock(f'  {m["name"]}: {msg}'))
        clock(f'  {m["name"]}: top-1 {top1_of(res["metrics"]):.2f}% in {res["seconds"]:.0f}s')
        trained[arch] = dict(res, config=cfg_path)

    clock(f'measuring the latency of {len(distinct)} models again, after training '
          f'({s.rounds} rounds each, against the base)')
    for arch, res in trained.items():
        ms = base_ms if arch == base else lat_cost.again(arch)
        res.update(latency_ms=ms, latency_spread=lat_cost.spread(arch))
        with atomic_open(osp.join(res['work_dir'], 'result.json'), 'w') as f:
            json.dump({k: v for k, v in res.items()}, f, indent=2)

    entries: List[Entry] = []
    for m in models:
        res = trained[m['arch']]
        c = analytic_cost(m['arch'], 1, ncls)
        entries.append(Entry(
            name=m['name'], group=m['group'], desc=describe(m['arch']), flops=c.flops,
            params=c.params, latency_ms=res['latency_ms'], metric=top1_of(res['metrics']),
            budget=m['budget'], source=res['log_dir'],
            extra=dict(top5=res['metrics'].get('accuracy/top5'), train_seconds=res['seconds'],
                       latency_spread=res['latency_spread'], config=res['config'])))
    wall = clock.seconds
    preamble = _preamble(s, command, base, base_flops, base_ms, budgets, strategies, wall, epochs,
                         timing)
    epilogue = _epilogue(entries, trained, s)
    paths = write_report(entries, s.out, f'Scaling DeiT-Tiny-like on digits for this machine',
                         preamble, epilogue)
    with atomic_open(osp.join(s.out, 'demo.json'), 'w') as f:
        json.dump(dict(settings=asdict(s), command=command, wall_seconds=wall,
                       machine=_machine(), base_latency_ms=base_ms,
                       budgets={k: str(b) for k, b in budgets.items()},
                       entries=[e.to_dict() for e in entries]), f, indent=2)
    clock(f'wrote {paths["report"]} and {paths["plot"]} ({wall / 60:.1f} min)')
    return dict(paths, entries=entries, wall_seconds=wall)


def _epochs(s: DemoSettings, archs: list, clock: Clock) -> int:
    """The most epochs (up to ``s.epochs``) that let every model train within the time budget,
    from a few timed training iterations of each model on this machine."""
    from .train import epoch_seconds
    per_epoch = sum(epoch_seconds(s.config, a) for a in archs)
    overhead = len(archs) * (8 + s.rounds) + 15  # runner set-up, validation, latency, report
    left = 60 * s.time_budget - clock.seconds - overhead
    fit = int(left / (1.15 * per_epoch)) if per_epoch > 0 else s.epochs
    epochs = max(s.min_epochs, min(s.epochs, fit))
    clock(f'one epoch of all {len(archs)} models: ~{per_epoch:.0f}s here; {left / 60:.1f} min '
          f'left of the {s.time_budget:g}-min budget: {epochs} epochs each'
          + ('' if fit >= s.epochs else f' (fewer than {s.epochs}: this machine is slow)'))
    return epochs


def _timing(base, clock: Clock):
    """``(threads, description)``: all threads on the wall clock when they beat one thread, else
    one thread on its CPU-time clock (a busy or one-core machine: two threads contending with
    other work slow each other down many times over, and wall time would measure the others)."""
    from ..cost.measure import default_threads
    n = default_threads()
    one = measured_latency(base, threads=1, clock='cpu').fastest_round_ms
    if n > 1:
        many = measured_latency(base, threads=n).fastest_round_ms
        if many <= 0.9 * one:
            clock(f'{n} threads: {many:.2f} ms, 1 thread: {one:.2f} ms: using {n} threads')
            return n, f'{n} threads, wall clock'
        clock(f'{n} threads: {many:.2f} ms, no faster than 1 thread ({one:.2f} ms CPU time): this '
              'machine is busy (or the model too small to split); using 1 thread and its CPU time')
    return 1, '1 thread, its CPU-time clock'


def _preamble(s, command, base, base_flops, base_ms, budgets, strategies, wall, epochs,
              timing) -> str:
    lines = [
        f'Produced by `{command}` (what `make demo` runs) in {wall / 60:.1f} min on '
        f'{_machine()}. Every number below was measured in that run.',
        '',
        f'- **Base**: the model of `{s.config}`, {describe(base)} (I input, d depth, h heads, '
        f'e head dim, r MLP ratio): {format_cost("flops", base_flops)} FLOPs, {base_ms:.2f} ms.',
        f'- **Budgets**: {budgets["flops"]} ({s.flops_ratio:g} x the base\'s FLOPs) and '
        f'{budgets["latency"]} ({s.latency_ratio:g} x the base\'s latency measured at the start '
        'of the run).',
    ]
    for key, label, path in (('flops', 'Strategy for the FLOPs budget', s.strategy),
                             ('latency', 'Strategy for the latency budget', s.latency_strategy),
                             ('baseline', 'Baseline (naive scaling)', s.baseline)):
        st = strategies[key]
        rates = ', '.join(f'{d} {r:+.2f}' for d, r in st.rates.items() if r)
        found = st.found_on.get('command', '')
        lines.append(f'- **{label}**: `{st.name}` (`{path}`), rates {rates}'
                     + (f'; found by `{found}`' if found else '')
                     + (f'. {st.notes}' if st.notes else ''))
    lines += [
        '- **FLOPs** are multiply-adds from the analytic model (`vit_scaled.cost.analytic`, with '
        'the 10-class head); **latency** is the backbone at batch 1 measured here with PyTorch '
        f'({timing}; `vit_scaled.cost.measure`: the fastest of {s.rounds} rounds, each the '
        'median of its calls, for the base; every other model timed with its calls alternating '
        'with the base\'s and reported as the base\'s figure times the ratio, so that other work '
        'on the machine cancels out); training used the same threads; **top-1** is on the digits '
        f'validation split (360 images) after {epochs} epochs of the config\'s recipe '
        '(mmengine Runner, the schedule squeezed into those epochs; the epoch count is the most '
        f'that fits the {s.time_budget:g}-minute budget on this machine, at most {s.epochs}).',
    ]
    return '\n'.join(lines)


def _epilogue(entries, trained, s) -> str:
    lines = ['Per model: the config it was trained from, its training time and the spread of its '
             'latency rounds (the base: of its own rounds; the others: of their ratios to the '
             'base).',
             '', '| model | config | training (s) | latency spread |', '|---|---|---|---|']
    for e in entries:
        lines.append(f'| {e.name} | `{e.extra["config"]}` | {e.extra["train_seconds"]:.0f} | '
                     f'{100 * e.extra["latency_spread"]:.1f}% |')
    lines += ['', f'Re-train one: `python tools/train.py {s.out}/configs/<model>.py`. '
              f'Re-collect this table from the work dirs: `python tools/report.py {s.out}/*`.',
              'Short trainings on a small set: differences of a point or two are within the '
              'noise of a single seed.']
    return '\n'.join(lines)


def search_strategies(s: DemoSettings, command: str, log: Callable[[str], None] = print,
                      settings: Optional[dict] = None) -> DemoSettings:
    """``--search``: find the FLOPs and the latency strategies on the demo's data (resumable:
    the tables are in ``<out>/search``), and return settings that use them. The latency search
    costs candidates with this machine's roofline model (``local``), as the committed strategy
    was found: measuring every candidate would add minutes per step."""
    from .search import search_config
    found = {}
    for kind, ratio in (('flops', s.flops_ratio), ('latency', s.latency_ratio)):
        work_dir = osp.join(s.out, 'search', kind)
        search_config(s.config, f'{kind}={ratio}x', work_dir,
                      out=osp.join(work_dir, 'strategy.yaml'),
                      device='local' if kind == 'latency' else None,
                      settings=settings or dict(samples=6, steps=2, proxy_epochs=10),
                      name=f'deit-digits-{kind}-searched', command=command, progress=log)
        found[kind] = osp.join(work_dir, 'strategy.yaml')
    return replace(s, strategy=found['flops'], latency_strategy=found['latency'])
