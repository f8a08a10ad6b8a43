"""The study's operator classes (Li et al., Table 11): the one enumeration that the analytic model,
the profiler mapping, the device models and the predictor all share.

Where a class boundary is a choice, it is made here once:
- ``MLP`` holds every token-wise linear layer of a block (``mlp.fc1``, GELU, ``mlp.fc2`` and also
  the attention's ``qkv`` and ``proj`` projections): they are the same GEMMs on the same tokens,
  and the issue reserves ``MSA-MatMul`` for the two attention products QK^T and AV.
- ``MSA-Reshape&Transpose`` is the head split / merge copies around attention; ``MSA-Gather`` is
  picking q, k and v out of the fused qkv tensor (``unbind``; ONNX's ``Gather``).
- ``others`` is everything outside the blocks' attention, MLP and norms: patch embedding, position
  embedding, class tokens, residual adds, pooling layers and the classification head.
"""
from enum import Enum
from typing import Optional, Sequence


class OpClass(str, Enum):
    MLP = 'MLP'
    LAYERNORM = 'LayerNorm'
    MSA_MATMUL = 'MSA-MatMul'
    MSA_SOFTMAX = 'MSA-Softmax'
    MSA_RESHAPE = 'MSA-Reshape&Transpose'
    MSA_GATHER = 'MSA-Gather'
    OTHERS = 'others'

    def __str__(self) -> str:
        return self.value


# Table order; every per-class result (analytic, measured, predicted) is keyed by these.
OP_CLASSES = tuple(OpClass)


# -- mapping an executed operator to its class (the profiler and the traced count share it) ------
# Module kinds that decide a class; ``module_kind`` recognises ours, timm's and mmcv's modules.
NORM, ATTENTION, MLP, LINEAR = 'norm', 'attention', 'mlp', 'linear'

_GATHER = frozenset({'unbind', 'select', 'index', 'index_select', 'gather', 'split',
                     'split_with_sizes', 'chunk', 'slice', 'narrow', 'take'})
_RESHAPE = frozenset({'reshape', 'view', 'permute', 'transpose', 't', 'contiguous', 'clone', 'copy_',
                      'flatten', 'unflatten', 'unsafe_view', 'expand', 'squeeze', 'unsqueeze',
                      'view_as', 'as_strided', 'movedim',
                      # windows: padding the grid, rolling it (shifted windows), pooled keys
                      'pad', 'constant_pad_nd', 'roll', 'cat', 'sum', 'mean', 'div'})
# The additive mask of windowed attention (padding, shifted regions) belongs with the softmax.
_MASKING = frozenset({'masked_fill', 'masked_fill_', 'where', 'zeros', 'fill_'})
_PROJECTION = frozenset({'linear', 'addmm', 'mm'})  # 2-D GEMMs: the qkv / output projections
# Operators that only wrap others: the profiler classifies by what runs inside them.
CONTAINERS = frozenset({'scaled_dot_product_attention', 'scaled_dot_product_attention_math'})


def module_kind(module) -> Optional[str]:
    import torch.nn as nn  # torch only where a module is given

    name = type(module).__name__
    if isinstance(module, nn.LayerNorm) or 'LayerNorm' in name:
        return NORM
    if isinstance(module, nn.Linear):
        return LINEAR
    if name.endswith('Attention'):  # ours, timm's, nn.MultiheadAttention, windowed variants
        return ATTENTION
    if name.upper().endswith(('MLP', 'FFN')):
        return MLP
    return None


def op_name(op: str) -> str:
    """``aten::_softmax`` / ``aten._softmax.default`` -> ``softmax``."""
    op = op.split('::')[-1]
    if op.startswith('aten.'):
        op = op.split('.')[1]
    return op.lstrip('_')


def classify(op: str, kinds: Sequence[str]) -> OpClass:
    """The class of operator ``op`` run inside modules of ``kinds`` (outermost first)."""
    name = op_name(op)
    if NORM in kinds or 'layer_norm' in name:
        return OpClass.LAYERNORM
    if ATTENTION in kinds:
        if LINEAR in kinds[kinds.index(ATTENTION):] or name in _PROJECTION:
            return OpClass.MLP
        if 'softmax' in name or name in _MASKING:
            return OpClass.MSA_SOFTMAX
        if name in _GATHER:
            return OpClass.MSA_GATHER
        if name in _RESHAPE:
            return OpClass.MSA_RESHAPE
        return OpClass.MSA_MATMUL  # QK^T, AV, their scaling, and fused attention kernels
    if MLP in kinds:
        return OpClass.MLP
    return OpClass.OTHERS
