"""From what a user types to what the cost tools run: a config file to a built model, a shape to
an input, and a clear ``BadInput`` error naming whatever was wrong."""
import os.path as osp
from typing import Optional, Sequence, Tuple

import torch
from torch import nn


class BadInput(ValueError):
    """A user input (config, shape, device name, option) that cannot be used; the message names it."""


def build_model(config: str, cfg_options: Optional[dict] = None) -> Tuple[object, nn.Module]:
    """``(cfg, model)``: ``cfg.model`` built under the config's default scope, in eval mode, after
    ``import vit_scaled`` and the config's ``custom_imports``. Weights stay as initialised."""
    from mmengine.config import Config
    from mmengine.registry import MODELS, init_default_scope
    from mmengine.utils import import_modules_from_strings

    import vit_scaled  # noqa: F401  (registers the package's modules)

    if not osp.isfile(config):
        raise BadInput(f'config {config!r} does not exist')
    try:
        cfg = Config.fromfile(config)
        if cfg_options:
            cfg.merge_from_dict(cfg_options)
    except Exception as e:
        raise BadInput(f'cannot read config {config!r}: {type(e).__name__}: {e}') from e
    if 'model' not in cfg:
        raise BadInput(f'config {config!r} defines no model')
    try:
        if cfg.get('custom_imports'):
            import_modules_from_strings(**cfg.custom_imports)
        if cfg.get('default_scope'):
            init_default_scope(cfg.default_scope)
        model = MODELS.build(cfg.model)
    except Exception as e:
        msg = str(e).splitlines()[0] if str(e) else ''
        raise BadInput(f'cannot build the model of config {config!r}: {type(e).__name__}: {msg}') from e
    return cfg, model.eval()


def parse_shape(values: Optional[Sequence], default: Tuple[int, int] = (224, 224),
                in_channels: int = 3) -> Tuple[int, ...]:
    """One input's shape, without the batch: ``S`` -> (C, S, S), ``H W`` -> (C, H, W), three or
    more values (C H W, C T H W ...) as given."""
    if not values:
        return (in_channels, *default)
    try:
        dims = tuple(int(v) for v in values)
    except (TypeError, ValueError):
        dims = ()
    if not dims or any(d <= 0 for d in dims):
        raise BadInput(f'shape {" ".join(map(str, values))!r} is malformed: expected positive '
                       'integers, "H W", a single size, or a full shape such as "C H W"')
    if len(dims) == 1:
        return (in_channels, dims[0], dims[0])
    if len(dims) == 2:
        return (in_channels, *dims)
    return dims


def default_shape(model: nn.Module, values: Optional[Sequence] = None) -> Tuple[int, ...]:
    """The input shape for ``model``: the user's, or the resolution its architecture was built for."""
    from ..families import family_of
    from .analytic import find_arch
    arch = find_arch(model)
    if arch is None:
        return parse_shape(values)
    if not values:  # the family's own example: (C, H, W) for images, (C, T, H, W) for clips
        return tuple(family_of(arch).example_input(arch, 1).shape[1:])
    return parse_shape(values, tuple(arch.img_size), arch.in_channels)


def model_inputs(model: nn.Module, shape: Sequence[int], batch_size: int = 1,
                 device='cpu') -> Tuple[torch.Tensor, dict]:
    """A random batch and the keyword arguments that run ``model`` on it: mmengine models get
    ``mode='tensor'`` and data samples whose metainfo states the image size (detectors read it)."""
    from mmengine.model import BaseModel
    from mmengine.structures import BaseDataElement

    if isinstance(model, BaseModel) and len(shape) == 4 and hasattr(model, 'cls_head'):
        shape = (1, *shape)  # mmaction2's recognizers take (B, clips, C, T, H, W)
    x = torch.randn(batch_size, *shape, device=device)
    if not isinstance(model, BaseModel):
        return x, {}
    hw = tuple(shape[-2:])
    meta = dict(img_shape=hw, ori_shape=hw, pad_shape=hw, batch_input_shape=hw,
                scale_factor=(1.0, 1.0))
    return x, dict(data_samples=[BaseDataElement(metainfo=meta) for _ in range(batch_size)],
                   mode='tensor')


def check_runs(model: nn.Module, x: torch.Tensor, kwargs: dict, what: str = 'the model'):
    """One forward pass, turning a failure into a ``BadInput`` that names the input shape."""
    try:
        with torch.no_grad():
            model(x, **kwargs)
    except Exception as e:
        msg = str(e).splitlines()[0] if str(e) else ''
        raise BadInput(f'{what} cannot run on an input of shape {tuple(x.shape)} (set it with '
                       f'--shape): {type(e).__name__}: {msg}') from e
