"""Configs in and out of the scaler: the base architecture a config builds, and a new config that
inherits it (``_base_``) and overrides only what the new architecture changes: the backbone's
shape and attention options (from its family's ``to_cfg``), the block indexes that follow the
depth (``out_indices``), every consumer of the backbone's width (a neck's or head's
``in_channels``), and the input sizes.

Input sizes are found in the data loaders: timm ``transform=dict(input_size=...)`` (this
package's data sets) and OpenMMLab pipeline steps whose ``scale`` / ``crop_size`` / ``size`` equals
the old resolution. Other sizes (a detector's multi-scale resize) do not follow the backbone's
training resolution, so they are left alone. A backbone's pretrained weights (``init_cfg``) are
dropped when the new shape could not load them.
"""
import dataclasses
import os.path as osp
from typing import Any, Optional, Tuple

from ..arch import map_out_indices
from ..families import families, family_of, family_of_backbone
from ..fileio import write_atomically
from .strategy import StrategyError

# Where mmdet, mmpose and mmaction2 models read the backbone's output channels.
CONSUMERS = ('neck', 'head', 'cls_head', 'keypoint_head', 'decode_head')
_SIZE_KEYS = ('input_size', 'scale', 'crop_size', 'size')
_LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def load(config: str):
    from mmengine.config import Config
    if not osp.isfile(config):
        raise StrategyError(f'config {config!r} does not exist')
    return Config.fromfile(config)


def load_base(config: str):
    """``(cfg, arch, num_classes)``: a config and the model it scales from."""
    cfg = load(config)
    return cfg, arch_of(cfg), num_classes_of(cfg)


def load_scaled(config: str, arch):
    """``config`` with its backbone replaced by ``arch``."""
    cfg = load(config)
    cfg.merge_from_dict(overrides(cfg, arch), allow_list_keys=True)
    return cfg


def find_backbone(cfg) -> Tuple[dict, str]:
    """The backbone's config dict and its dotted key (``model.backbone`` usually)."""
    model = cfg.get('model') or {}
    for key, d in (('model.backbone', model.get('backbone')), ('model', model)):
        if isinstance(d, dict) and family_of_backbone(d.get('type')) is not None:
            return d, key
    raise StrategyError(f'the config builds no backbone of a registered family '
                        f'({[f.backbone for f in families()]}): model.type='
                        f'{model.get("type")!r}, model.backbone.type='
                        f'{(model.get("backbone") or {}).get("type")!r}')


def arch_of(cfg):
    """The architecture value a config's backbone is built from."""
    b, _ = find_backbone(cfg)
    return family_of_backbone(b['type']).from_cfg(b)


def num_classes_of(cfg) -> int:
    model = cfg.get('model') or {}
    for d in (model, model.get('head') or {}, model.get('cls_head') or {}):
        if isinstance(d.get('num_classes'), int):
            return d['num_classes']
    return 0


def _size(img_size: Tuple[int, int]):
    return img_size[0] if img_size[0] == img_size[1] else list(img_size)


def backbone_override(arch, backbone: Optional[dict] = None, base=None) -> dict:
    """The backbone keys that give ``arch`` (``_delete_`` replaces a preset name or old dict).
    With the config's ``backbone`` dict and its ``base`` architecture, the block indexes of its
    ``depth_indexed`` arguments follow a change of depth."""
    family = family_of(arch)
    out = family.to_cfg(arch)
    if isinstance(out.get('arch'), dict):
        out['arch'] = dict(_delete_=True, **out['arch'])
    if backbone is not None and base is not None:
        old, new = family.num_layers(base), family.num_layers(arch)
        for key in family.depth_indexed:
            if key in backbone and old != new:
                v = backbone[key]
                mapped = list(map_out_indices([v] if isinstance(v, int) else v, old, new))
                out[key] = mapped[0] if isinstance(v, int) else mapped
    return out


def _consumers(cfg, key: str, arch, backbone: dict) -> dict:
    """``in_channels`` of every neck or head that reads the backbone's outputs, set to the
    channels the family declares for ``arch`` (a list per output, or one number)."""
    model = cfg.get('model') or {}
    channels = family_of(arch).out_channels(arch, backbone)
    out = {}
    for name in CONSUMERS if key == 'model.backbone' else ():
        sub = model.get(name)
        if not isinstance(sub, dict) or 'in_channels' not in sub:
            continue
        old = sub['in_channels']
        if isinstance(old, (list, tuple)):
            if len(old) != len(channels):
                raise StrategyError(f'model.{name}.in_channels={list(old)} has {len(old)} '
                                    f'entries, but the backbone gives {len(channels)} outputs')
            out[name] = dict(in_channels=list(channels))
        else:
            out[name] = dict(in_channels=channels[-1])
    return out


def _resize(value: Any, old: Tuple[int, int], new: Tuple[int, int]) -> Any:
    """``value`` in the new resolution if it states the old one (int, (H, W), (W, H) or timm's
    (C, H, W)); otherwise None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and old[0] == old[1] and value == old[0]:
        return new[0] if new[0] == new[1] else list(new)
    if isinstance(value, (list, tuple)):
        v = list(value)
        if v == list(old):
            return list(new)
        if v == list(old[::-1]):
            return list(new[::-1])
        if len(v) == 3 and v[1:] == list(old):
            return [v[0], *new]
    return None


def _sizes_in(node: Any, old, new) -> Optional[Any]:
    """The override that resizes ``node`` (a partial dict; lists whole), or None if unchanged."""
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k in _SIZE_KEYS:
                r = _resize(v, old, new)
                if r is not None:
                    out[k] = r
                    continue
            sub = _sizes_in(v, old, new)
            if sub is not None:
                out[k] = sub
        return out or None
    if isinstance(node, (list, tuple)):
        subs = [_sizes_in(v, old, new) for v in node]
        if not any(s is not None for s in subs):
            return None
        # mmengine replaces lists whole: write every item, merged with its change.
        return [_merge(v, s) if s is not None else _plain(v) for v, s in zip(node, subs)]
    return None


def _plain(node):
    if isinstance(node, dict):
        return {k: _plain(v) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return [_plain(v) for v in node]
    return node


def _merge(node, change):
    if isinstance(node, dict) and isinstance(change, dict):
        out = _plain(node)
        for k, v in change.items():
            out[k] = _merge(node.get(k), v) if isinstance(v, dict) else v
        return out
    return change


def stale_weights(cfg, arch) -> Optional[str]:
    """The checkpoint of the backbone's ``init_cfg=dict(type='Pretrained', ...)`` in ``cfg`` when
    ``arch`` has another shape than the one it holds (a new resolution alone is fine: the
    position embedding is resized on loading); otherwise None."""
    b, _ = find_backbone(cfg)
    init = b.get('init_cfg')
    if not isinstance(init, dict) or init.get('type') != 'Pretrained':
        return None
    base = arch_of(cfg)
    if dataclasses.replace(arch, img_size=base.img_size) == base:
        return None
    return str(init.get('checkpoint'))


def overrides(cfg, arch) -> dict:
    """Everything a child of ``cfg`` must set so that it trains and tests ``arch``. Pretrained
    weights of the base's shape would not load into ``arch`` (``stale_weights``): the child
    starts from random weights instead (``init_cfg=None``)."""
    base = arch_of(cfg)
    b, key = find_backbone(cfg)
    backbone = backbone_override(arch, b, base)
    if stale_weights(cfg, arch) is not None:
        backbone['init_cfg'] = None
    out = {'model': {'backbone': backbone}} if key == 'model.backbone' else {'model': backbone}
    out['model'].update(_consumers(cfg, key, arch, b))
    if tuple(base.img_size) != tuple(arch.img_size):
        for loader in _LOADERS:
            sub = _sizes_in(_plain(cfg.get(loader)), base.img_size, arch.img_size)
            if sub is not None:
                out[loader] = sub
    return out


def to_py(value: Any, indent: int = 0) -> str:
    """Python source for a config value, ``dict(...)`` style as OpenMMLab configs are written."""
    pad = ' ' * (indent + 4)
    if isinstance(value, dict):
        if not value:
            return 'dict()'
        ident = all(isinstance(k, str) and k.isidentifier() for k in value)
        items = [f'{k}={to_py(v, indent + 4)}' if ident else f'{k!r}: {to_py(v, indent + 4)}'
                 for k, v in value.items()]
        one = ', '.join(items)
        if len(one) + indent < 80:
            return f'dict({one})' if ident else '{' + one + '}'
        body = ',\n'.join(pad + i for i in items)
        return (f'dict(\n{body})' if ident else '{\n' + body + '}')
    if isinstance(value, (list, tuple)):
        items = [to_py(v, indent + 4) for v in value]
        one = ', '.join(items)
        if len(one) + indent < 80:
            return f'[{one}]'
        return '[\n' + ',\n'.join(pad + i for i in items) + ']'
    return repr(value)


def write_config(base_config: str, arch, out: str, header: str = '', cfg=None) -> dict:
    """Write ``out``, a config inheriting ``base_config`` that builds ``arch``; returns the
    overrides. Written atomically (a temporary file, then renamed)."""
    cfg = cfg if cfg is not None else load(base_config)
    ov = overrides(cfg, arch)
    base_abs, out_dir = osp.abspath(base_config), osp.dirname(osp.abspath(out))
    # Relative when both live in one tree (the repo), so the pair can move together.
    shared = osp.commonpath([base_abs, out_dir])
    rel = osp.relpath(base_abs, out_dir) if shared != osp.sep else base_abs
    lines = [f'# {line}' if line else '#' for line in header.splitlines()]
    lines += [f'_base_ = [{rel!r}]', '']
    lines += [f'{k} = {to_py(v)}' for k, v in ov.items()]
    write_atomically(out, '\n'.join(lines) + '\n')
    return ov
