"""Accuracy against cost: collect finished runs, tabulate them, plot their Pareto fronts.

A run is anything mmengine's Runner left in a work dir: ``<work_dir>/<timestamp>/vis_data/
scalars.json`` (one JSON object per logged step; validation lines carry the metrics) and the
config it ran (``vis_data/config.py``). FLOPs and parameters come from the analytic model of the
config's backbone; latency is measured here when asked (or taken from the run's ``result.json``
when the job that trained it measured it).
"""
import glob
import json
import math
import os
import os.path as osp
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Sequence

from .fileio import atomic_open, write_atomically

# Which validation metric a run is ranked by, first match wins (classification, detection,
# pose, video as mmpretrain / mmdet / mmpose / mmaction2 name them).
METRIC_KEYS = ('accuracy/top1', 'acc/top1', 'top1', 'coco/bbox_mAP', 'coco/AP', 'acc/top1_acc')


@dataclass
class Entry:
    name: str
    group: str                      # a family of models, one line in the plot
    desc: str = ''                  # I d h e r
    flops: Optional[float] = None   # multiply-adds
    params: Optional[float] = None
    latency_ms: Optional[float] = None
    metric: Optional[float] = None  # top-1 % for classification
    metric_name: str = 'top-1 (%)'
    budget: str = ''
    source: str = ''
    extra: Dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def _fmt(v, kind):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return '-'
    if kind == 'flops':
        return f'{v / 1e6:.1f}M' if v < 1e9 else f'{v / 1e9:.2f}G'
    if kind == 'params':
        return f'{v / 1e6:.3f}M'
    return f'{v:.2f}'  # ms, top-1


def markdown_table(entries: Sequence[Entry]) -> str:
    metric = entries[0].metric_name if entries else 'top-1 (%)'
    head = ['model', 'family', 'budget', 'I d h e r', 'FLOPs', 'params', 'latency (ms)', metric]
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for e in entries:
        lines.append('| ' + ' | '.join([
            e.name, e.group, e.budget or '-', e.desc or '-', _fmt(e.flops, 'flops'),
            _fmt(e.params, 'params'), _fmt(e.latency_ms, 'ms'), _fmt(e.metric, 'metric')]) + ' |')
    return '\n'.join(lines)


def pareto_front(points: Sequence[tuple]) -> List[int]:
    """Indices of the (cost, accuracy) points no other point beats on both, by cost."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    front, best = [], -math.inf
    for i in order:
        if points[i][1] > best:
            front.append(i)
            best = points[i][1]
    return front


def pareto_plot(entries: Sequence[Entry], path: str, title: str = '') -> str:
    """Accuracy against FLOPs and against measured latency, one colour per group, each group's
    Pareto front drawn as a line. Written atomically as PNG."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    axes_spec = [('flops', 'FLOPs (M multiply-adds)', 1e-6), ('latency_ms', 'latency here (ms)', 1)]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.8))
    groups = list(dict.fromkeys(e.group for e in entries))
    markers = 'os^Dv<>p*h'
    for ax, (key, label, unit) in zip(axes, axes_spec):
        for gi, g in enumerate(groups):
            pts = [(getattr(e, key) * unit, e.metric, e.name) for e in entries
                   if e.group == g and getattr(e, key) is not None and e.metric is not None]
            if not pts:
                continue
            xs, ys, names = zip(*pts)
            ax.scatter(xs, ys, marker=markers[gi % len(markers)], s=46, label=g, zorder=3)
            front = pareto_front(list(zip(xs, ys)))
            ax.plot([xs[i] for i in front], [ys[i] for i in front], alpha=0.6, zorder=2)
            for x, y, n in pts:
                ax.annotate(n, (x, y), textcoords='offset points', xytext=(4, 4), fontsize=7)
        ax.set_xlabel(label)
        ax.set_ylabel(entries[0].metric_name if entries else 'top-1 (%)')
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=8, loc='lower center', ncol=min(len(labels), 3),
               frameon=False)  # below the plots, where it hides no point
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    with atomic_open(path, 'wb') as f:
        fig.savefig(f, format='png', dpi=120)
    plt.close(fig)
    return path


# -- collecting runs ----------------------------------------------------------------------------
def last_metrics(scalars_path: str) -> Dict[str, float]:
    """The metrics of the last validation logged in an mmengine ``scalars.json``."""
    last = {}
    with open(scalars_path) as f:
        for line in f:
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if any(k in row for k in METRIC_KEYS):
                last = row
    return last


def main_metric(metrics: Dict[str, float]):
    for k in METRIC_KEYS:
        if k in metrics:
            return k, float(metrics[k])
    return None, None


def find_runs(paths: Sequence[str]) -> List[str]:
    """Every ``scalars.json`` under the given work dirs (or globs), newest run per work dir."""
    found = {}
    for p in paths:
        for root in sorted(glob.glob(p)) or [p]:
            for s in sorted(glob.glob(osp.join(root, '**', 'vis_data', 'scalars.json'),
                                      recursive=True)):
                run_dir = osp.dirname(osp.dirname(s))           # <work_dir>/<timestamp>
                work_dir = osp.dirname(run_dir)
                if last_metrics(s):                              # skip runs with no validation
                    found[work_dir] = max(found.get(work_dir, s), s)  # timestamps sort in time
    return [found[k] for k in sorted(found)]


def entry_from_run(scalars_path: str, measure: bool = False, group: str = '') -> Entry:
    from mmengine.config import Config

    from .cost.analytic import analytic_cost
    from .scaling import configs
    from .scaling.space import describe

    run_dir = osp.dirname(osp.dirname(scalars_path))
    work_dir = osp.dirname(run_dir)
    metrics = last_metrics(scalars_path)
    key, value = main_metric(metrics)
    e = Entry(name=osp.basename(work_dir), group=group or 'runs', metric=value,
              metric_name={'accuracy/top1': 'top-1 (%)'}.get(key, key or 'metric'),
              source=run_dir, extra={'metrics': metrics})
    cfg_path = osp.join(run_dir, 'vis_data', 'config.py')
    try:
        cfg = Config.fromfile(cfg_path)
        arch = configs.arch_of(cfg)
    except Exception as err:  # not a DeiT/PiT model, or no config: accuracy only
        e.extra['cost_error'] = f'{type(err).__name__}: {err}'
        return e
    c = analytic_cost(arch, 1, configs.num_classes_of(cfg))
    e.desc, e.flops, e.params = describe(arch), c.flops, c.params
    result = osp.join(work_dir, 'result.json')
    if osp.exists(result):
        with open(result) as f:
            e.latency_ms = json.load(f).get('latency_ms')
    if measure:
        from .cost.measure import measured_latency
        e.latency_ms = measured_latency(arch, rounds=5).fastest_round_ms
    return e


def collect(paths: Sequence[str], measure: bool = False) -> List[Entry]:
    return [entry_from_run(s, measure) for s in find_runs(paths)]


def write_report(entries: Sequence[Entry], out_dir: str, title: str, preamble: str = '',
                 epilogue: str = '') -> Dict[str, str]:
    """``report.md`` (the table and the plot), ``pareto.png`` and ``results.json`` in
    ``out_dir``."""
    os.makedirs(out_dir, exist_ok=True)
    png = pareto_plot(entries, osp.join(out_dir, 'pareto.png'), title)
    md = [f'# {title}', '', preamble.strip(), '', markdown_table(entries), '',
          '![accuracy vs FLOPs and latency](pareto.png)', '', epilogue.strip(), '']
    paths = {'report': osp.join(out_dir, 'report.md'), 'plot': png,
             'results': osp.join(out_dir, 'results.json')}
    for path, text in ((paths['report'], '\n'.join(md)),
                       (paths['results'], json.dumps([e.to_dict() for e in entries], indent=2))):
        write_atomically(path, text)
    return paths
