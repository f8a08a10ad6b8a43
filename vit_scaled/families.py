"""The family registry: everything the toolkit needs to know about a kind of backbone, declared once.

A family names its architecture value type and its backbone class, says where the study's five
dimensions live in the value, how a backbone's config arguments give a value and back, what
input it takes, its analytic cost, the channels that necks and heads read from its outputs, and
its layer numbering for layer-wise lr decay. The scaler, search, strategy files, config writer,
cost model, predictor, budget measurement and layer decay all look families up here, so a new
family is one model module, one cost function and one ``register_family`` call.

Torch-free at import (the cost model and the scaler run without it); backbone classes are
looked up in mmengine's registry when first built.
"""
import re
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from .arch import DeiTArch, PiTArch, VideoDeiTArch, deit_arch, pit_arch, video_deit_arch


@dataclass(frozen=True)
class Family:
    """One kind of backbone.

    Attributes:
        name: the name strategy files use (``deit``, ``pit``).
        arch_type: its architecture value type (frozen dataclass with ``replace``).
        backbone: the class name registered in mmengine's ``MODELS``.
        dims: study dimension (``img_size``, ``depth``, ``num_heads``, ``head_dim``,
            ``mlp_ratio``) -> the field of the value holding it (a tuple field for per-stage
            values, scaled together).
        from_cfg: a backbone's config dict (its keyword arguments) -> the value.
        to_cfg: a value -> the backbone keyword arguments that build it (``arch`` as a dict).
        cost: ``fn(tally, arch, batch, (H, W), num_classes, num_prefix_tokens, final_norm)``
            adding the backbone's operators (see ``cost/analytic.py``).
        out_channels: (value, backbone config) -> the channels of each output the backbone
            gives (one per ``out_indices`` entry); necks and heads consume these.
        num_layers: value -> the number of blocks (layer-wise lr decay numbers them 1..L).
        layer_id: (parameter name inside the backbone, value) -> its layer: 0 the embeddings,
            i + 1 block i, L + 1 what follows the last block.
        example_input: (value, batch size) -> a tensor the backbone takes (torch imported there).
        depth_indexed: backbone arguments that hold block indexes, carried to the same
            relative depths when the depth changes (``out_indices``).
        img_multiple: value -> the step of valid input sizes (the patch stride for a ViT).
        img_rounding: the named multiple a strategy rounds inputs to in this family (``patch``,
            or ``stride`` for PiT), used when a strategy found on another family transfers.
        standalone: value -> extra backbone arguments for building it alone (measuring it).
    """

    name: str
    arch_type: type
    backbone: str
    dims: Mapping[str, str]
    from_cfg: Callable[[Mapping], Any]
    to_cfg: Callable[[Any], dict]
    cost: Callable
    out_channels: Callable[[Any, Mapping], List[int]]
    num_layers: Callable[[Any], int]
    layer_id: Callable[[str, Any], int]
    example_input: Callable[[Any, int], Any]
    depth_indexed: Tuple[str, ...] = ()
    img_multiple: Callable[[Any], int] = lambda a: a.patch_size
    img_rounding: str = 'patch'
    standalone: Callable[[Any], dict] = lambda a: {}

    def build(self, arch, **kwargs):
        """The backbone ``arch`` describes, on its own (weights as initialised)."""
        from mmengine.registry import MODELS
        import vit_scaled  # noqa: F401  (registers the backbones)
        cfg = dict(type=self.backbone, **self.to_cfg(arch), **self.standalone(arch))
        cfg.update(kwargs)
        return MODELS.build(cfg)


_FAMILIES: Dict[str, Family] = {}


def register_family(family: Family) -> Family:
    """Declare a family; a second family with the same name or architecture type is refused."""
    for other in _FAMILIES.values():
        if other.name != family.name and other.arch_type is family.arch_type:
            raise ValueError(f'architecture type {family.arch_type.__name__} already belongs to '
                             f'family {other.name!r}')
    _FAMILIES[family.name] = family
    return family


def unregister_family(name: str) -> None:
    _FAMILIES.pop(name, None)


def families() -> Tuple[Family, ...]:
    return tuple(_FAMILIES.values())


def family_names() -> Tuple[str, ...]:
    return tuple(_FAMILIES)


def get_family(name: str) -> Family:
    if name not in _FAMILIES:
        raise ValueError(f'family={name!r} is unknown: choose one of {list(_FAMILIES)}')
    return _FAMILIES[name]


def family_of(arch) -> Family:
    """The family of an architecture value (by its exact type)."""
    for f in _FAMILIES.values():
        if type(arch) is f.arch_type:
            return f
    raise TypeError(f'no family is registered for {type(arch).__name__}; known: '
                    f'{[f.arch_type.__name__ for f in _FAMILIES.values()]}')


def backbone_out_channels(backbone) -> Optional[List[int]]:
    """Channels of each output a built backbone returns (one per ``out_indices`` entry), from
    its family's declaration; None for a backbone of no registered family (nothing to check)."""
    arch, indices = getattr(backbone, 'arch', None), getattr(backbone, 'out_indices', None)
    if arch is None or indices is None:
        return None
    try:
        family = family_of(arch)
    except TypeError:
        return None
    return list(family.out_channels(arch, dict(out_indices=list(indices))))


def family_of_backbone(type_name: Any) -> Optional[Family]:
    """The family whose backbone is registered as ``type_name`` (a config's ``type``), or None."""
    for f in _FAMILIES.values():
        if type_name == f.backbone:
            return f
    return None


# -- DeiT -----------------------------------------------------------------------------------
_DEIT_OPTIONS = ('patch_stride', 'window_size', 'window_block_indexes', 'shift_window',
                 'pool_window', 'use_rel_pos', 'softmax', 'act')


def _numerics_cfg(a) -> dict:
    """The numerics options (``softmax``, ``act``) that differ from the defaults."""
    return {k: getattr(a, k) for k, default in (('softmax', 'exp'), ('act', 'gelu'))
            if getattr(a, k) != default}


def _size(size: Sequence[int]):
    return size[0] if size[0] == size[1] else list(size)


def _deit_from_cfg(b: Mapping) -> DeiTArch:
    return deit_arch(b.get('arch', 'deit-tiny'), b.get('img_size', 224), b.get('patch_size', 16),
                     b.get('in_channels', 3), b.get('distilled', False),
                     **{k: b[k] for k in _DEIT_OPTIONS if k in b})


def _deit_to_cfg(a: DeiTArch) -> dict:
    cfg = dict(arch=dict(depth=a.depth, num_heads=a.num_heads, head_dim=a.head_dim,
                         mlp_ratio=a.mlp_ratio),
               img_size=_size(a.img_size), patch_size=a.patch_size)
    if a.in_channels != 3:
        cfg['in_channels'] = a.in_channels
    if a.distilled:
        cfg['distilled'] = True
    if a.patch_stride != a.patch_size:
        cfg['patch_stride'] = a.patch_stride
    if a.windowed:
        cfg.update(window_size=_size(a.window_size),
                   window_block_indexes=list(a.window_block_indexes),
                   shift_window=a.shift_window, pool_window=a.pool_window)
    if a.use_rel_pos:
        cfg['use_rel_pos'] = True
    cfg.update(_numerics_cfg(a))
    return cfg


def block_layer_id(name: str, num_layers: int) -> int:
    """ViT numbering: embeddings 0, ``blocks.i`` i + 1, anything else (final norm) L + 1."""
    if name.split('.')[0] in ('patch_embed', 'pos_embed', 'cls_token', 'dist_token',
                              'time_embed'):
        return 0
    m = re.match(r'blocks\.(\d+)\.', name)
    return int(m[1]) + 1 if m else num_layers + 1


def _image_input(arch, batch_size: int):
    import torch
    return torch.randn(batch_size, arch.in_channels, *arch.img_size)


def _cost(name):
    """The analytic cost function ``name`` of ``cost/analytic.py``, imported when called."""
    def fn(*args):
        from .cost import analytic
        return getattr(analytic, name)(*args)
    return fn


register_family(Family(
    name='deit', arch_type=DeiTArch, backbone='DeiTScaled',
    dims=dict(img_size='img_size', depth='depth', num_heads='num_heads', head_dim='head_dim',
              mlp_ratio='mlp_ratio'),
    from_cfg=_deit_from_cfg, to_cfg=_deit_to_cfg, cost=_cost('deit_cost'),
    out_channels=lambda a, b: [a.embed_dims] * len(_as_list(b.get('out_indices', -1))),
    num_layers=lambda a: a.depth,
    layer_id=lambda name, a: block_layer_id(name, a.depth),
    example_input=_image_input, depth_indexed=('out_indices',),
    img_multiple=lambda a: a.patch_stride,
    standalone=lambda a: dict(with_cls_token=False, out_type='avg_featmap') if a.windowed else {}))


# -- PiT ------------------------------------------------------------------------------------
def _pit_to_cfg(a: PiTArch) -> dict:
    return dict(arch=dict(depths=list(a.depths), base_heads=a.base_heads, head_dim=a.head_dim,
                          mlp_ratio=a.mlp_ratio, patch_size=a.patch_size, stride=a.stride),
                img_size=_size(a.img_size), **_numerics_cfg(a))


def _pit_layer_id(name: str, a: PiTArch) -> int:
    if name.split('.')[0] in ('patch_embed', 'pos_embed', 'cls_token', 'dist_token'):
        return 0
    m = re.match(r'transformers\.(\d+)\.(?:blocks\.(\d+)\.|pool\.)', name)
    if m:
        before = sum(a.depths[:int(m[1])])
        return before + (int(m[2]) + 1 if m[2] is not None else 0)  # a pool: with the layer before
    return a.num_layers + 1


def _as_list(v) -> list:
    return [v] if isinstance(v, int) else list(v)


register_family(Family(
    name='pit', arch_type=PiTArch, backbone='PiTScaled',
    dims=dict(img_size='img_size', depth='depths', num_heads='base_heads', head_dim='head_dim',
              mlp_ratio='mlp_ratio'),
    from_cfg=lambda b: pit_arch(b.get('arch', 'pit-ti'), b.get('img_size', 224),
                                b.get('in_channels', 3), b.get('distilled', False),
                                b.get('softmax', 'exp'), b.get('act', 'gelu')),
    to_cfg=_pit_to_cfg, cost=_cost('pit_cost'),
    out_channels=lambda a, b: [a.embed_dims[i] for i in _as_list(b.get('out_indices', -1))],
    num_layers=lambda a: a.num_layers, layer_id=_pit_layer_id,
    example_input=_image_input, img_multiple=lambda a: 1,  # any input from one patch up
    img_rounding='stride'))


# -- video DeiT (TimeSformer style) ---------------------------------------------------------------
# The frame count is not a scaled dimension: the data pipeline's clip length sets it (mmaction2's
# SampleFrames), and a config writer that changed the model's alone would leave the two apart.
def _video_from_cfg(b: Mapping) -> VideoDeiTArch:
    return video_deit_arch(b.get('arch', 'deit-tiny'), b.get('num_frames', 8),
                           b.get('attention_type', 'divided_space_time'), b.get('img_size', 224),
                           b.get('patch_size', 16), b.get('in_channels', 3))


def _video_cost(*args):
    from .cost.analytic_video import video_cost
    return video_cost(*args)


def _clip_input(arch, batch_size: int):
    import torch
    return torch.randn(batch_size, arch.in_channels, arch.num_frames, *arch.img_size)


register_family(Family(
    name='video-deit', arch_type=VideoDeiTArch, backbone='VideoDeiTScaled',
    dims=dict(img_size='img_size', depth='depth', num_heads='num_heads', head_dim='head_dim',
              mlp_ratio='mlp_ratio'),
    from_cfg=_video_from_cfg,
    to_cfg=lambda a: dict(_deit_to_cfg(a), num_frames=a.num_frames,
                          attention_type=a.attention_type),
    cost=_video_cost,
    out_channels=lambda a, b: [a.embed_dims] * len(_as_list(b.get('out_indices', -1))),
    num_layers=lambda a: a.depth,
    layer_id=lambda name, a: block_layer_id(name, a.depth),
    example_input=_clip_input, depth_indexed=('out_indices',)))
