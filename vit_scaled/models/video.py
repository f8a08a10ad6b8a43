"""VideoDeiTScaled: a DeiT on clips in TimeSformer's style (Bertasius et al., 2021).

Per block, ``divided_space_time`` runs temporal attention (each patch position across the T
frames, class token left out, its own LayerNorm, an output projection ``fc`` that starts at
zero), then spatial attention within each frame (the class token joins every frame; its T
outputs are averaged), then the MLP. ``joint_space_time`` attends over all frames' tokens at
once; ``space_only`` runs the image model on each frame and averages the frames' tokens.

The image model's names are kept (``blocks.i.norm1``, ``attn.qkv`` ... as timm), so a DeiTScaled
or timm DeiT checkpoint loads through ``init_cfg``: the temporal attention starts as a copy of
the spatial one with ``fc`` zeroed, which makes the model the image model applied frame by frame.
All attention runs through ``F.scaled_dot_product_attention`` on reshaped views.
"""
from typing import Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmengine.model.weight_init import trunc_normal_
from mmengine.registry import MODELS
from torch import nn

from ..arch import DeiTArch, video_deit_arch
from .backbone import TokenBackbone, check_common_options, check_out_options
from .checkpoint import StateDict, fit_pos_embed, record_grid, saved_grid
from .layers import Attention, Block, format_tokens, resize_pos_embed


class TemporalAttention(Attention):
    """Attention over time at each patch position: (B, T, N, C) in and out. The head split and
    merge copies also move time next to the heads, so no transposition of its own is needed.
    ``fc`` is TimeSformer's ``temporal_fc``, zero at the start."""

    def __init__(self, embed_dims: int, num_heads: int, qkv_bias: bool = True,
                 attn_drop: float = 0., proj_drop: float = 0.):
        super().__init__(embed_dims, num_heads, qkv_bias, attn_drop, proj_drop)
        self.fc = nn.Linear(embed_dims, embed_dims)
        self.zero_fc()

    def zero_fc(self):
        nn.init.zeros_(self.fc.weight)
        nn.init.zeros_(self.fc.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, N, C = x.shape
        h = self.num_heads
        qkv = self.qkv(x).reshape(B, T, N, 3, h, C // h).permute(3, 0, 2, 4, 1, 5)
        q, k, v = qkv.reshape(3, B * N, h, T, C // h).unbind(0)  # (B*N, h, T, e)
        x = F.scaled_dot_product_attention(
            q, k, v, dropout_p=self.attn_drop if self.training else 0.)
        x = x.reshape(B, N, h, T, C // h).permute(0, 3, 1, 2, 4).reshape(B, T, N, C)
        x = self.proj(x)
        if self.proj_drop is not None:
            x = self.proj_drop(x)
        return self.fc(x)


def _drop_paths(block: Block, *branches: torch.Tensor):
    """Stochastic depth with one draw per clip for all ``branches`` (the class token's and the
    patches' parts of one residual), so a clip drops its whole branch or none of it."""
    if block.drop_path is None or not block.training:
        return branches
    p = block.drop_path.drop_prob
    keep = branches[0].new_empty(branches[0].shape[0]).bernoulli_(1 - p).div_(1 - p)
    return tuple(b * keep.view(-1, *[1] * (b.dim() - 1)) for b in branches)


class DividedBlock(Block):
    """Block with divided space-time attention on (B, P + T*N, C) tokens, frame-major patches."""

    def __init__(self, embed_dims: int, num_heads: int, mlp_hidden: int, qkv_bias: bool = True,
                 drop_rate: float = 0., attn_drop_rate: float = 0., drop_path_rate: float = 0.):
        super().__init__(embed_dims, num_heads, mlp_hidden, qkv_bias, drop_rate, attn_drop_rate,
                         drop_path_rate)
        self.temporal_norm1 = nn.LayerNorm(embed_dims, eps=1e-6)
        self.temporal_attn = TemporalAttention(embed_dims, num_heads, qkv_bias, attn_drop_rate,
                                               drop_rate)

    def forward(self, x: torch.Tensor, num_frames: int, num_prefix_tokens: int) -> torch.Tensor:
        B, L, C = x.shape
        T, P = num_frames, num_prefix_tokens
        N = (L - P) // T
        cls, patches = x[:, :P], x[:, P:].reshape(B, T, N, C)
        (res,) = _drop_paths(self, self.temporal_attn(self.temporal_norm1(patches)))
        patches = patches + res
        # Spatial: the class token joins each frame; its T outputs are averaged.
        s = torch.cat([cls.unsqueeze(1).expand(B, T, P, C), patches], dim=2) if P else patches
        s = self.attn(self.norm1(s.reshape(B * T, P + N, C))).view(B, T, P + N, C)
        res_cls, res = _drop_paths(self, s[:, :, :P].mean(1), s[:, :, P:])
        x = torch.cat([cls + res_cls, (patches + res).view(B, T * N, C)], dim=1)
        (res,) = _drop_paths(self, self.mlp(self.norm2(x)))
        return x + res


@MODELS.register_module()
class VideoDeiTScaled(TokenBackbone):
    """DeiT-Scaled on clips (B, C, T, H, W), as mmaction2's ``Recognizer3D`` gives them.

    Args:
        arch: as ``DeiTScaled`` (a preset, a dict of the study's dimensions, a ``DeiTArch``) or
            a ``VideoDeiTArch``.
        num_frames: the training frame count T (the time embedding's length); other counts work
            at run time, the time embedding resized (linear).
        attention_type: ``divided_space_time``, ``joint_space_time`` or ``space_only``
            (mmaction2's ``TimeSformer`` names).
        out_type: ``cls_token`` (B, C) by default, as mmaction2's ``TimeSformer``; ``featmap``
            gives (B, C, T, H', W'), ``avg_featmap`` the mean of all patch tokens, ``raw``
            (B, P + T*H'*W', C), patches frame after frame.

    Returns the output tensor itself when ``out_indices`` names one block (what mmaction2's
    heads take), else a tuple, one per index.
    """

    def __init__(self,
                 arch: Union[str, dict, DeiTArch] = 'deit-tiny',
                 num_frames: int = 8,
                 img_size: Union[int, Sequence[int]] = 224,
                 patch_size: int = 16,
                 in_channels: int = 3,
                 attention_type: str = 'divided_space_time',
                 out_indices: Union[int, Sequence[int]] = -1,
                 out_type: str = 'cls_token',
                 with_cls_token: bool = True,
                 final_norm: bool = True,
                 qkv_bias: bool = True,
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0.,
                 interpolate_mode: str = 'bicubic',
                 frozen_stages: int = -1,
                 init_cfg: Optional[Union[dict, list]] = None):
        super().__init__(init_cfg=init_cfg)
        self.arch = a = video_deit_arch(arch, num_frames, attention_type, img_size, patch_size,
                                        in_channels)
        self.out_type = out_type
        self.out_indices = check_out_options(out_type, with_cls_token, out_indices, a.depth,
                                             'layers')
        check_common_options(drop_rate, attn_drop_rate, drop_path_rate, interpolate_mode,
                             frozen_stages, a.depth)
        self.frozen_stages = frozen_stages
        self.with_cls_token = with_cls_token
        self.final_norm = final_norm
        self.interpolate_mode = interpolate_mode
        self.embed_dims = C = a.embed_dims
        self.num_prefix_tokens = 1 if with_cls_token else 0

        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Conv2d(a.in_channels, C, a.patch_size, a.patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, C)) if with_cls_token else None
        self.pos_embed = nn.Parameter(
            torch.zeros(1, self.num_prefix_tokens + a.grid[0] * a.grid[1], C))
        # TimeSformer's time embedding starts at zero (frames differ already); none in space_only.
        self.time_embed = (nn.Parameter(torch.zeros(1, a.num_frames, C))
                           if a.attention_type != 'space_only' else None)
        self.pos_drop = nn.Dropout(drop_rate) if drop_rate > 0 else nn.Identity()
        dpr = torch.linspace(0, drop_path_rate, a.depth).tolist()
        block = DividedBlock if a.attention_type == 'divided_space_time' else Block
        self.blocks = nn.ModuleList(
            block(C, a.num_heads, a.mlp_hidden, qkv_bias, drop_rate, attn_drop_rate, dpr[i])
            for i in range(a.depth))
        self.norm = nn.LayerNorm(C, eps=1e-6) if final_norm else nn.Identity()
        self._freeze_stages()
        self._register_state_dict_hook(record_grid)

    @property
    def divided(self) -> bool:
        return self.arch.attention_type == 'divided_space_time'

    # -- weights ---------------------------------------------------------------------------
    def init_own_weights(self):
        trunc_normal_(self.pos_embed, std=.02)
        if self.cls_token is not None:
            trunc_normal_(self.cls_token, std=.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                trunc_normal_(m.weight, std=.02)
                nn.init.zeros_(m.bias) if m.bias is not None else None
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        for m in self.modules():
            if isinstance(m, TemporalAttention):
                m.zero_fc()

    def convert_state_dict(self, state: StateDict) -> StateDict:
        """An image checkpoint (timm's DeiT, DeiTScaled) or a video one (this class) to this
        model: heads dropped, position grid and time embedding resized; from an image, each
        block's temporal attention and its norm start as copies of the spatial ones, ``fc`` at
        zero, and the time embedding at zero."""
        src_prefix = 2 if 'dist_token' in state else 1 if 'cls_token' in state else 0
        saved = saved_grid(state)
        state = {k: v for k, v in state.items()
                 if not k.startswith(('head', 'fc_norm', 'pre_logits', 'dist_token'))}
        width = next((state[k].shape[0] if k.endswith('weight') else state[k].shape[-1]
                      for k in ('cls_token', 'pos_embed', 'patch_embed.proj.weight') if k in state),
                     None)
        if width is not None and width != self.embed_dims:
            raise ValueError(f'the checkpoint is {width} wide (embed dims) but this model is '
                             f'{self.embed_dims} wide: load weights of the same width')
        if 'pos_embed' in state:
            state['pos_embed'] = fit_pos_embed(state['pos_embed'], src_prefix, self.arch.grid,
                                               self.num_prefix_tokens, saved,
                                               self.interpolate_mode)
        if not self.with_cls_token:
            state.pop('cls_token', None)
        if self.time_embed is None:
            state.pop('time_embed', None)
        elif 'time_embed' in state:
            state['time_embed'] = resize_time_embed(state['time_embed'], self.arch.num_frames)
        else:
            state['time_embed'] = torch.zeros_like(self.time_embed)
        image = not any('.temporal_' in k for k in state)
        if not self.divided:
            return {k: v for k, v in state.items() if '.temporal_' not in k}
        if image:
            for i in range(self.arch.depth):
                b = f'blocks.{i}.'
                for src, dst in (('norm1', 'temporal_norm1'), ('attn.qkv', 'temporal_attn.qkv'),
                                 ('attn.proj', 'temporal_attn.proj')):
                    for p in ('weight', 'bias'):
                        if b + f'{src}.{p}' in state:
                            state[b + f'{dst}.{p}'] = state[b + f'{src}.{p}'].clone()
                fc = self.blocks[i].temporal_attn.fc
                state[b + 'temporal_attn.fc.weight'] = torch.zeros_like(fc.weight)
                state[b + 'temporal_attn.fc.bias'] = torch.zeros_like(fc.bias)
        return state

    def frozen_parts(self):
        frozen = [self.patch_embed, self.pos_drop] + list(self.blocks[:self.frozen_stages])
        if self.frozen_stages == self.arch.depth:
            frozen.append(self.norm)
        return frozen, (self.pos_embed, self.cls_token, self.time_embed)

    # -- forward ---------------------------------------------------------------------------
    def _check_clip(self, x: torch.Tensor):
        a = self.arch
        if x.dim() != 5 or x.shape[1] != a.in_channels:
            raise ValueError(f'expected a clip (B, C={a.in_channels}, T, H, W); got a tensor of '
                             f'shape {tuple(x.shape)}')
        H, W = x.shape[-2:]
        if H % a.patch_size or W % a.patch_size:
            raise ValueError(f'clip resolution {H}x{W} is not a multiple of '
                             f'patch_size={a.patch_size}')

    def forward(self, x: torch.Tensor):
        self._check_clip(x)
        B, _, T = x.shape[:3]
        P, C = self.num_prefix_tokens, self.embed_dims
        x = self.patch_embed.proj(x.transpose(1, 2).flatten(0, 1))  # frames as images
        grid = x.shape[-2:]
        N = grid[0] * grid[1]
        x = x.flatten(2).transpose(1, 2)                              # (B*T, N, C)
        pos = resize_pos_embed(self.pos_embed, self.arch.grid, grid, P, self.interpolate_mode)
        cls = self.cls_token + pos[:, :P] if P else None
        if self.time_embed is None:                                   # space_only: B*T images
            x = x + pos[:, P:]
            if P:
                x = torch.cat([cls.expand(B * T, -1, -1), x], dim=1)
        else:
            time = resize_time_embed(self.time_embed, T)
            x = x.view(B, T, N, C) + pos[:, P:].unsqueeze(1) + time.unsqueeze(2)
            x = x.reshape(B, T * N, C)
            if P:
                x = torch.cat([cls.expand(B, -1, -1), x], dim=1)
        x = self.pos_drop(x)

        outs = []
        last = len(self.blocks) - 1
        for i, block in enumerate(self.blocks):
            x = block(x, T, P) if self.divided else block(x)
            if i in self.out_indices or i == last:
                clip = self._to_clip(x, B, T) if self.time_embed is None else x
                if i == last:
                    clip = x = self.norm(clip)
                if i in self.out_indices:
                    outs.append(self._format(clip, B, T, grid))
        return outs[0] if len(outs) == 1 else tuple(outs)

    def _to_clip(self, x: torch.Tensor, B: int, T: int) -> torch.Tensor:
        """space_only's per-frame tokens (B*T, P + N, C) as one clip (B, P + T*N, C): the class
        token averaged over frames (mmaction2's TimeSformer averages before its final norm)."""
        P = self.num_prefix_tokens
        x = x.view(B, T, *x.shape[1:])
        patches = x[:, :, P:].reshape(B, -1, x.shape[-1])
        return torch.cat([x[:, :, :P].mean(1), patches], dim=1) if P else patches

    def _format(self, x: torch.Tensor, B: int, T: int, grid) -> torch.Tensor:
        if self.out_type != 'featmap':
            return format_tokens(x, self.out_type, self.num_prefix_tokens, grid)
        patches = x[:, self.num_prefix_tokens:].reshape(B, T, *grid, -1)
        return patches.permute(0, 4, 1, 2, 3)                         # (B, C, T, H', W')


def resize_time_embed(time_embed: torch.Tensor, num_frames: int) -> torch.Tensor:
    """A (1, T0, C) time embedding for ``num_frames`` frames (linear interpolation in time)."""
    if time_embed.shape[1] == num_frames:
        return time_embed
    out = F.interpolate(time_embed.float().transpose(1, 2), size=num_frames, mode='linear',
                        align_corners=False)
    return out.transpose(1, 2).to(time_embed.dtype)


__all__ = ['VideoDeiTScaled', 'resize_time_embed']
