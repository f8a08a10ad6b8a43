"""Device models: a few public (or measured) numbers and a roofline latency per operator class.

Each operator of the analytic graph takes ``max(multiply-adds / compute rate, bytes / bandwidth)``
plus a fixed overhead per launch (kernel launch, framework dispatch); a class is the sum of its
operators. Spec entries use peak rates, so they are optimistic; ``local`` uses rates measured
here (a large GEMM, a large copy and a tiny op), cached in a JSON file. The errors against
published and local measurements are in docs/cost.md.
"""
import json
import os
import platform
import time
from dataclasses import asdict, dataclass, field
from typing import Dict, Mapping, Optional, Tuple

import torch

from ..fileio import atomic_open
from .analytic import Cost, analytic_cost
from .classes import OP_CLASSES, OpClass
from .config import BadInput
from .measure import time_calls

PRECISION_BYTES = {'fp32': 4, 'fp16': 2, 'bf16': 2, 'int8': 1}  # bytes per operand


@dataclass(frozen=True)
class DeviceModel:
    name: str
    description: str
    peak_macs: Mapping[str, float]   # multiply-adds per second, per precision
    bandwidth: float                 # bytes per second
    overhead_s: float                # fixed cost per operator launch
    sources: Tuple[str, ...] = ()
    measured: Dict[str, float] = field(default_factory=dict)

    def class_latency(self, cost: Cost, precision: str = 'fp32') -> Dict[OpClass, float]:
        """Seconds per operator class for one forward pass of ``cost``."""
        rate, bandwidth, overhead = self.rate(precision), self.bandwidth, self.overhead_s
        seconds = dict.fromkeys(OP_CLASSES, 0.0)
        for op in cost.ops:  # each operator is its own kernel: bounded alone, then summed
            seconds[op.op_class] += max(op.flops / rate, op.bytes / bandwidth) + op.kernels * overhead
        return seconds

    def latency(self, cost: Cost, precision: str = 'fp32') -> float:
        return sum(self.class_latency(cost, precision).values())

    def rate(self, precision: str) -> float:
        if precision not in self.peak_macs:
            raise BadInput(f'precision {precision!r} is not modelled for {self.name}: '
                           f'choose one of {sorted(self.peak_macs)}')
        return self.peak_macs[precision]


def estimate(arch, device: str = 'local', batch_size: int = 1, precision: str = 'fp32',
             num_classes: int = 1000) -> Dict[str, object]:
    """Roofline estimate for ``arch`` on a named device: per-class and total latency, throughput."""
    model = get_device(device)
    model.rate(precision)  # names an unmodelled precision before anything else
    cost = analytic_cost(arch, batch_size, num_classes, PRECISION_BYTES[precision])
    per_class = model.class_latency(cost, precision)
    total = sum(per_class.values())
    return {'device': model.name, 'precision': precision, 'batch_size': batch_size,
            'latency_ms': 1000 * total, 'throughput': batch_size / total,
            'class_ms': {c.value: 1000 * per_class[c] for c in OP_CLASSES}}


# -- public specifications (see docs/cost.md for the sources) -----------------------------------
SPEC_DEVICES = {
    'v100': DeviceModel(
        'v100', 'NVIDIA Tesla V100 SXM2 (16 GB), CUDA',
        # 15.7 TFLOPS fp32, 125 TFLOPS fp16 tensor cores; 1 multiply-add = 2 FLOPs
        {'fp32': 15.7e12 / 2, 'fp16': 125e12 / 2}, 900e9, 5e-6,
        ('NVIDIA Tesla V100 GPU Accelerator datasheet (2018): 15.7 TFLOPS single precision, '
         '125 TFLOPS tensor, 900 GB/s HBM2',)),
    'jetson-tx2': DeviceModel(
        'jetson-tx2', 'NVIDIA Jetson TX2, 256-core Pascal GPU at 1.30 GHz, CUDA',
        # 256 cores x 1.30 GHz x 1 FMA: 333 G multiply-adds/s fp32, twice that in fp16
        {'fp32': 256 * 1.30e9, 'fp16': 2 * 256 * 1.30e9}, 59.7e9, 20e-6,
        ('NVIDIA Jetson TX2 module datasheet: 256-core Pascal GPU up to 1.30 GHz, '
         '8 GB 128-bit LPDDR4 at 59.7 GB/s',)),
    'pixel3-cpu': DeviceModel(
        'pixel3-cpu', 'Google Pixel 3, Snapdragon 845 CPU: 4 Kryo 385 Gold cores (Cortex-A75) at 2.8 GHz',
        # 4 cores x 2.8 GHz x two 128-bit NEON FMA pipes: 8 fp32, 16 fp16, 32 int8 (SDOT) per cycle
        {'fp32': 4 * 2.8e9 * 8, 'fp16': 4 * 2.8e9 * 16, 'int8': 4 * 2.8e9 * 32}, 29.9e9, 5e-6,
        ('Qualcomm Snapdragon 845 product brief: Kryo 385 up to 2.8 GHz, LPDDR4X 1866 MHz '
         '(4 x 16-bit, 29.9 GB/s)',
         'Arm Cortex-A75 Software Optimization Guide: two 128-bit ASIMD FMA pipelines')),
}
DEVICE_NAMES = tuple(SPEC_DEVICES) + ('local',)


# -- the local machine, measured ----------------------------------------------------------------
def local_cache_path() -> str:
    root = os.environ.get('VIT_SCALED_CACHE', os.path.join(os.path.expanduser('~'), '.cache',
                                                          'vit_scaled'))
    return os.path.join(root, 'local_device.json')


def _best_seconds(fn, repeats: int, clock=time.perf_counter) -> float:
    (calls,), _ = time_calls(fn, warmup=1, rounds=1, iters=repeats, clock=clock)
    return min(calls) / 1000


def measure_local(threads: Optional[int] = None, gemm: int = 1024, copy_mb: int = 64,
                  repeats: int = 10) -> DeviceModel:
    """Measure this machine: fp32 GEMM rate, copy bandwidth and the cost of a trivial operator.
    The best of ``repeats`` runs of each, as a roofline wants the attainable ceiling; with one
    thread, on that thread's CPU-time clock, so that other work on the machine does not count."""
    from .measure import CLOCKS, default_threads, torch_threads
    threads = threads or default_threads()
    clock = CLOCKS['cpu' if threads == 1 else 'wall']
    with torch_threads(threads), torch.inference_mode():
        a, b = torch.randn(gemm, gemm), torch.randn(gemm, gemm)
        macs = gemm ** 3 / _best_seconds(lambda: torch.mm(a, b), repeats, clock)
        src = torch.empty(copy_mb * 2 ** 20 // 4)
        dst = torch.empty_like(src)
        bandwidth = 2 * src.nbytes / _best_seconds(lambda: dst.copy_(src), repeats, clock)
        tiny = torch.ones(1)
        n = 1000
        overhead = _best_seconds(lambda: [torch.add(tiny, tiny) for _ in range(n)], repeats,
                                 clock) / n
    cpu = platform.processor() or platform.machine()
    return DeviceModel('local', f'this machine ({cpu}, {threads} threads, torch {torch.__version__})',
                       {'fp32': macs}, bandwidth, overhead, ('measured by vit_scaled.cost.devices',),
                       {'threads': threads, 'gemm': gemm, 'copy_mb': copy_mb})


def local_device(refresh: bool = False, threads: Optional[int] = None,
                 path: Optional[str] = None) -> DeviceModel:
    """The measured ``local`` model, from its cache file unless ``refresh`` or the cache was made
    with another thread count or torch version."""
    from .measure import default_threads
    path = path or local_cache_path()
    threads = threads or default_threads()
    if not refresh and os.path.exists(path):
        with open(path) as f:
            d = json.load(f)
        if d.get('measured', {}).get('threads') == threads and d.get('torch') == torch.__version__:
            d.pop('torch')
            d['sources'] = tuple(d['sources'])
            return DeviceModel(**d)
    model = measure_local(threads)
    with atomic_open(path, 'w') as f:
        json.dump(dict(asdict(model), torch=torch.__version__), f, indent=2)
    return model


def get_device(name: str) -> DeviceModel:
    if name == 'local':
        return local_device()
    if name not in SPEC_DEVICES:
        raise BadInput(f'unknown device {name!r}: choose one of {", ".join(DEVICE_NAMES)}')
    return SPEC_DEVICES[name]
