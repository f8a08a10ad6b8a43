"""Accuracy against cost: collect finished runs, tabulate them, plot their Pareto fronts.

A run is anything mmengine's Runner left in a work dir: ``<work_dir>/<timestamp>/vis_data/
scalars.json`` (one JSON object per logged step; validation lines carry the metrics) and the
config it ran (``vis_data/config.py``). FLOPs and parameters come from the analytic model of the
config's backbone; latency is measured here when asked (or taken from the run's ``result.json``
when the job that trained it measured it), and so is the training-step peak memory
(``train_step_memory``: the resident-memory peak of one training step of the whole model, in a
fresh process).
"""
import glob
import json
import math
import os
import os.path as osp
import re
import subprocess
import sys
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
    train_mem_mb: Optional[float] = None  # training-step peak memory, MB (train_step_memory)
    train_mem_batch: Optional[int] = None

    def to_dict(self) -> dict:
        return asdict(self)


def _fmt(v, kind):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return '-'
    if kind == 'flops':
        return f'{v / 1e6:.1f}M' if v < 1e9 else f'{v / 1e9:.2f}G'
    if kind == 'params':
        return f'{v / 1e6:.3f}M'
    if kind == 'ap':
        return f'{v:.3f}'  # COCO's AP, a fraction
    if kind == 'acc':
        return f'{v:.4f}'  # mmaction2's top-1, a fraction, as its log prints it
    if kind == 'mb':
        return f'{v:.0f}'
    return f'{v:.2f}'  # ms, top-1


def _metric_kind(name: str) -> str:
    return 'ap' if name.startswith('coco/') else 'acc' if name.startswith('acc/') else 'metric'


def markdown_table(entries: Sequence[Entry]) -> str:
    """One row per entry; the training-memory column only when some entry has that figure."""
    metric = entries[0].metric_name if entries else 'top-1 (%)'
    batches = sorted({e.train_mem_batch for e in entries if e.train_mem_mb is not None})
    memory = bool(batches)
    head = ['model', 'family', 'budget', 'I d h e r', 'FLOPs', 'params', 'latency (ms)']
    if memory:
        head.append('train-step peak (MB, batch ' + '/'.join(str(b) for b in batches) + ')')
    head.append(metric)
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for e in entries:
        row = [e.name, e.group, e.budget or '-', e.desc or '-', _fmt(e.flops, 'flops'),
               _fmt(e.params, 'params'), _fmt(e.latency_ms, 'ms')]
        if memory:
            row.append(_fmt(e.train_mem_mb, 'mb'))
        row.append(_fmt(e.metric, _metric_kind(e.metric_name)))
        lines.append('| ' + ' | '.join(row) + ' |')
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
    if any(e.train_mem_mb is not None for e in entries):
        axes_spec.append(('train_mem_mb', 'training-step peak memory (MB)', 1))
    fig, axes = plt.subplots(1, len(axes_spec), figsize=(5.5 * len(axes_spec), 4.8))
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


def entry_from_run(scalars_path: str, measure: bool = False, group: str = '',
                   memory: bool = False, memory_batch: int = 8, clock: str = 'wall') -> Entry:
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
            recorded = json.load(f)
        e.latency_ms = recorded.get('latency_ms')
        e.train_mem_mb, e.train_mem_batch = (recorded.get('train_mem_mb'),
                                             recorded.get('train_mem_batch'))
    if memory:
        e.train_mem_mb = train_step_memory(cfg_path, memory_batch)['peak_mb']
        e.train_mem_batch = memory_batch
    if measure:
        from .cost.measure import measured_latency
        # clock='cpu': one thread's CPU time, what an idle machine shows, on a shared one
        threads = 1 if clock == 'cpu' else None
        e.latency_ms = measured_latency(arch, rounds=5, threads=threads,
                                        clock=clock).fastest_round_ms
    return e


def collect(paths: Sequence[str], measure: bool = False, memory: bool = False,
            memory_batch: int = 8, clock: str = 'wall') -> List[Entry]:
    return [entry_from_run(s, measure, memory=memory, memory_batch=memory_batch, clock=clock)
            for s in find_runs(paths)]


# -- training-step peak memory -------------------------------------------------------------------
# Measured, not modelled: the peak resident memory (Linux VmHWM) of the process during one
# training step, minus its resident memory before the model was built. So it holds the weights,
# gradients, optimizer state, the activations kept for backward, the input batch and the
# allocator's slack, as a GPU's training-memory figure does, and not the interpreter and
# libraries. In a fresh process, with glibc's mmap threshold fixed so that freed tensors go back
# to the system (otherwise the heap keeps them and a later peak hides inside it).
MALLOC_ENV = {'MALLOC_MMAP_THRESHOLD_': '65536', 'MALLOC_TRIM_THRESHOLD_': '65536'}


def proc_kb(key: str) -> int:
    with open('/proc/self/status') as f:
        return int(re.search(rf'^{key}:\s+(\d+) kB', f.read(), re.M)[1])


def reset_peak_rss():
    """Reset this process's VmHWM (peak resident memory) to its current VmRSS."""
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')


def _tensors(out):
    import torch
    if isinstance(out, torch.Tensor):
        yield out
    elif isinstance(out, (list, tuple)):
        for o in out:
            yield from _tensors(o)
    elif isinstance(out, dict):
        for o in out.values():
            yield from _tensors(o)


def measure_train_step_here(config: str, batch_size: int, cfg_options: Optional[dict] = None) -> dict:
    """This process's peak memory over one training step of ``config``'s whole model (after a
    warm-up step, so that gradients and optimizer state exist): forward in ``mode='tensor'``, the
    mean of the outputs as the loss (the task losses add a few heatmap-sized tensors),
    backward, the config's optimizer step (its constructor, clipping), zero_grad. Call it in a
    fresh process: ``train_step_memory`` does."""
    import ctypes
    import gc

    import torch
    from mmengine.optim import build_optim_wrapper

    from .cost.config import build_model, default_shape, model_inputs

    trim = getattr(ctypes.CDLL('libc.so.6'), 'malloc_trim', None)

    def settle():
        gc.collect()
        if trim is not None:
            trim(0)

    build_model(config, cfg_options)  # a throwaway: the imports and registries it pulls in stay
    settle()
    base = proc_kb('VmRSS')
    cfg, model = build_model(config, cfg_options)
    model.train()
    x, kwargs = model_inputs(model, default_shape(model), batch_size)
    wrapper = build_optim_wrapper(model, cfg.get('optim_wrapper') or dict(
        type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-4)))

    def step():
        loss = sum(t.float().mean() for t in _tensors(model(x, **kwargs)))
        loss.backward()
        wrapper.step()
        wrapper.zero_grad()

    step()
    settle()
    reset_peak_rss()
    step()
    peak = proc_kb('VmHWM')
    return dict(peak_mb=(peak - base) / 1024, batch_size=batch_size, input_shape=list(x.shape),
                params=sum(p.numel() for p in model.parameters()),
                threads=torch.get_num_threads())


def train_step_memory(config: str, batch_size: int = 8, threads: int = 1,
                      cfg_options: Optional[dict] = None, timeout: float = 1800) -> dict:
    """``measure_train_step_here`` in a fresh Python process (``threads`` intra-op threads);
    returns its dict (``peak_mb`` first)."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f'batch_size={batch_size!r} is invalid: expected a positive integer')
    code = ('import json, sys, torch; torch.set_num_threads(int(sys.argv[3])); '
            'from vit_scaled.report import measure_train_step_here as m; '
            'print("RESULT " + json.dumps(m(sys.argv[1], int(sys.argv[2]), '
            'json.loads(sys.argv[4]) or None)))')
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), **MALLOC_ENV)
    root = osp.dirname(osp.dirname(osp.abspath(__file__)))
    env['PYTHONPATH'] = os.pathsep.join(filter(None, [root, env.get('PYTHONPATH')]))
    proc = subprocess.run([sys.executable, '-c', code, config, str(batch_size), str(threads),
                           json.dumps(cfg_options or {})],
                          capture_output=True, text=True, env=env, timeout=timeout)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith('RESULT ')]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ['no output'])[-1]
        raise RuntimeError(f'measuring the training memory of {config!r} failed: {tail}')
    return json.loads(lines[-1][len('RESULT '):])


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
