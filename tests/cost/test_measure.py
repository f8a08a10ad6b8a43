"""Measured latency through PyTorch and ONNX Runtime."""
import warnings

import pytest
import torch

from vit_scaled.cost import NoisyMeasurementWarning, measure
from vit_scaled.cost.measure import Measurement, time_calls
from vit_scaled.models import DeiTScaled


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
