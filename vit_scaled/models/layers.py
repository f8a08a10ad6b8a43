"""Transformer layers shared by every backbone of the package.

Module names follow timm's ``vision_transformer.Block`` (``norm1``, ``attn.qkv``, ``mlp.fc1`` ...)
so that timm state dicts load with no key renaming.
"""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmcv.cnn.bricks import DropPath
from torch import nn

from .attention import Attention

# activation: (module, its in-place aten op for inference)
_ACTS = {'gelu': (nn.GELU, torch.ops.aten.gelu_), 'relu': (nn.ReLU, torch.ops.aten.relu_)}


class Mlp(nn.Module):
    """fc1, activation (``gelu``, or ``relu``: the hardware-friendly one), fc2."""

    def __init__(self, embed_dims: int, hidden_dims: int, drop: float = 0., act: str = 'gelu'):
        super().__init__()
        if act not in _ACTS:
            raise ValueError(f'act={act!r} is invalid: choose one of {tuple(_ACTS)}')
        self.fc1 = nn.Linear(embed_dims, hidden_dims)
        self.act = _ACTS[act][0]()
        self.act_name = act
        self.fc2 = nn.Linear(hidden_dims, embed_dims)
        self.drop = nn.Dropout(drop) if drop > 0 else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.fc1(x)
        # Without autograd the activation overwrites fc1's output (same values): the widest
        # activation of the block is then written once, not twice.
        x = self.act(x) if x.requires_grad else _ACTS[self.act_name][1](x)
        if self.drop is None:  # no-op modules skipped: a call each costs ~1% at batch 1
            return self.fc2(x)
        return self.drop(self.fc2(self.drop(x)))


class Block(nn.Module):
    """Pre-norm transformer block: x + MSA(LN(x)), then x + MLP(LN(x)). ``attn_cfg`` holds the
    attention's options (``window``, ``shift``, ``pool``, ``rel_pos_size``,
    ``num_prefix_tokens``, ``softmax``: see ``Attention``); ``grid`` is passed on to it;
    ``act`` is the MLP's activation."""

    def __init__(self, embed_dims: int, num_heads: int, mlp_hidden: int, qkv_bias: bool = True,
                 drop_rate: float = 0., attn_drop_rate: float = 0., drop_path_rate: float = 0.,
                 attn_cfg: Optional[dict] = None, act: str = 'gelu'):
        super().__init__()
        self.norm1 = nn.LayerNorm(embed_dims, eps=1e-6)
        self.attn = Attention(embed_dims, num_heads, qkv_bias, attn_drop_rate, drop_rate,
                              **(attn_cfg or {}))
        self.norm2 = nn.LayerNorm(embed_dims, eps=1e-6)
        self.mlp = Mlp(embed_dims, mlp_hidden, drop_rate, act)
        self.drop_path = DropPath(drop_path_rate) if drop_path_rate > 0 else None

    def forward(self, x: torch.Tensor, grid: Optional[Sequence[int]] = None) -> torch.Tensor:
        if self.drop_path is None:
            x = x + self.attn(self.norm1(x), grid)
            return x + self.mlp(self.norm2(x))
        x = x + self.drop_path(self.attn(self.norm1(x), grid))
        return x + self.drop_path(self.mlp(self.norm2(x)))


def resize_pos_embed(pos_embed: torch.Tensor, src_grid: Sequence[int], dst_grid: Sequence[int],
                     num_prefix_tokens: int = 0, mode: str = 'bicubic') -> torch.Tensor:
    """Resize a (1, prefix + H*W, C) position embedding from one token grid to another.

    The prefix (class / distillation) positions are kept as they are; the grid part is
    interpolated (bicubic by default, as DeiT's fine-tuning at 384).
    """
    src_grid, dst_grid = tuple(src_grid), tuple(dst_grid)
    if src_grid == dst_grid:
        return pos_embed
    prefix, grid = pos_embed[:, :num_prefix_tokens], pos_embed[:, num_prefix_tokens:]
    if grid.shape[1] != src_grid[0] * src_grid[1]:
        raise ValueError(f'pos_embed has {grid.shape[1]} grid positions, which is not the '
                         f'src_grid {src_grid} ({src_grid[0] * src_grid[1]} positions)')
    C = grid.shape[-1]
    grid = grid.reshape(1, *src_grid, C).permute(0, 3, 1, 2)
    grid = resize_grid(grid, dst_grid, mode)
    return torch.cat([prefix, grid.flatten(2).transpose(1, 2)], dim=1)


def resize_grid(grid: torch.Tensor, dst_grid: Tuple[int, int], mode: str = 'bicubic') -> torch.Tensor:
    """Resize a (1, C, H, W) embedding in fp32. Smooth modes use the antialiased kernel, as timm
    does when it adapts a checkpoint to another resolution, so timm's weights resized by timm
    and by us agree (PyTorch's antialiased bicubic is the a=-0.5 kernel, also when enlarging)."""
    if tuple(grid.shape[-2:]) == tuple(dst_grid):
        return grid
    smooth = mode in ('bilinear', 'bicubic')
    out = F.interpolate(grid.float(), size=tuple(dst_grid), mode=mode,
                        align_corners=False if smooth else None, antialias=smooth)
    return out.to(grid.dtype)


def format_tokens(x: torch.Tensor, out_type: str, num_prefix_tokens: int,
                  grid: Sequence[int]) -> torch.Tensor:
    """One backbone output from (B, prefix + H*W, C) tokens: ``raw`` as is, ``cls_token`` (B, C),
    ``avg_featmap`` (B, C) or ``featmap`` (B, C, H, W, a view: no copy)."""
    if out_type == 'raw':
        return x
    if out_type == 'cls_token':
        return x[:, 0]
    patches = x[:, num_prefix_tokens:]
    if out_type == 'avg_featmap':
        return patches.mean(dim=1)
    return patches.transpose(1, 2).reshape(x.shape[0], -1, *grid)
