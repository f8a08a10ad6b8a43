"""Traced count: run a module once and count the multiply-adds of every operator it executes,
split into the operator classes. Works on any model (a detector's neck and head land in
``others``); for our backbones it must equal ``analytic_cost`` class by class.

GEMMs, convolutions and batched matmuls use ``torch.utils.flop_counter``'s formulas (halved: it
counts two FLOPs per multiply-add). It has no formula for the fused CPU attention kernel, so the
pass runs attention through PyTorch's math backend, where QK^T, softmax and AV are separate ops.
LayerNorm, softmax, GELU and ReLU get the analytic model's per-element counts; the base-2
softmax (``softmax='exp2'``, run as separate operators) counts its ``exp2``. ``traced_functions``
counts the elements through each elementary function, as ``Cost.functions``.
"""
from typing import Dict, Tuple

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

from .analytic import LAYERNORM_FLOPS_PER_ELEMENT, NONLINEAR_FLOPS_PER_ELEMENT
from .classes import OP_CLASSES, OpClass, classify
from .scopes import ModuleScopes

aten = torch.ops.aten
_PER_ELEMENT = {
    aten.native_layer_norm: LAYERNORM_FLOPS_PER_ELEMENT,
    aten._softmax: NONLINEAR_FLOPS_PER_ELEMENT,
    aten._safe_softmax: NONLINEAR_FLOPS_PER_ELEMENT,
    aten.gelu: NONLINEAR_FLOPS_PER_ELEMENT,
    aten.gelu_: NONLINEAR_FLOPS_PER_ELEMENT,  # the MLP's in-place GELU at inference
    aten.relu: NONLINEAR_FLOPS_PER_ELEMENT,
    aten.relu_: NONLINEAR_FLOPS_PER_ELEMENT,
    aten.exp2: NONLINEAR_FLOPS_PER_ELEMENT,   # the base-2 softmax's power of two
}
# The elementary function each counted operator evaluates (``Cost.functions``' keys).
_FUNCTION = {aten._softmax: 'exp', aten._safe_softmax: 'exp', aten.exp2: 'exp2',
             aten.gelu: 'gelu', aten.gelu_: 'gelu', aten.relu: 'relu', aten.relu_: 'relu'}


def multiply_adds(func, args, kwargs, out) -> int:
    """Multiply-adds of one aten call under the analytic model's conventions (0 if uncounted)."""
    packet = func._overloadpacket
    if packet in flop_registry:
        return flop_registry[packet](*args, **kwargs, out_val=out) // 2
    if packet in _PER_ELEMENT:
        return _PER_ELEMENT[packet] * args[0].numel()
    return 0


class _Counter(TorchDispatchMode):

    def __init__(self, scopes: ModuleScopes):
        super().__init__()
        self.scopes = scopes
        self.flops = dict.fromkeys(OP_CLASSES, 0)
        self.functions: Dict[OpClass, Dict[str, int]] = {}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        n = multiply_adds(func, args, kwargs, out)
        if n:
            c = classify(str(func), self.scopes.kinds)
            fn = _FUNCTION.get(func._overloadpacket)
            if fn == 'exp2' and c is OpClass.MSA_MATMUL:  # inside attention: the softmax's power
                c = OpClass.MSA_SOFTMAX
            self.flops[c] += n
            if fn is not None:
                per_class = self.functions.setdefault(c, {})
                per_class[fn] = per_class.get(fn, 0) + args[0].numel()
        return out


@torch.no_grad()
def traced_flops(model: torch.nn.Module, *inputs, **kwargs) -> Dict[OpClass, int]:
    """Multiply-adds per operator class of ``model(*inputs, **kwargs)``, in eval mode."""
    return _trace(model, *inputs, **kwargs)[0]


@torch.no_grad()
def traced_functions(model: torch.nn.Module, *inputs, **kwargs) -> Dict[OpClass, Dict[str, int]]:
    """Elements through each elementary function (``exp``, ``exp2``, ``gelu``, ``relu``) per
    operator class of ``model(*inputs, **kwargs)``, in eval mode."""
    return _trace(model, *inputs, **kwargs)[1]


def _trace(model, *inputs, **kwargs) -> Tuple[dict, dict]:
    was_training = model.training
    model.eval()
    try:
        with ModuleScopes(model) as scopes, sdpa_kernel(SDPBackend.MATH), _Counter(scopes) as c:
            model(*inputs, **kwargs)
    finally:
        model.train(was_training)
    return c.flops, c.functions
