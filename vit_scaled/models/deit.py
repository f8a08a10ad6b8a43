"""DeiT-Scaled: a plain DeiT built from a ``DeiTArch`` (resolution, depth, heads, head dim, MLP ratio).

Arguments follow mmpretrain's ``VisionTransformer`` so that the backbone drops into existing
mmdet / mmpose / mmaction2 configs. Parameter names follow timm, so timm weights load as they are.
"""
from typing import Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmengine.model.weight_init import trunc_normal_
from mmengine.registry import MODELS
from torch import nn

from ..arch import DeiTArch, deit_arch
from .backbone import TokenBackbone, check_common_options, check_out_options
from .checkpoint import StateDict, fit_pos_embed, record_grid, saved_grid
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
        patch_stride: the patch embedding's stride (default ``patch_size``); a smaller one gives
            overlapping patches, padded by ``(patch_size - patch_stride) // 2`` (ViTPose's 1/8).
        window_size: tokens per window, int or (h, w); 0 (default) is global attention.
        window_block_indexes: the blocks that attend in windows (default: all, when
            ``window_size > 0``); the others stay global (ViTDet keeps 2, 5, 8, 11 global).
        shift_window: Swin's shifted windows in every second windowed block.
        pool_window: ViTPose's pooling windows (every window's pooled key and value appended).
        use_rel_pos: ViTDet's decomposed relative position in every block.
        softmax: ``exp``, or ``exp2``: base 2 with log2(e) folded into the query scaling (the
            same weights; docs/numerics.md).
        act: the MLP's activation, ``gelu`` or ``relu``.

    Windows need ``with_cls_token=False``; all these options are fields of ``self.arch``, so the
    cost model, the scaler and the config writer see them.
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
                 patch_stride: Optional[int] = None,
                 window_size: Union[int, Sequence[int]] = 0,
                 window_block_indexes: Optional[Sequence[int]] = None,
                 shift_window: bool = False,
                 pool_window: bool = False,
                 use_rel_pos: bool = False,
                 softmax: str = 'exp',
                 act: str = 'gelu',
                 init_cfg: Optional[Union[dict, list]] = None):
        super().__init__(init_cfg=init_cfg)
        self.arch = a = deit_arch(
            arch, img_size, patch_size, in_channels, distilled, patch_stride=patch_stride,
            window_size=window_size, window_block_indexes=window_block_indexes,
            shift_window=shift_window, pool_window=pool_window, use_rel_pos=use_rel_pos,
            softmax=softmax, act=act)
        if distilled and not with_cls_token:
            raise ValueError('distilled=True needs with_cls_token=True')
        if a.windowed and with_cls_token:
            raise ValueError(f'window_size={list(a.window_size)} needs with_cls_token=False '
                             '(windows have no place for a class token; a classifier with '
                             "windows uses out_type='avg_featmap')")
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
        self.patch_embed.proj = nn.Conv2d(a.in_channels, a.embed_dims, a.patch_size,
                                          a.patch_stride, a.patch_padding)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, a.embed_dims)) if with_cls_token else None
        self.dist_token = nn.Parameter(torch.zeros(1, 1, a.embed_dims)) if distilled else None
        num_pos = self.num_prefix_tokens + a.grid[0] * a.grid[1]
        self.pos_embed = nn.Parameter(torch.zeros(1, num_pos, a.embed_dims))
        self.pos_drop = nn.Dropout(drop_rate) if drop_rate > 0 else nn.Identity()
        dpr = torch.linspace(0, drop_path_rate, a.depth).tolist()
        self.blocks = nn.ModuleList(
            Block(a.embed_dims, a.num_heads, a.mlp_hidden, qkv_bias, drop_rate, attn_drop_rate,
                  dpr[i], dict(a.block_attention(i), num_prefix_tokens=self.num_prefix_tokens,
                               softmax=a.softmax), act=a.act)
            for i in range(a.depth))
        self.norm = nn.LayerNorm(a.embed_dims, eps=1e-6) if final_norm else nn.Identity()
        self._freeze_stages()
        self._register_state_dict_hook(record_grid)

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
        """timm's (and our own) ViT/DeiT keys to ours: drop heads, resize the position grid and
        the relative-position tables."""
        saved = saved_grid(state)
        state = {k: v for k, v in state.items()
                 if not k.startswith(('head', 'fc_norm', 'pre_logits'))}
        if 'pos_embed' in state:
            src_prefix = 2 if 'dist_token' in state else 1 if 'cls_token' in state else 0
            state['pos_embed'] = fit_pos_embed(state['pos_embed'], src_prefix, self.arch.grid,
                                               self.num_prefix_tokens, saved,
                                               self.interpolate_mode)
        own = self.state_dict()
        for k, v in state.items():  # tables made for another window or grid
            if k.endswith(('rel_pos_h', 'rel_pos_w')) and k in own and own[k].shape != v.shape:
                state[k] = F.interpolate(v.t()[None].float(), size=own[k].shape[0], mode='linear',
                                         align_corners=False)[0].t().to(v.dtype)
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
        grid = tuple(x.shape[-2:])
        x = x.flatten(2).transpose(1, 2).contiguous()  # else every add after keeps this layout
        prefix = [t.expand(B, -1, -1) for t in (self.cls_token, self.dist_token) if t is not None]
        if prefix:
            x = torch.cat(prefix + [x], dim=1)
        x = self.pos_drop(x + resize_pos_embed(self.pos_embed, self.arch.grid, grid,
                                               self.num_prefix_tokens, self.interpolate_mode))
        outs = []
        last = len(self.blocks) - 1
        for i, block in enumerate(self.blocks):
            x = block(x, grid)
            if i == last:
                x = self.norm(x)
            if i in self.out_indices:
                outs.append(format_tokens(x, self.out_type, self.num_prefix_tokens, grid))
        return tuple(outs)
