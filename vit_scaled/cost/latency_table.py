"""A table of measured latencies for fitting a predictor, taken so that a noisy figure is caught.

Each configuration is timed in ``rounds`` rounds (``measure``); its spread is max/min of the
rounds' medians minus one. A spread above ``max_spread`` means the rounds disagreed: something
else ran on the machine, or the threads did not settle. With ``passes`` > 1 the whole list is
measured again, pass after pass, each attempt in a model built anew, and each configuration
keeps its fastest attempt whose rounds agreed: on a virtual machine a slow spell or a slow
build can last through all of one attempt's rounds (seen here: the same configuration 12.1 ms
in one ONNX Runtime session, five rounds agreeing, and 8.4-9.3 ms in six fresh ones). Those
whose rounds still disagree are measured again after all the others, up to ``retries`` times.
Whatever is still above the threshold is marked untrusted: the fit leaves it out and the tool
names it with its spreads, rather than fitting on it silently.

The timing is a function ``arch -> Measurement`` (``path_timer`` builds the real one for a
deployment path), so the protocol can be driven by any timer, a deterministic one included.
"""
import csv
import json
import os.path as osp
import warnings
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Sequence

from ..families import family_of, get_family
from ..fileio import atomic_open
from .measure import Measurement, NoisyMeasurementWarning, deployed_backbone, measure

STATISTICS = ('median', 'best')


def path_timer(backend: str = 'torch', precision: str = 'fp32', threads: Optional[int] = None,
               batch_size: int = 1, **measure_kwargs) -> Callable[[object], Measurement]:
    """``arch -> Measurement`` of the backbone of ``arch`` on a deployment path
    (``cost/precision.py``), at ``threads`` (default: all this process may use)."""
    def time_arch(arch) -> Measurement:
        model, x = deployed_backbone(arch, batch_size, backend, precision, threads)
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', NoisyMeasurementWarning)  # the table reports it
            return measure(model, x, threads=threads, **measure_kwargs)
    return time_arch


@dataclass
class Row:
    arch: object
    latency_ms: float
    spread: float                 # of the kept attempt
    spreads: List[float] = field(default_factory=list)  # of every attempt, in order
    trusted: bool = True
    figures: List[float] = field(default_factory=list)  # every attempt's latency, in order
    passes: int = 1               # attempts that were passes over the whole list

    @property
    def remeasured(self) -> bool:
        """Measured again for disagreeing rounds, beyond the passes every row gets."""
        return len(self.spreads) > self.passes

    def keep(self, latency_ms: float, spread: float, max_spread: float):
        """Record an attempt and keep the best so far: among attempts whose rounds agreed, the
        fastest (on a shared machine other work only ever adds time); until one agrees, the
        one whose rounds agreed best."""
        self.spreads.append(spread)
        self.figures.append(latency_ms)
        clean, kept_clean = spread <= max_spread, self.spread <= max_spread
        if (clean and (not kept_clean or latency_ms < self.latency_ms)) or (
                not clean and not kept_clean and spread < self.spread):
            self.latency_ms, self.spread = latency_ms, spread

    @property
    def pass_spread(self) -> float:
        """How far this row's attempts' latencies lie apart: slowest over fastest, minus 1."""
        return max(self.figures) / min(self.figures) - 1 if self.figures else 0.0


def _figure(m: Measurement, statistic: str) -> float:
    return m.latency_ms if statistic == 'median' else m.best_ms


def measure_table(archs: Sequence, timer: Callable[[object], Measurement],
                  statistic: str = 'median', max_spread: float = 0.05, retries: int = 2,
                  progress: Callable[[str], None] = lambda msg: None,
                  passes: int = 1) -> List[Row]:
    """One ``Row`` per arch, in order. Every arch is measured with ``timer`` in each of
    ``passes`` passes over the whole list (so at moments minutes apart, each in a model built
    anew), keeping its fastest attempt whose rounds agreed (``Row.keep``): a slow spell of the
    machine, or a slow build, that lasts through one attempt's rounds does not become the
    figure. Those whose kept attempt's rounds disagree by more than ``max_spread`` are measured
    again (up to ``retries`` times, after all others); still disagreeing: ``trusted=False``.
    ``statistic``: the median round, or the fastest call (``best``)."""
    if statistic not in STATISTICS:
        raise ValueError(f'statistic={statistic!r} is invalid: choose one of {STATISTICS}')
    if passes < 1:
        raise ValueError(f'passes={passes} is invalid: at least 1')
    rows: List[Row] = []
    for p in range(passes):
        for i, arch in enumerate(archs):
            m = timer(arch)
            f = _figure(m, statistic)
            if p == 0:
                rows.append(Row(arch, f, m.spread, [m.spread], figures=[f], passes=passes))
            else:
                rows[i].keep(f, m.spread, max_spread)
            progress(f'[{"" if passes == 1 else f"pass {p + 1}, "}{i + 1}/{len(archs)}] '
                     f'{_name(arch)}: {f:.2f} ms (rounds spread {100 * m.spread:.1f}%)'
                     + (f' -> kept {rows[i].latency_ms:.2f} ms' if p else ''))
    if passes > 1:
        apart = [r for r in rows if r.pass_spread > max_spread]
        progress(f'{len(apart)} of {len(rows)} configuration(s) differed between passes by more '
                 f'than {100 * max_spread:.0f}% (the fastest agreeing attempt is kept)'
                 + ''.join(f'\n  {_name(r.arch)}: ' + ', '.join(f'{x:.2f}' for x in r.figures)
                           + ' ms' for r in apart[:10])
                 + ('\n  ...' if len(apart) > 10 else ''))
    for attempt in range(1, retries + 1):
        noisy = [i for i, r in enumerate(rows) if r.spread > max_spread]
        if not noisy:
            break
        progress(f're-measuring {len(noisy)} configuration(s) whose rounds disagreed by more '
                 f'than {100 * max_spread:.0f}% (attempt {attempt + 1} of {retries + 1}): '
                 + ', '.join(f'{_name(rows[i].arch)} ({100 * rows[i].spread:.1f}%)'
                             for i in noisy))
        for i in noisy:
            m, r = timer(rows[i].arch), rows[i]
            r.keep(_figure(m, statistic), m.spread, max_spread)
            progress(f'  {_name(r.arch)}: spread {100 * m.spread:.1f}% -> kept '
                     f'{r.latency_ms:.2f} ms (spread {100 * r.spread:.1f}%)')
    for r in rows:
        r.trusted = r.spread <= max_spread
    return rows


def noisy_report(rows: Sequence[Row], max_spread: float) -> List[str]:
    """A line per untrusted row: the configuration and the spread of each of its attempts."""
    return [f'{_name(r.arch)}: rounds disagreed by '
            + ', '.join(f'{100 * s:.1f}%' for s in r.spreads)
            + f' in {len(r.spreads)} attempt(s) (> {100 * max_spread:.0f}%)'
            for r in rows if not r.trusted]


def _name(arch) -> str:
    from ..scaling.space import describe
    return describe(arch)


FIELDS = ('family', 'arch', 'latency_ms', 'spread', 'spreads', 'trusted', 'figures', 'passes')


def settings_path(path: str) -> str:
    return osp.splitext(path)[0] + '.settings.json'


def save_table(path: str, rows: Sequence[Row], settings: Optional[dict] = None):
    """A CSV of (family, architecture as JSON, latency, spreads, trusted): any family's values
    round-trip. ``settings`` (how it was measured: backend, threads, clock...) go beside it, in
    ``settings_path(path)``, so that a refit records them."""
    if settings is not None:
        with atomic_open(settings_path(path), 'w') as f:
            json.dump(settings, f, indent=2)
    with atomic_open(path, 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(FIELDS)
        for r in rows:
            w.writerow([family_of(r.arch).name, json.dumps(r.arch.to_dict(), sort_keys=True),
                        r.latency_ms, r.spread, json.dumps(r.spreads), int(r.trusted),
                        json.dumps(r.figures), r.passes])


def load_table(path: str) -> List[Row]:
    """The rows of a file of ``save_table`` (a file with only family, arch and latency, from an
    earlier version, reads as trusted rows of unknown spread)."""
    with open(path) as f:
        rows = list(csv.DictReader(f))
    out = []
    for r in rows:
        arch = get_family(r['family']).arch_type(**json.loads(r['arch']))
        spread = float(r.get('spread') or 0.0)
        out.append(Row(arch, float(r['latency_ms']), spread,
                       json.loads(r.get('spreads') or '[]'), bool(int(r.get('trusted') or 1)),
                       json.loads(r.get('figures') or '[]'), int(r.get('passes') or 1)))
    return out


def load_settings(path: str) -> dict:
    """How the table at ``path`` was measured ({} for a table saved without settings)."""
    if not osp.isfile(settings_path(path)):
        return {}
    with open(settings_path(path)) as f:
        return json.load(f)
