"""Measured latency and throughput of a built model, through PyTorch or through ONNX Runtime.

A measurement warms up, fixes the thread count (and reports it), then runs ``rounds`` rounds of
``iters`` timed calls each. Each round's statistic is the median call; the result is the median
of the rounds, and its spread is max/min of the rounds minus one. Re-measuring is what the rounds
do, so a spread above ``max_spread`` (5 %) means the machine is too noisy to trust the figure:
the result says so and a ``NoisyMeasurementWarning`` is raised. On a GPU every call is
synchronised before the clock is read.

Several models can be timed with their calls interleaved (``time_interleaved``), so that whatever
else the machine does slows them alike: ``paired_ratio`` compares two architectures that way, and
``DriftCorrected`` expresses every latency in the conditions of a first, reference measurement.

``clock='cpu'`` reads the calling thread's CPU time instead of the wall clock. With one thread that
is the latency the call would have on an idle machine, which makes measurements on a shared
machine repeatable (time spent descheduled is not counted); it is refused for more threads.
"""
import contextlib
import dataclasses
import functools
import os
import statistics
import tempfile
import time
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn

BACKENDS = ('torch', 'onnxruntime')
CLOCKS = {'wall': time.perf_counter, 'cpu': time.thread_time}


class NoisyMeasurementWarning(UserWarning):
    """Rounds of the same measurement disagree by more than the allowed spread."""


def default_threads() -> int:
    """The CPUs this process may run on (a container's share, not the host's)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()


@dataclass
class Measurement:
    backend: str
    device: str
    batch_size: int
    threads: int
    warmup: int
    iters: int
    round_ms: List[float]          # median latency of one call (one batch), per round
    best_ms: float = 0.0           # the fastest call: interference only ever adds time
    max_spread: float = 0.05
    clock: str = 'wall'

    @property
    def latency_ms(self) -> float:
        return statistics.median(self.round_ms)

    @property
    def fastest_round_ms(self) -> float:
        """The fastest round's median call: on a shared machine other work only ever adds time,
        so the least disturbed round is the most repeatable figure (``timeit``'s reasoning)."""
        return min(self.round_ms)

    @property
    def spread(self) -> float:
        return max(self.round_ms) / min(self.round_ms) - 1

    @property
    def throughput(self) -> float:
        """Images per second."""
        return self.batch_size * 1000 / self.latency_ms

    @property
    def noisy(self) -> bool:
        return self.spread > self.max_spread

    def summary(self) -> str:
        s = (f'{self.backend} on {self.device}, batch {self.batch_size}, {self.threads} threads'
             f'{", CPU-time clock" if self.clock == "cpu" else ""}: '
             f'latency {self.latency_ms:.3f} ms (median of {len(self.round_ms)} rounds x '
             f'{self.iters} calls, spread {100 * self.spread:.1f}%), '
             f'throughput {self.throughput:.1f} img/s')
        if self.noisy:
            s += f'\nWARNING: {noise_message(self)}'
        return s

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d.update(latency_ms=self.latency_ms, spread=self.spread, throughput=self.throughput,
                 noisy=self.noisy)
        return d


def noise_message(m: Measurement) -> str:
    hint = '' if m.clock == 'cpu' else ", or time one thread's CPU time (--threads 1 --clock cpu)"
    return (f'the machine is too noisy: rounds disagree by {100 * m.spread:.1f}% '
            f'(> {100 * m.max_spread:.0f}%); close other work, raise --rounds/--iters{hint}')


@contextlib.contextmanager
def torch_threads(n: int):
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def iters_for(round_s: float, per_call_s: float) -> int:
    """Calls per timing round so that a round lasts about ``round_s`` (3 to 200)."""
    return max(3, min(200, int(round_s / max(per_call_s, 1e-6))))


def time_interleaved(runs: Sequence[Callable[[], Any]], sync: Callable[[], None] = lambda: None,
                     *, warmup: int = 10, rounds: int = 5, iters: Optional[int] = None,
                     round_s: float = 0.5, clock: Callable[[], float] = time.perf_counter
                     ) -> Tuple[List[List[List[float]]], int]:
    """The one timing loop: milliseconds of each call, ``times[round][run][call]``. Several runs
    alternate call by call (A, B, A, B, ...), so that whatever else the machine does slows them
    alike. ``iters`` None sizes a round (``iters`` calls of every run) to ``round_s``."""
    def timed(run):
        t = clock()
        run()
        sync()
        return clock() - t

    warm = [[timed(run) for run in runs] for _ in range(max(warmup, 0 if iters else 1))]
    if iters is None:  # sizing needs at least one call of each run
        iters = iters_for(round_s, sum(statistics.median(col[-3:]) for col in zip(*warm)))
    times = []
    for _ in range(rounds):
        calls = [[] for _ in runs]
        for _ in range(iters):
            for run, ms in zip(runs, calls):
                ms.append(1000 * timed(run))
        times.append(calls)
    return times, iters


def time_calls(run: Callable[[], Any], sync: Callable[[], None] = lambda: None, *,
               warmup: int = 10, rounds: int = 5, iters: Optional[int] = None,
               round_s: float = 0.5, clock: Callable[[], float] = time.perf_counter
               ) -> Tuple[List[List[float]], int]:
    """Milliseconds of each call of one ``run``, per round (``time_interleaved`` of one run)."""
    times, iters = time_interleaved([run], sync, warmup=warmup, rounds=rounds, iters=iters,
                                    round_s=round_s, clock=clock)
    return [calls for (calls,) in times], iters


def median_round_ratio(times: List[List[List[float]]]) -> Tuple[float, float]:
    """``(ratio, spread)`` of two interleaved runs (``time_interleaved([a, b])``): per round the
    ratio of the median calls, b over a; the median of those ratios, and their max/min minus 1."""
    ratios = [statistics.median(b) / statistics.median(a) for a, b in times]
    return statistics.median(ratios), max(ratios) / min(ratios) - 1


def _device_of(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device('cpu')


class _Bound(nn.Module):
    """``model(x, **kwargs)`` as a one-input module, for export."""

    def __init__(self, model: nn.Module, kwargs: dict):
        super().__init__()
        self.model, self.kwargs = model, kwargs

    def forward(self, x):
        return self.model(x, **self.kwargs)


def torch_runner(model: nn.Module, x: torch.Tensor, kwargs: Optional[dict] = None):
    model.eval()
    kwargs = kwargs or {}

    def run():
        with torch.inference_mode():
            model(x, **kwargs)
    return run


def export_onnx(model: nn.Module, x: torch.Tensor, path: str, kwargs: Optional[dict] = None,
                opset: int = 17) -> str:
    """``torch.onnx.export`` with the TorchScript exporter (``dynamo=False``): the torch.export
    one needs ``onnxscript``, which the toolkit does not install."""
    from .config import BadInput
    model.eval()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter('ignore')  # the legacy exporter's deprecation and tracer chatter
        try:
            torch.onnx.export(_Bound(model, kwargs or {}), (x,), path, dynamo=False,
                              opset_version=opset, input_names=['input'])
        except Exception as e:
            msg = str(e).splitlines()[0] if str(e) else ''
            raise BadInput(f'{type(model).__name__} cannot be exported to ONNX, so it cannot run '
                           f'on onnxruntime: {type(e).__name__}: {msg}') from e
    return path


def onnxruntime_runner(model: nn.Module, x: torch.Tensor, threads: int,
                       kwargs: Optional[dict] = None, path: Optional[str] = None):
    """Export ``model`` to ONNX (kept at ``path`` if given) and run it on the CPU."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    with tempfile.TemporaryDirectory() as tmp:  # the session holds the model once created
        path = export_onnx(model, x.cpu(), path or os.path.join(tmp, 'model.onnx'), kwargs)
        session = ort.InferenceSession(path, options, providers=['CPUExecutionProvider'])
    feed = {session.get_inputs()[0].name: x.cpu().numpy()}
    return lambda: session.run(None, feed)


def measure(model: nn.Module, x: torch.Tensor, *, backend: str = 'torch',
            kwargs: Optional[dict] = None, threads: Optional[int] = None, warmup: int = 10,
            rounds: int = 5, iters: Optional[int] = None, round_s: float = 0.5,
            max_spread: float = 0.05, onnx_path: Optional[str] = None,
            clock: str = 'wall') -> Measurement:
    """Latency and throughput of ``model(x, **kwargs)``; ``x``'s first dimension is the batch."""
    if backend not in BACKENDS:
        raise ValueError(f'backend={backend!r} is invalid: choose one of {BACKENDS}')
    threads = threads or default_threads()
    device = _device_of(model)
    if backend == 'onnxruntime' and device.type != 'cpu':
        raise ValueError('backend=onnxruntime runs on the CPU here: move the model to the CPU')
    if clock not in CLOCKS:
        raise ValueError(f'clock={clock!r} is invalid: choose one of {tuple(CLOCKS)}')
    if clock == 'cpu' and (threads != 1 or device.type != 'cpu'):
        raise ValueError(f"clock='cpu' measures one CPU thread: it needs threads=1 on the CPU "
                         f'(got threads={threads} on {device})')
    x = x.to(device)
    sync = (lambda: torch.cuda.synchronize(device)) if device.type == 'cuda' else (lambda: None)
    with torch_threads(threads):
        if backend == 'torch':
            run = torch_runner(model, x, kwargs)
            where = str(device)
        else:
            run = onnxruntime_runner(model, x, threads, kwargs, onnx_path)
            where, sync = 'cpu', (lambda: None)
        calls, iters = time_calls(run, sync, warmup=warmup, rounds=rounds, iters=iters,
                                  round_s=round_s, clock=CLOCKS[clock])
    m = Measurement(backend, where, x.shape[0], threads, warmup, iters,
                    [statistics.median(c) for c in calls], min(map(min, calls)), max_spread, clock)
    if m.noisy:
        warnings.warn(noise_message(m), NoisyMeasurementWarning, stacklevel=2)
    return m


# -- an architecture's backbone on this machine: what latency budgets and reports measure --------
@functools.lru_cache(maxsize=4)  # the drift reference is measured again and again
def build_backbone(arch) -> nn.Module:
    """The backbone ``arch`` describes, in eval mode (weights as initialised), as its family
    builds it."""
    from ..families import family_of
    return family_of(arch).build(arch).eval()


def example_input(arch, batch_size: int = 1) -> torch.Tensor:
    """What the backbone of ``arch`` takes (images, or clips for a video family)."""
    from ..families import family_of
    return family_of(arch).example_input(arch, batch_size)


def deployed_backbone(arch, batch_size: int = 1, backend: str = 'torch', precision: str = 'fp32',
                      threads: Optional[int] = None) -> Tuple[nn.Module, torch.Tensor]:
    """``(module, input)``: the backbone of ``arch`` on a deployment path (``cost/precision.py``:
    torch fp32 / bf16 / int8, onnxruntime fp32 / int8), called as ``module(input)``."""
    model, x = build_backbone(arch), example_input(arch, batch_size)
    if (backend, precision) == ('torch', 'fp32'):
        return model, x
    from .precision import deployed
    return deployed(model, x, backend, precision, threads or default_threads())


def measured_latency(arch, batch_size: int = 1, threads: Optional[int] = None, warmup: int = 5,
                     rounds: int = 3, round_s: float = 0.25, clock: str = 'wall',
                     backend: str = 'torch', precision: str = 'fp32') -> Measurement:
    """A ``Measurement`` of the backbone of ``arch`` on this machine (CPU; PyTorch fp32 unless a
    deployment path is named); its ``fastest_round_ms`` is the latency the scaler uses.
    ``clock='cpu'`` (one thread) counts only the time the thread ran: what an idle machine would
    show, on a shared one."""
    model, x = deployed_backbone(arch, batch_size, backend, precision, threads)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', NoisyMeasurementWarning)  # the spread is reported instead
        return measure(model, x, threads=threads, warmup=warmup, rounds=rounds, round_s=round_s,
                       clock=clock)


def paired_ratio(reference, arch, rounds: int = 5, threads: Optional[int] = None,
                 clock: str = 'wall', batch_size: int = 1, round_s: float = 0.3,
                 backend: str = 'torch', precision: str = 'fp32') -> Tuple[float, float]:
    """``(ratio, spread)``: latency of the backbone of ``arch`` over that of ``reference`` (on
    one deployment path), their calls interleaved (``median_round_ratio`` of
    ``time_interleaved``)."""
    runs = [torch_runner(*deployed_backbone(a, batch_size, backend, precision, threads))
            for a in (reference, arch)]
    with torch_threads(threads or default_threads()):
        times, _ = time_interleaved(runs, warmup=5, rounds=rounds, round_s=round_s,
                                    clock=CLOCKS[clock])
    return median_round_ratio(times)


class DriftCorrected:
    """Measured latencies, all expressed in the machine's conditions of the first measurement.

    On a shared machine the speed drifts with other work by tens of percent within seconds, so
    two candidates measured a few seconds apart do not compare. The first architecture measured
    (the base, for the scaler) becomes the reference; every later one is timed with its calls
    alternating with the reference's (``paired_ratio``), and its latency is the reference's
    fastest round times that ratio. On an idle machine this is the plain measurement.
    """

    def __init__(self, measure_fn: Callable, ratio_fn: Callable, rounds: int = 5):
        self.measure_fn, self.ratio_fn, self.rounds = measure_fn, ratio_fn, rounds
        self.reference = self.reference_ms = None
        self.spreads: Dict[object, float] = {}

    def __call__(self, arch) -> float:
        if self.reference is None:
            m = self.measure_fn(arch, self.rounds)
            self.reference, self.reference_ms = arch, m.fastest_round_ms
            self.spreads[arch] = m.spread
        if arch == self.reference:
            return self.reference_ms
        ratio, self.spreads[arch] = self.ratio_fn(self.reference, arch, self.rounds)
        return self.reference_ms * ratio
