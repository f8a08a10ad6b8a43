"""Hardware cost of the package's models: analytic per-operator-class cost, traced counts, measured
latency (PyTorch and ONNX Runtime), profiler breakdowns, device models and latency predictors.

A cost figure is multiply-adds, printed as "FLOPs" as the field does (see docs/cost.md).
"""
from .analytic import ClassCost, Cost, analytic_cost, backbone_cost, find_arch, find_backbone
from .classes import OP_CLASSES, OpClass, classify
from .config import BadInput, build_model
from .devices import DEVICE_NAMES, DeviceModel, estimate, get_device, local_device
from .measure import Measurement, NoisyMeasurementWarning, measure
from .predictor import LatencyPredictor
from .profile import Breakdown, op_breakdown
from .traced import traced_flops

__all__ = [
    'OpClass', 'OP_CLASSES', 'classify', 'ClassCost', 'Cost', 'analytic_cost', 'backbone_cost',
    'find_arch', 'find_backbone', 'traced_flops', 'Measurement',
    'NoisyMeasurementWarning', 'measure', 'Breakdown', 'op_breakdown', 'DeviceModel',
    'DEVICE_NAMES', 'get_device', 'local_device', 'estimate', 'LatencyPredictor', 'BadInput',
    'build_model',
]
