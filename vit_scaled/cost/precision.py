"""Deployment paths at lower precision: the same model at fp32, bf16 or int8, run by PyTorch or by
ONNX Runtime, as callables that the measurements and benchmarks time.

- torch ``bf16``: the model and its input cast to bfloat16 (oneDNN's AVX-512 BF16 kernels where
  the CPU has them).
- torch ``int8``: ``torch.ao.quantization.quantize_dynamic`` on every ``nn.Linear`` (int8
  weights, activations quantized per call); attention products and norms stay fp32.
- onnxruntime ``int8``: ONNX Runtime's own **dynamic** quantization
  (``onnxruntime.quantization.quantize_dynamic``: int8 weights, each activation's range taken at
  run time, ``MatMulInteger`` / ``DynamicQuantizeLinear``) of the exported fp32 model. Dynamic,
  not static QDQ, because a ViT's activations (the LayerNorm outputs, the GELU's) have token-to-
  token outliers that one calibrated range per tensor clips, because it needs no calibration
  data (a latency budget measures freshly built, untrained models), and because ONNX Runtime
  recommends it for transformers on CPU. Its accuracy on a trained model is measured with
  ``output_error`` (and in docs/numerics.md on the digits model).
- onnxruntime ``bf16`` is not offered: ONNX Runtime's CPU provider has no bf16 kernels for these
  operators.
"""
import copy
import os
import tempfile
import warnings
from typing import Optional, Tuple

import torch
from torch import nn

from .config import BadInput

PRECISIONS = ('fp32', 'bf16', 'int8')
PATHS = {'torch': ('fp32', 'bf16', 'int8'), 'onnxruntime': ('fp32', 'int8')}


def check_path(backend: str, precision: str) -> None:
    if precision not in PRECISIONS:
        raise BadInput(f'--precision {precision!r} is invalid: choose one of {", ".join(PRECISIONS)}')
    if backend in PATHS and precision not in PATHS[backend]:
        raise BadInput(f'--precision {precision} is not available with --backend {backend}: '
                       f'choose one of {", ".join(PATHS[backend])}')


def torch_path(model: nn.Module, precision: str) -> nn.Module:
    """A copy of ``model`` for ``precision`` (``fp32``: the model itself)."""
    model = model.eval()
    if precision == 'fp32':
        return model
    if precision == 'bf16':
        return copy.deepcopy(model).to(torch.bfloat16)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # torch.ao.quantization's deprecation notice
        return torch.ao.quantization.quantize_dynamic(copy.deepcopy(model), {nn.Linear},
                                                      dtype=torch.qint8)


def input_for(x: torch.Tensor, precision: str) -> torch.Tensor:
    return x.to(torch.bfloat16) if precision == 'bf16' else x


def cpu_has_vnni() -> bool:
    """Whether this x86 CPU has VNNI (``avx512_vnni`` or ``avx_vnni``). Without it ONNX Runtime's
    int8 products (unsigned activations x signed weights) add pairs of products in 16 bits, which
    saturate; ONNX Runtime's remedy is 7-bit weights (``reduce_range``). Measured on an AVX2-only
    AMD EPYC (2026-12-03): the digits test model's int8 output error 0.246 with 8-bit weights,
    under 0.2 with 7-bit ones; the VNNI machines the int8 figures in docs come from keep 8 bits."""
    try:
        with open('/proc/cpuinfo') as f:
            flags = next((line for line in f if line.startswith('flags')), None)
    except OSError:
        flags = None
    if flags is None:
        return True  # not Linux on x86: keep ONNX Runtime's default
    return 'avx512_vnni' in flags.split() or 'avx_vnni' in flags.split()


def onnx_session(model: nn.Module, x: torch.Tensor, precision: str, threads: int,
                 path: Optional[str] = None):
    """An ONNX Runtime session of ``model`` exported at ``x``'s shape; ``int8``: quantized
    dynamically by ONNX Runtime. ``path`` keeps the (quantized) ONNX file."""
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from .measure import export_onnx
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = export_onnx(model, x.cpu().float(), os.path.join(tmp, 'model.onnx'))
        final = path or os.path.join(tmp, f'model_{precision}.onnx')
        if precision == 'int8':
            import logging
            logging.getLogger().setLevel(logging.ERROR)  # its "consider pre-processing" hint
            quantize_dynamic(fp32, final, weight_type=QuantType.QInt8,
                             reduce_range=not cpu_has_vnni())
        elif final != fp32:
            os.replace(fp32, final)
        return ort.InferenceSession(final, options, providers=['CPUExecutionProvider'])


class OnnxModule(nn.Module):
    """An ONNX Runtime session as a module (first output as a tensor), so that whatever times
    or compares torch modules runs it alike."""

    def __init__(self, session):
        super().__init__()
        self.session = session
        self.input_name = session.get_inputs()[0].name

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self.session.run(None, {self.input_name: x.cpu().numpy()})[0])


def deployed(model: nn.Module, x: torch.Tensor, backend: str, precision: str, threads: int = 1,
             onnx_path: Optional[str] = None) -> Tuple[nn.Module, torch.Tensor]:
    """``(module, input)`` of a deployment path: call ``module(input)``."""
    check_path(backend, precision)
    if backend == 'torch':
        return torch_path(model, precision), input_for(x, precision)
    return OnnxModule(onnx_session(model, x, precision, threads, onnx_path)), x.float()


def first_output(out) -> torch.Tensor:
    while isinstance(out, (tuple, list)):
        out = out[-1]
    return out.float()


@torch.inference_mode()
def output_error(reference: torch.Tensor, out: torch.Tensor) -> float:
    """Relative L2 error ``||out - ref|| / ||ref||`` of one path's output."""
    ref, out = first_output(reference), first_output(out)
    return float((out - ref).norm() / ref.norm())
