"""Device models: roofline estimates per operator class, spec entries, the measured local entry."""
import pytest
from scipy.stats import kendalltau

from vit_scaled.arch import deit_arch, pit_arch
from vit_scaled.cost import BadInput, OP_CLASSES, analytic_cost, estimate, get_device
from vit_scaled.cost.devices import SPEC_DEVICES, local_device

# Throughput on one V100 at batch 128 (Heo et al., 2021, Table 3 / naver-ai/pit README).
V100_IMG_S = {'deit-tiny': 2564, 'deit-small': 980, 'deit-base': 303,
              'pit-ti': 3030, 'pit-xs': 2128, 'pit-s': 1266, 'pit-b': 348}


def arch_of(name):
    return deit_arch(name) if name.startswith('deit') else pit_arch(name)


def test_unknown_device_lists_the_valid_names():
    with pytest.raises(BadInput, match="unknown device 'h100': choose one of v100, jetson-tx2, "
                                       "pixel3-cpu, local"):
        get_device('h100')
    with pytest.raises(BadInput, match="precision 'int8' is not modelled for v100"):
        estimate(deit_arch('deit-tiny'), 'v100', precision='int8')


def test_spec_entries_have_rates_bandwidth_overhead_and_sources():
    for d in SPEC_DEVICES.values():
        assert d.peak_macs['fp32'] > 0 and d.bandwidth > 0 and d.overhead_s > 0 and d.sources
    assert SPEC_DEVICES['v100'].peak_macs['fp16'] > SPEC_DEVICES['v100'].peak_macs['fp32']


def test_roofline_is_per_class_and_sums():
    e = estimate(deit_arch('deit-small'), 'jetson-tx2', batch_size=1)
    assert set(e['class_ms']) == {c.value for c in OP_CLASSES}
    assert e['latency_ms'] == pytest.approx(sum(e['class_ms'].values()))
    assert all(v > 0 for v in e['class_ms'].values())
    # memory-bound classes are priced by bytes, not by their (zero) multiply-adds
    cost = analytic_cost(deit_arch('deit-small'))
    v100 = get_device('v100')
    assert v100.class_latency(cost)[OP_CLASSES[5]] >= cost[OP_CLASSES[5]].bytes / v100.bandwidth


def test_v100_model_ranks_the_published_throughputs():
    """docs/cost.md gives the errors; the spec roofline is optimistic but must order the models."""
    est = {n: estimate(arch_of(n), 'v100', batch_size=128)['throughput'] for n in V100_IMG_S}
    names = list(V100_IMG_S)
    tau = kendalltau([est[n] for n in names], [V100_IMG_S[n] for n in names]).statistic
    assert tau == pytest.approx(1.0)
    for n in names:  # a roofline of peak rates can only be faster than the real thing
        assert est[n] > V100_IMG_S[n]


def test_local_device_is_measured_and_cached(tmp_path, monkeypatch):
    import vit_scaled.cost.devices as devices
    calls = []
    real = devices.measure_local

    def quick(threads=None):
        calls.append(threads)
        return real(threads, gemm=128, copy_mb=2, repeats=2)
    monkeypatch.setattr(devices, 'measure_local', quick)
    path = str(tmp_path / 'local.json')
    a = local_device(path=path, threads=1)
    b = local_device(path=path, threads=1)
    assert calls == [1] and a == b
    assert a.peak_macs['fp32'] > 1e8 and a.bandwidth > 1e8 and 0 < a.overhead_s < 1e-2
    local_device(path=path, threads=2)  # another thread count measures again
    assert calls == [1, 2]
