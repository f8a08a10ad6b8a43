"""PiT-Scaled: a pooling-based ViT (Heo et al., 2021) built from a ``PiTArch``.

A strided convolution embeds the image; three stages of transformer blocks follow, and between
stages a depthwise convolution halves the token grid while a linear layer widens the class
token(s) to match (heads h-2h-4h). Parameter names follow timm's ``pit_*_224`` models, so their
state dicts load with the classifier dropped and nothing renamed.
"""
import re
from typing import Optional, Sequence, Tuple, Union

import torch
from mmengine.model.weight_init import trunc_normal_
from mmengine.registry import MODELS
from torch import nn

from ..arch import PiTArch, pit_arch
from .backbone import TokenBackbone, check_common_options, check_out_options
from .checkpoint import StateDict, fit_prefix_tokens
from .layers import Block, format_tokens, resize_grid

Grid = Tuple[int, int]


class Pooling(nn.Module):
    """Between two stages: a depthwise conv (kernel 3, stride 2) on the token grid, each channel
    producing out/in channels, and a linear layer on the prefix tokens, which have no position."""

    def __init__(self, in_dims: int, out_dims: int, num_prefix_tokens: int):
        super().__init__()
        k, s, p = PiTArch.POOL_KERNEL, PiTArch.POOL_STRIDE, PiTArch.POOL_PADDING
        self.conv = nn.Conv2d(in_dims, out_dims, k, s, p, groups=in_dims)
        self.fc = nn.Linear(in_dims, out_dims)
        self.num_prefix_tokens = num_prefix_tokens

    def forward(self, x: torch.Tensor, grid: Grid) -> Tuple[torch.Tensor, Grid]:
        n = self.num_prefix_tokens
        # (B, H*W, C) -> (B, C, H, W) as a view: the conv's own layout copy is the only one.
        patches = self.conv(x[:, n:].unflatten(1, grid).permute(0, 3, 1, 2))
        grid = tuple(patches.shape[-2:])
        return torch.cat([self.fc(x[:, :n]), patches.flatten(2).transpose(1, 2)], dim=1), grid


class PiTStage(nn.Module):
    """An optional ``Pooling`` into the stage, then its transformer blocks."""

    def __init__(self, blocks: Sequence[nn.Module], pool: Optional[Pooling] = None):
        super().__init__()
        self.pool = pool
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x: torch.Tensor, grid: Grid) -> Tuple[torch.Tensor, Grid]:
        if self.pool is not None:
            x, grid = self.pool(x, grid)
        for block in self.blocks:
            x = block(x)
        return x, grid


@MODELS.register_module()
class PiTScaled(TokenBackbone):
    """PiT backbone parameterised by the study's scaling dimensions.

    Args:
        arch: a preset (``pit-ti``, ``pit-xs``, ``pit-s``, ``pit-b``), a dict with ``depths``,
            ``base_heads``, ``head_dim``, ``mlp_ratio``, ``patch_size`` and ``stride``, or a
            ``PiTArch``.
        img_size: the training resolution (int or (H, W)); other sizes work at run time.
        out_indices: stages (0..2, negative from the end) whose output is returned.
        out_type: ``cls_token`` (B, C), ``featmap`` (B, C, H, W), ``avg_featmap`` (B, C) or
            ``raw`` (B, N, C, prefix tokens first).
        distilled: add DeiT's distillation token (PiT keeps it in ``cls_token``, as timm does).
        final_norm: LayerNorm after the last stage (on all of its tokens).
        frozen_stages: -1 for none; 0 freezes the embedding; i also freezes stages 0..i-1; 3
            also the final norm.
        softmax: ``exp``, or ``exp2`` (base 2, the same weights; docs/numerics.md).
        act: the MLP's activation, ``gelu`` or ``relu``.
    """

    def __init__(self,
                 arch: Union[str, dict, PiTArch] = 'pit-ti',
                 img_size: Union[int, Sequence[int]] = 224,
                 in_channels: int = 3,
                 out_indices: Union[int, Sequence[int]] = -1,
                 out_type: str = 'cls_token',
                 distilled: bool = False,
                 final_norm: bool = True,
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0.,
                 interpolate_mode: str = 'bicubic',
                 frozen_stages: int = -1,
                 softmax: str = 'exp',
                 act: str = 'gelu',
                 init_cfg: Optional[Union[dict, list]] = None):
        super().__init__(init_cfg=init_cfg)
        self.arch = a = pit_arch(arch, img_size, in_channels, distilled, softmax, act)
        self.out_type = out_type
        self.out_indices = check_out_options(out_type, True, out_indices, a.num_stages, 'stages')
        check_common_options(drop_rate, attn_drop_rate, drop_path_rate, interpolate_mode,
                             frozen_stages, a.num_stages)
        self.frozen_stages = frozen_stages
        self.final_norm = final_norm
        self.interpolate_mode = interpolate_mode
        self.num_prefix_tokens = a.num_prefix_tokens
        self.embed_dims = a.embed_dims[-1]  # the width of the class token, as a head needs it

        dims = a.embed_dims
        self.patch_embed = nn.Module()
        self.patch_embed.conv = nn.Conv2d(a.in_channels, dims[0], a.patch_size, a.stride)
        self.pos_embed = nn.Parameter(torch.zeros(1, dims[0], *a.grids[0]))
        self.cls_token = nn.Parameter(torch.zeros(1, a.num_prefix_tokens, dims[0]))
        self.pos_drop = nn.Dropout(drop_rate) if drop_rate > 0 else nn.Identity()

        dpr = torch.linspace(0, drop_path_rate, a.num_layers, device='cpu').split(a.depths)
        self.transformers = nn.ModuleList(
            PiTStage([Block(dims[i], a.heads[i], a.mlp_hidden[i], True, drop_rate, attn_drop_rate,
                            rate, dict(softmax=a.softmax), a.act) for rate in dpr[i].tolist()],
                     Pooling(dims[i - 1], dims[i], a.num_prefix_tokens) if i else None)
            for i in range(a.num_stages))
        self.norm = nn.LayerNorm(dims[-1], eps=1e-6) if final_norm else nn.Identity()
        self._freeze_stages()

    # -- weights ---------------------------------------------------------------------------
    def init_own_weights(self):
        # PiT's own scheme: the embeddings and LayerNorms; convs and linears keep torch's default.
        trunc_normal_(self.pos_embed, std=.02)
        trunc_normal_(self.cls_token, std=.02)
        for m in self.modules():
            if isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def convert_state_dict(self, state: StateDict) -> StateDict:
        """timm's (or NAVER's original, or our own) PiT keys to ours: drop the heads, resize the
        position grid to ``img_size`` and fit the number of class/distillation tokens."""
        out = {}
        for k, v in state.items():
            if k.startswith('head'):  # head, head_dist
                continue
            # NAVER's release keeps the poolings apart: pools.i -> transformers.(i+1).pool
            out[re.sub(r'^pools\.(\d+)\.', lambda m: f'transformers.{int(m[1]) + 1}.pool.', k)] = v
        if 'pos_embed' in out:
            out['pos_embed'] = resize_grid(out['pos_embed'], self.arch.grids[0], self.interpolate_mode)
        if 'cls_token' in out:
            out['cls_token'] = fit_prefix_tokens(out['cls_token'], self.num_prefix_tokens)
        return out

    def frozen_parts(self):
        frozen = [self.patch_embed, self.pos_drop] + list(self.transformers[:self.frozen_stages])
        if self.frozen_stages == self.arch.num_stages:
            frozen.append(self.norm)
        return frozen, (self.pos_embed, self.cls_token)

    # -- forward ---------------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> tuple:
        x = self.patch_embed.conv(x)
        grid = tuple(x.shape[-2:])
        x = self.pos_drop(x + resize_grid(self.pos_embed, grid, self.interpolate_mode))
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x.flatten(2).transpose(1, 2)], dim=1)
        outs = []
        last = len(self.transformers) - 1
        for i, stage in enumerate(self.transformers):
            x, grid = stage(x, grid)
            if i == last:
                x = self.norm(x)
            if i in self.out_indices:
                outs.append(format_tokens(x, self.out_type, self.num_prefix_tokens, grid))
        return tuple(outs)
