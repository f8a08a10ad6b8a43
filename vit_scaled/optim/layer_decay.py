"""Layer-wise learning-rate decay for this package's backbones (ViTPose, BEiT-style fine-tuning).

mmpose's ``LayerDecayOptimWrapperConstructor`` finds blocks by mmpretrain's ``backbone.layers.N``
names; ours follow timm (``backbone.blocks.N``, and ``backbone.transformers.S.blocks.N`` in PiT),
so under it every block would silently keep the full rate. This constructor numbers the layers
by the backbone family's ``layer_id`` (``vit_scaled/families.py``): the embeddings are layer 0,
block i (counted through PiT's stages) layer i + 1, everything after the backbone (neck, head)
layer L + 1, and layer k
trains at ``lr * layer_decay_rate ** (L + 1 - k)``. Weight decay skips biases, norms (every 1-D
parameter) and the position embedding and tokens, as in ViTPose.

    optim_wrapper = dict(constructor='ViTLayerDecayOptimWrapperConstructor',
                         paramwise_cfg=dict(layer_decay_rate=0.8))   # L from the backbone
"""
from typing import List, Optional

from mmengine.optim import DefaultOptimWrapperConstructor
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS

from ..families import block_layer_id, families, family_of

_NO_DECAY = ('pos_embed', 'cls_token', 'dist_token', 'time_embed')


def layer_id(name: str, arch=None, num_layers: Optional[int] = None) -> int:
    """The layer of parameter ``name`` (of the whole model, ``backbone.`` first), by the
    backbone family's own numbering (``Family.layer_id``), or ViT's (``blocks.i`` is i + 1)
    for a backbone of no registered family; outside the backbone: L + 1."""
    family = _family(arch)
    L = num_layers or family.num_layers(arch)
    if not name.startswith('backbone.'):
        return L + 1
    rest = name[len('backbone.'):]
    return min(family.layer_id(rest, arch) if family else block_layer_id(rest, L), L + 1)


def _family(arch):
    try:
        return family_of(arch)
    except TypeError:
        return None


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class ViTLayerDecayOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """``paramwise_cfg``: ``layer_decay_rate`` (required, in (0, 1]) and optionally
    ``num_layers`` (default: the backbone's depth)."""

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: Optional[dict] = None):
        # Kept non-empty: the base class only calls add_params when paramwise_cfg is truthy.
        paramwise_cfg = dict(paramwise_cfg or {})
        rate = paramwise_cfg.get('layer_decay_rate')
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 < rate <= 1:
            raise ValueError(f'paramwise_cfg.layer_decay_rate={rate!r} is invalid: expected a '
                             'number in (0, 1]')
        self.layer_decay_rate = float(rate)
        self.num_layers = paramwise_cfg.get('num_layers')
        paramwise_cfg.pop('custom_keys', None)  # mmpose's recipe carries these; rules are above
        super().__init__(optim_wrapper_cfg, paramwise_cfg)

    def add_params(self, params: List[dict], module, prefix: str = '', **kwargs) -> None:
        arch = getattr(getattr(module, 'backbone', None), 'arch', None)
        if _family(arch) is None and not self.num_layers:
            raise ValueError('ViTLayerDecayOptimWrapperConstructor: the model has no backbone of '
                             f'a registered family ({[f.backbone for f in families()]}); give '
                             'paramwise_cfg.num_layers')
        num_layers = self.num_layers or family_of(arch).num_layers(arch)
        groups = {}
        for name, param in module.named_parameters():
            if not param.requires_grad:
                continue
            decay = not (param.ndim == 1 or name.split('.')[-1] in _NO_DECAY)  # 1-D: biases, norms
            k = layer_id(name, arch, num_layers)
            key = (k, decay)
            if key not in groups:
                scale = self.layer_decay_rate ** (num_layers + 1 - k)
                groups[key] = dict(params=[], lr=self.base_lr * scale, lr_scale=scale,
                                   weight_decay=self.base_wd if decay else 0.0)
            groups[key]['params'].append(param)
        params.extend(groups[k] for k in sorted(groups))
