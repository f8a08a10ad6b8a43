"""What every backbone of the package shares: the output options, loading weights through
``init_cfg=dict(type='Pretrained', ...)`` with the model's own key conversion, and freezing the
first stages (kept frozen across ``train()``)."""
import os
from typing import Iterable, Optional, Tuple

from mmengine.model import BaseModule
from torch import nn

from .checkpoint import StateDict, load_pretrained

OUT_TYPES = ('raw', 'cls_token', 'featmap', 'avg_featmap')
INTERPOLATE_MODES = ('nearest', 'bilinear', 'bicubic')


def check_out_options(out_type: str, with_cls_token: bool, out_indices, num_layers: int,
                      layer_name: str) -> tuple:
    """Validate ``out_type`` and normalise ``out_indices`` (negative counts from the end)."""
    if out_type not in OUT_TYPES:
        raise ValueError(f'out_type={out_type!r} is invalid: choose one of {OUT_TYPES}')
    if out_type == 'cls_token' and not with_cls_token:
        raise ValueError("out_type='cls_token' needs with_cls_token=True")
    if isinstance(out_indices, int):
        out_indices = [out_indices]
    indices = []
    for i in out_indices:
        if isinstance(i, bool) or not isinstance(i, int) or not -num_layers <= i < num_layers:
            raise ValueError(f'out_indices contains {i!r}, beyond the {num_layers} {layer_name}: '
                             f'valid indices are {-num_layers}..{num_layers - 1}')
        indices.append(i % num_layers)
    return tuple(sorted(set(indices)))


def check_common_options(drop_rate, attn_drop_rate, drop_path_rate, interpolate_mode: str,
                         frozen_stages, num_stages: int) -> None:
    """The regularisation rates, the position-embedding resize mode and ``frozen_stages``."""
    for name, rate in (('drop_rate', drop_rate), ('attn_drop_rate', attn_drop_rate),
                       ('drop_path_rate', drop_path_rate)):
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
            raise ValueError(f'{name}={rate!r} is invalid: expected a number in [0, 1)')
    if interpolate_mode not in INTERPOLATE_MODES:
        raise ValueError(f'interpolate_mode={interpolate_mode!r} is invalid: '
                         f'choose one of {INTERPOLATE_MODES}')
    if isinstance(frozen_stages, bool) or not isinstance(frozen_stages, int) \
            or not -1 <= frozen_stages <= num_stages:
        raise ValueError(f'frozen_stages={frozen_stages!r} is invalid: expected -1..{num_stages}')


class TokenBackbone(BaseModule):
    """Base of ``DeiTScaled`` and ``PiTScaled``. A subclass sets ``frozen_stages`` and provides
    ``convert_state_dict`` (checkpoint keys to its own), ``init_own_weights`` (its random
    initialisation) and ``frozen_parts`` (what the first ``frozen_stages`` stages are)."""

    frozen_stages: int = -1

    def convert_state_dict(self, state: StateDict) -> StateDict:
        raise NotImplementedError

    def init_own_weights(self) -> None:
        raise NotImplementedError

    def frozen_parts(self) -> Tuple[Iterable[nn.Module], Iterable[Optional[nn.Parameter]]]:
        raise NotImplementedError

    def init_weights(self):
        cfg = self.init_cfg if isinstance(self.init_cfg, dict) else None
        if cfg and cfg.get('type') == 'Pretrained':
            path = cfg['checkpoint']
            if '://' not in str(path) and not os.path.isfile(path):
                raise FileNotFoundError(
                    f"init_cfg=dict(type='Pretrained', checkpoint={path!r}): no such file. The "
                    f'config says where its {type(self).__name__} weights come from (its header); '
                    'set init_cfg=None to start from random weights instead')
            load_pretrained(self, path, self.convert_state_dict, cfg.get('prefix'))
            self._is_init = True
            return
        self.init_own_weights()
        super().init_weights()

    def _freeze_stages(self):
        if self.frozen_stages < 0:
            return
        modules, params = self.frozen_parts()
        for p in params:
            if p is not None:
                p.requires_grad = False
        for m in modules:
            m.eval()
            for p in m.parameters():
                p.requires_grad = False

    def train(self, mode: bool = True):
        super().train(mode)
        self._freeze_stages()
        return self
