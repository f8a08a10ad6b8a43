"""The simple feature pyramid of ViTDet (Li et al., 2022): a plain ViT's single stride-16 map
turned into the multi-scale levels a detector such as Deformable DETR expects.

Each level rescales the last map by a power of two (transposed 2x2 convolutions up, a channel-wise
LayerNorm and GELU between two of them; max-pooling down), then projects it with a 1x1 and a 3x3
convolution, each followed by a norm. ``scale_factors=(2, 1, 0.5, 0.25)`` gives strides 8, 16, 32
and 64 from a stride-16 backbone: the four levels of mmdet's R50 Deformable DETR.
"""
import math
from typing import Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from mmengine.registry import MODELS
from torch import nn


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of an (N, C, H, W) map, as ViTDet normalises between its
    upsampling convolutions."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x.permute(0, 2, 3, 1), self.normalized_shape, self.weight, self.bias,
                            self.eps).permute(0, 3, 1, 2)


def _rescale(channels: int, factor: float) -> Tuple[nn.Module, int]:
    """The module that rescales a map by ``factor`` (a power of two) and its output channels."""
    steps = round(math.log2(factor))
    if steps == 0:
        return nn.Identity(), channels
    if steps < 0:
        k = 2 ** -steps
        # ceil_mode keeps the last row/column of an odd-sized map (800x1333 gives 50x83 patches)
        return nn.MaxPool2d(k, k, ceil_mode=True), channels
    layers = []
    for i in range(steps):
        if i:
            layers += [LayerNorm2d(channels, eps=1e-6), nn.GELU()]
        layers.append(nn.ConvTranspose2d(channels, channels // 2, 2, 2))
        channels //= 2
    return nn.Sequential(*layers), channels


@MODELS.register_module()
class SimpleFeaturePyramid(BaseModule):
    """ViTDet's simple feature pyramid (mmdet 3.3 registers no neck of this name; its ViTDet
    project's ``SimpleFPN`` is not part of the package).

    Args:
        in_channels: channels of the backbone's map: an int or a one-element list (what
            ``ChannelMapper``-style configs and the config writer hold).
        out_channels: channels of every level.
        scale_factors: one per output level, powers of two from 1/64 to 4; the default gives
            strides 8, 16, 32, 64 from a stride-16 map.
        norm_cfg: the norm after each 1x1 and 3x3 convolution (GroupNorm of 32 groups, as
            Deformable DETR's ``ChannelMapper``).
    """

    def __init__(self,
                 in_channels: Union[int, Sequence[int]],
                 out_channels: int = 256,
                 scale_factors: Sequence[float] = (2.0, 1.0, 0.5, 0.25),
                 norm_cfg: dict = dict(type='GN', num_groups=32),
                 init_cfg=dict(type='Xavier', layer=['Conv2d', 'ConvTranspose2d'],
                               distribution='uniform')):
        super().__init__(init_cfg=init_cfg)
        if isinstance(in_channels, (list, tuple)):
            if len(in_channels) != 1:
                raise ValueError(f'in_channels={list(in_channels)} is invalid: the simple feature '
                                 'pyramid takes the one map of a plain ViT (an int or a one-element list)')
            in_channels = in_channels[0]
        if isinstance(in_channels, bool) or not isinstance(in_channels, int) or in_channels < 4:
            raise ValueError(f'in_channels={in_channels!r} is invalid: expected an integer of at least 4 '
                             '(the upsampling halves it up to twice)')
        if not scale_factors:
            raise ValueError('scale_factors=() is invalid: give at least one level')
        for f in scale_factors:
            steps = math.log2(f) if isinstance(f, (int, float)) and f > 0 else 0.5
            if steps != round(steps) or not -6 <= steps <= 2:
                raise ValueError(f'scale_factors contains {f!r}: expected powers of two from 1/64 to 4')
        self.in_channels = [in_channels]
        self.out_channels = out_channels
        self.scale_factors = tuple(float(f) for f in scale_factors)
        self.rescales = nn.ModuleList()
        self.lateral_convs = nn.ModuleList()
        self.output_convs = nn.ModuleList()
        for f in self.scale_factors:
            rescale, channels = _rescale(in_channels, f)
            self.rescales.append(rescale)
            self.lateral_convs.append(ConvModule(channels, out_channels, 1, norm_cfg=norm_cfg,
                                                 act_cfg=None))
            self.output_convs.append(ConvModule(out_channels, out_channels, 3, padding=1,
                                                norm_cfg=norm_cfg, act_cfg=None))

    @property
    def num_outs(self) -> int:
        return len(self.scale_factors)

    def forward(self, inputs: Sequence[torch.Tensor]) -> Tuple[torch.Tensor, ...]:
        if len(inputs) != 1:
            raise ValueError(f'SimpleFeaturePyramid takes one feature map, got {len(inputs)}: '
                             'give the backbone a single out_indices entry (its last block)')
        x = inputs[0]
        return tuple(out(lat(rescale(x))) for rescale, lat, out in
                     zip(self.rescales, self.lateral_convs, self.output_convs))
