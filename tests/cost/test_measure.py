"""Measured latency through PyTorch and ONNX Runtime; interleaved timing, paired ratios and drift
correction of architectures."""
import warnings

import pytest
import torch

from vit_scaled.cost import NoisyMeasurementWarning, measure
from vit_scaled.arch import DeiTArch, PiTArch
from vit_scaled.cost.measure import (DriftCorrected, Measurement, build_backbone, measured_latency,
                                     median_round_ratio, paired_ratio, time_calls,
                                     time_interleaved)
from vit_scaled.models import DeiTScaled, PiTScaled


@pytest.fixture(scope='module')
def small():
    return DeiTScaled(arch=dict(depth=2, num_heads=2, head_dim=32, mlp_ratio=2.0), img_size=64).eval()


def test_torch_measurement_reports_its_settings(small):
    before = torch.get_num_threads()
    torch.set_num_threads(3)  # differs from the measurement's 1, so a missed restore shows
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', NoisyMeasurementWarning)
            m = measure(small, torch.randn(2, 3, 64, 64), threads=1, warmup=2, rounds=3, iters=5)
        assert torch.get_num_threads() == 3  # restored
    finally:
        torch.set_num_threads(before)
    assert (m.backend, m.device, m.batch_size, m.threads, m.iters) == ('torch', 'cpu', 2, 1, 5)
    assert len(m.round_ms) == 3 and 0 < m.best_ms <= m.latency_ms
    assert m.throughput == pytest.approx(2000 / m.latency_ms)
    assert 'batch 2, 1 threads' in m.summary()
    assert m.to_dict()['latency_ms'] == m.latency_ms


def test_onnxruntime_measurement(small, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', NoisyMeasurementWarning)
        m = measure(small, torch.randn(1, 3, 64, 64), backend='onnxruntime', warmup=1, rounds=2,
                    iters=3, onnx_path=str(tmp_path / 'm.onnx'))
    assert m.backend == 'onnxruntime' and m.latency_ms > 0
    assert (tmp_path / 'm.onnx').stat().st_size > 0


def test_remeasuring_agrees_or_warns(small):
    """Two measurements at default settings agree within 5 %, or a warning says it is noisy.
    One thread: on a busy 2-core machine two OpenMP threads can wait a scheduler slice at every
    operator, which makes this test slow without changing what it checks."""
    x = torch.randn(1, 3, 64, 64)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        a, b = measure(small, x, threads=1), measure(small, x, threads=1)
    noisy = any(issubclass(w.category, NoisyMeasurementWarning) for w in caught)
    spread = max(a.latency_ms, b.latency_ms) / min(a.latency_ms, b.latency_ms) - 1
    assert spread <= 0.05 or noisy or a.noisy or b.noisy


def test_noisy_rounds_are_flagged():
    m = Measurement('torch', 'cpu', 1, 1, 0, 1, [1.0, 1.2, 1.0], 0.9)
    assert m.noisy and 'too noisy' in m.summary()
    calls = iter([0.0] * 100)
    rounds, iters = time_calls(lambda: next(calls), warmup=0, rounds=2, iters=4)
    assert len(rounds) == 2 and all(len(r) == 4 for r in rounds) and iters == 4


def test_unknown_backend_is_named(small):
    with pytest.raises(ValueError, match="backend='tensorrt' is invalid"):
        measure(small, torch.randn(1, 3, 64, 64), backend='tensorrt')


class FakeClock:
    """A clock that only the timed calls move: each call takes exactly what it is told."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def call(self, seconds, log=None, name=None):
        def run():
            self.now += seconds
            if log is not None:
                log.append(name)
        return run


def test_interleaved_runs_alternate_and_a_round_is_sized_to_round_s():
    clock, order = FakeClock(), []
    runs = [clock.call(0.001, order, 'a'), clock.call(0.003, order, 'b')]
    times, iters = time_interleaved(runs, warmup=2, rounds=2, round_s=0.041, clock=clock)
    assert iters == 10  # 0.041 s over 4 ms per pair, rounded down
    assert order == ['a', 'b'] * (2 + 2 * 10)
    assert len(times) == 2 and all(len(calls) == 10 for rnd in times for calls in rnd)
    assert all(ms == pytest.approx(1.0) for rnd in times for ms in rnd[0])
    assert all(ms == pytest.approx(3.0) for rnd in times for ms in rnd[1])
    assert median_round_ratio(times) == (pytest.approx(3.0), pytest.approx(0.0))


def test_median_round_ratio_is_the_median_of_per_round_ratios_of_medians():
    times = [[[1, 1, 1], [2, 2, 9]],     # medians 1 and 2: ratio 2 (the 9 is an outlier call)
             [[1, 1, 1], [3, 3, 3]],     # ratio 3
             [[2, 2, 2], [5, 5, 5]]]     # ratio 2.5
    ratio, spread = median_round_ratio(times)
    assert ratio == pytest.approx(2.5) and spread == pytest.approx(0.5)


def test_fastest_round_is_the_least_disturbed_round():
    m = Measurement('torch', 'cpu', 1, 1, 0, 3, [1.3, 1.0, 1.1], 0.9)
    assert m.fastest_round_ms == 1.0 and m.latency_ms == 1.1


def test_drift_corrected_latency_is_the_reference_times_the_paired_ratio():
    measured, paired = [], []

    def measure_fn(arch, rounds):
        measured.append(arch)
        return Measurement('torch', 'cpu', 1, 1, 0, 3, [2.2, 2.0, 2.1], 1.9)

    def ratio_fn(ref, arch, rounds):
        paired.append((ref, arch))
        return {'b': 1.5, 'c': 0.5}[arch], 0.01

    cost = DriftCorrected(measure_fn, ratio_fn, rounds=3)
    assert [cost('a'), cost('b'), cost('c'), cost('a')] == [2.0, 3.0, 1.0, 2.0]
    assert measured == ['a'] and paired == [('a', 'b'), ('a', 'c')]
    assert cost.spreads['b'] == 0.01 and cost.spreads['a'] == pytest.approx(0.1)


def test_architectures_are_measured_through_their_family_backbone():
    deit = DeiTArch(depth=1, num_heads=2, head_dim=16, img_size=32, patch_size=8)
    pit = PiTArch(depths=(1, 1, 1), base_heads=1, head_dim=8, mlp_ratio=2., patch_size=4,
                  stride=2, img_size=32)
    windowed = DeiTArch(depth=2, num_heads=2, head_dim=16, img_size=32, patch_size=8,
                        window_size=2, shift_window=True)
    assert isinstance(build_backbone(deit), DeiTScaled) and isinstance(build_backbone(pit), PiTScaled)
    assert not build_backbone(pit).training
    assert build_backbone(windowed).arch == windowed  # built as its family says (no class token)
    m = measured_latency(pit, threads=1, rounds=2, round_s=0.02, clock='cpu')
    assert m.threads == 1 and m.clock == 'cpu' and m.fastest_round_ms > 0
    ratio, spread = paired_ratio(deit, windowed, rounds=3, threads=1, round_s=0.02, clock='cpu')
    assert ratio > 0 and spread >= 0
