"""DeiT-Scaled: a plain DeiT built from a ``DeiTArch`` (resolution, depth, heads, head dim, MLP ratio).

Arguments follow mmpretrain's ``VisionTransformer`` so that the backbone drops into existing
mmdet / mmpose / mmaction2 configs. Parameter names follow timm, so timm weights load as they are.
"""
from typing import Optional, Sequence, Union

import torch
from mmengine.model.weight_init import trunc_normal_
from mmengine.registry import MODELS
from torch import nn

from ..arch import DeiTArch, deit_arch
from .backbone import TokenBackbone, check_common_options, check_out_options
from .checkpoint import StateDict, fit_prefix_tokens
from .layers import Block, format_tokens, resize_pos_embed


@MODELS.register_module()
class DeiTScaled(TokenBackbone):
    """DeiT backbone parameterised by the study's scaling dimensions.

    Args:
        arch: a preset (``deit-tiny``, ``deit-small``, ``deit-base``), a dict with ``depth``,
            ``num_heads``, ``head_dim`` and ``mlp_ratio``, or a ``DeiTArch``.
        img_size: the training resolution (int or (H, W)); other sizes work at run time.
        out_type: ``cls_token`` (B, C), ``featmap`` (B, C, H, W), ``avg_featmap`` (B, C) or
            ``raw`` (B, N, C, prefix tokens included).
        distilled: add DeiT's distillation token.
    """

    def __init__(self,
                 arch: Union[str, dict, DeiTArch] = 'deit-tiny',
                 img_size: Union[int, Sequence[int]] = 224,
                 patch_size: int = 16,
                 in_channels: int = 3,
                 out_indices: Union[int, Sequence[int]] = -1,
                 out_type: str = 'cls_token',
                 with_cls_token: bool = True,
                 distilled: bool = False,
                 final_norm: bool = True,
                 qkv_bias: bool = True,
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0.,
                 interpolate_mode: str = 'bicubic',
                 frozen_stages: int = -1,
                 init_cfg: Optional[Union[dict, list]] = None):
        super().__init__(init_cfg=init_cfg)
        self.arch = a = deit_arch(arch, img_size, patch_size, in_channels, distilled)
        if distilled and not with_cls_token:
            raise ValueError('distilled=True needs with_cls_token=True')
        self.out_type = out_type
        self.out_indices = check_out_options(out_type, with_cls_token, out_indices, a.depth, 'layers')
        check_common_options(drop_rate, attn_drop_rate, drop_path_rate, interpolate_mode,
                             frozen_stages, a.depth)
        self.frozen_stages = frozen_stages
        self.with_cls_token = with_cls_token
        self.final_norm = final_norm
        self.interpolate_mode = interpolate_mode
        self.embed_dims = a.embed_dims
        self.num_prefix_tokens = (a.num_prefix_tokens if with_cls_token else 0)

        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Conv2d(a.in_channels, a.embed_dims, a.patch_size, a.patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, a.embed_dims)) if with_cls_token else None
        self.dist_token = nn.Parameter(torch.zeros(1, 1, a.embed_dims)) if distilled else None
        num_pos = self.num_prefix_tokens + a.grid[0] * a.grid[1]
        self.pos_embed = nn.Parameter(torch.zeros(1, num_pos, a.embed_dims))
        self.pos_drop = nn.Dropout(drop_rate) if drop_rate > 0 else nn.Identity()
        dpr = torch.linspace(0, drop_path_rate, a.depth).tolist()
        self.blocks = nn.ModuleList(
            Block(a.embed_dims, a.num_heads, a.mlp_hidden, qkv_bias, drop_rate, attn_drop_rate, dpr[i])
            for i in range(a.depth))
        self.norm = nn.LayerNorm(a.embed_dims, eps=1e-6) if final_norm else nn.Identity()
        self._freeze_stages()

    # -- weights ---------------------------------------------------------------------------
    def init_own_weights(self):
        trunc_normal_(self.pos_embed, std=.02)
        for token in (self.cls_token, self.dist_token):
            if token is not None:
                trunc_normal_(token, std=.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                trunc_normal_(m.weight, std=.02)
                nn.init.zeros_(m.bias) if m.bias is not None else None
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def convert_state_dict(self, state: StateDict) -> StateDict:
        """timm's (and our own) ViT/DeiT keys to ours: drop heads, resize the position grid."""
        state = {k: v for k, v in state.items()
                 if not k.startswith(('head', 'fc_norm', 'pre_logits'))}
        if 'pos_embed' in state:
            pos = state['pos_embed']
            src_prefix = 2 if 'dist_token' in state else 1 if 'cls_token' in state else 0
            n = pos.shape[1] - src_prefix
            side = int(n ** 0.5)
            if side * side != n:
                raise ValueError(f'pos_embed of shape {tuple(pos.shape)} is not a square grid; '
                                 'cannot infer the source grid')
            prefix = fit_prefix_tokens(pos[:, :src_prefix], self.num_prefix_tokens)
            pos = torch.cat([prefix, pos[:, src_prefix:]], dim=1)
            state['pos_embed'] = resize_pos_embed(pos, (side, side), self.arch.grid,
                                                  self.num_prefix_tokens, self.interpolate_mode)
        if not self.with_cls_token:
            state.pop('cls_token', None)
        if self.dist_token is None:
            state.pop('dist_token', None)
        return state

    def frozen_parts(self):
        frozen = [self.patch_embed, self.pos_drop] + list(self.blocks[:self.frozen_stages])
        if self.frozen_stages == self.arch.depth:
            frozen.append(self.norm)
        return frozen, (self.pos_embed, self.cls_token, self.dist_token)

    # -- forward ---------------------------------------------------------------------------
    def forward(self, x: torch.Tensor):
        B = x.shape[0]
        x = self.patch_embed.proj(x)
        grid = x.shape[-2:]
        x = x.flatten(2).transpose(1, 2)
        prefix = [t.expand(B, -1, -1) for t in (self.cls_token, self.dist_token) if t is not None]
        if prefix:
            x = torch.cat(prefix + [x], dim=1)
        x = self.pos_drop(x + resize_pos_embed(self.pos_embed, self.arch.grid, grid,
                                               self.num_prefix_tokens, self.interpolate_mode))
        outs = []
        last = len(self.blocks) - 1
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i == last:
                x = self.norm(x)
            if i in self.out_indices:
                outs.append(format_tokens(x, self.out_type, self.num_prefix_tokens, grid))
        return tuple(outs)
