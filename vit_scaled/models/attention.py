"""Multi-head self-attention, global or within windows, as one module.

- Global: one ``F.scaled_dot_product_attention`` over all tokens (PyTorch's fused CPU kernel).
- Windows (``window=(wh, ww)`` tokens, ViTDet / Swin): the token grid is padded at the bottom and
  right to a multiple of the window, split into windows, and each window attends within itself.
  Padded tokens are masked out of the keys, so they never receive attention weight (ViTDet and
  Swin leave them in as zeros that real tokens attend to). Because they are masked, their values
  do not matter: q, k and v are projected for the real tokens only and gathered into windows in
  one copy (a padded slot copies some real token), and only the real tokens are projected out.
- ``shift``: Swin's shifted windows. The padded grid is rolled by ``-(wh // 2, ww // 2)`` before
  partitioning and back after; region masks keep tokens from attending across the wrap-around.
- ``pool``: ViTPose's pooling windows. Each window's real tokens are averaged to one key and one
  value (of the shifted partition in a shifted block), and the pooled keys and values of all
  windows are appended to every window's own (queries unchanged). Pooling k and v equals
  projecting the pooled tokens: the projection is affine.
- ``rel_pos_size``: ViTDet's / SAM's decomposed relative position: per block two tables of
  ``2 * size - 1`` entries (rows, columns), sized for the window or the training grid,
  zero-initialised, interpolated when the attended size differs. The bias uses the unscaled
  query, as SAM does; prefix (class) tokens and pooled keys get none.

Masks and biases go into SDPA's ``attn_mask``; a block without either keeps the fused kernel.
In training, plain windows (no pooling, no relative position, exact softmax, no dropout) run as
one autograd function (``WindowFlashAttention``) that keeps for backward only what global
attention keeps: q, k, v of the real tokens and the output on the real tokens (which the
projection keeps anyway), not their padded-window copies; backward gathers them again.
``softmax='exp2'`` (base 2, see ``softmax.py``) and fake-quantized products (``quant``, set by
``models.quant.quantize_model``) run the products and the softmax as separate operators instead.
"""
import functools
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from .softmax import attention_math

Size = Tuple[int, int]


def rel_pos_table(table: torch.Tensor, q_len: int, k_len: int) -> torch.Tensor:
    """(q_len, k_len, e) embeddings of the offsets ``q - k`` from a (2 * size - 1, e) table,
    linearly interpolated when the table was made for another size."""
    n = 2 * max(q_len, k_len) - 1
    if table.shape[0] != n:
        table = F.interpolate(table.t()[None].float(), size=n, mode='linear',
                              align_corners=False)[0].t().to(table.dtype)
    q = torch.arange(q_len, device=table.device)[:, None] * max(k_len / q_len, 1.0)
    k = torch.arange(k_len, device=table.device)[None, :] * max(q_len / k_len, 1.0)
    return table[(q - k + (k_len - 1) * max(q_len / k_len, 1.0)).long()]


def rel_pos_bias(q: torch.Tensor, size: Size, rel_h: torch.Tensor, rel_w: torch.Tensor
                 ) -> torch.Tensor:
    """Decomposed relative-position bias (..., H*W, H*W) for queries ``q`` (..., H*W, e) of an
    H x W grid attending to the same grid."""
    h, w = size
    r = q.reshape(*q.shape[:-2], h, w, q.shape[-1])
    bias_h = torch.einsum('...hwc,hkc->...hwk', r, rel_pos_table(rel_h, h, h))
    bias_w = torch.einsum('...hwc,wkc->...hwk', r, rel_pos_table(rel_w, w, w))
    bias = bias_h[..., :, :, :, None] + bias_w[..., :, :, None, :]
    return bias.reshape(*q.shape[:-2], h * w, h * w)


def _bands(n: int, window: int, shift: int):
    if shift == 0:  # a window of one token along this axis: nothing rolls
        return (slice(0, n),)
    return slice(0, n - window), slice(n - window, n - shift), slice(n - shift, n)


@functools.lru_cache(maxsize=32)
def window_layout(grid: Size, window: Size, shift: bool):
    """For an H x W grid in windows: ``(padded grid, real, allowed)``. ``real`` (nW, L) marks the
    tokens that are not padding, per window of the (rolled) padded grid; ``allowed`` (nW, L, L)
    is None when every pair may attend, else the pairs in the same shift region whose key is
    real (and each query with itself, so that no row is empty: padded queries are cropped)."""
    (H, W), (wh, ww) = grid, window
    Hp, Wp = -(-H // wh) * wh, -(-W // ww) * ww
    real = torch.zeros(Hp, Wp, dtype=torch.bool)
    real[:H, :W] = True
    region = torch.zeros(Hp, Wp, dtype=torch.long)
    if shift:
        sh, sw = wh // 2, ww // 2
        real = real.roll((-sh, -sw), dims=(0, 1))
        # Swin's three bands per axis, in the rolled frame: the last band is what wrapped around.
        for i, rows in enumerate(_bands(Hp, wh, sh)):
            for j, cols in enumerate(_bands(Wp, ww, sw)):
                region[rows, cols] = 3 * i + j
    nh, nw = Hp // wh, Wp // ww

    def windows(t):
        return t.view(nh, wh, nw, ww).transpose(1, 2).reshape(nh * nw, wh * ww)

    real, region = windows(real), windows(region)
    if bool(real.all()) and not shift:
        return (Hp, Wp), real, None
    allowed = (region[:, :, None] == region[:, None, :]) & real[:, None, :]
    allowed |= torch.eye(wh * ww, dtype=torch.bool)
    return (Hp, Wp), real, allowed


@functools.lru_cache(maxsize=32)
def window_index(grid: Size, window: Size, shift: bool, device
                 ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(gather, gather_or_zero, scatter)``: ``gather`` (nW * L,) gives, for each slot of the
    windows of the (rolled) padded grid, the real token it holds (padding: token 0, masked out
    anyway); ``gather_or_zero`` the same with padding at index H * W, one past the real tokens
    (for a zero row the caller appends); ``scatter`` (H * W,) gives each real token's slot: the
    partition and its inverse as indices."""
    (H, W), (wh, ww) = grid, window
    (Hp, Wp), _, _ = window_layout(grid, window, shift)
    src = F.pad(torch.arange(H * W).view(H, W), (0, Wp - W, 0, Hp - H), value=-1)
    if shift:
        src = src.roll((-(wh // 2), -(ww // 2)), dims=(0, 1))
    src = src.view(Hp // wh, wh, Wp // ww, ww).transpose(1, 2).reshape(-1)
    slots = torch.nonzero(src >= 0).squeeze(1)
    scatter = torch.empty(H * W, dtype=torch.long)
    scatter[src[slots]] = slots
    gather_or_zero = torch.where(src >= 0, src, H * W)
    return src.clamp(min=0).to(device), gather_or_zero.to(device), scatter.to(device)


@functools.lru_cache(maxsize=32)
def additive_mask(grid: Size, window: Size, shift: bool, dtype, device) -> torch.Tensor:
    """``window_layout``'s allowed pairs as SDPA's additive mask (nW, 1, L, L): 0 or -inf. Built
    once per grid and kept (never written to), not at every block of every pass."""
    allowed = window_layout(grid, window, shift)[2]
    return torch.zeros(allowed.shape, dtype=dtype, device=device).masked_fill_(
        ~allowed.to(device), float('-inf'))[:, None]


class WindowFlashAttention(torch.autograd.Function):
    """Attention within windows on PyTorch's fused CPU kernel, saving real-token tensors only.

    ``qkv`` (B, N, 3C) of the real tokens; ``gather`` (nW * L,) a real token per window slot;
    ``gather_or_zero`` the same with padding pointing at row N (a zero row appended in backward,
    so that padded queries get no gradient); ``scatter`` (N,) each real token's slot. Returns the
    (B, N, C) attention output of the real tokens. Padded keys are masked and padded queries are
    cropped, so their (copied) q, k, v and outputs never reach a real token's value or gradient.
    """

    @staticmethod
    def forward(ctx, qkv, gather, gather_or_zero, scatter, mask, num_windows, heads):
        B = qkv.shape[0]
        q, k, v = _split_windows(qkv.index_select(1, gather), B, num_windows, heads)
        out, lse = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(
            q, k, v, 0.0, False, attn_mask=mask)
        y = _merge_windows(out, B).index_select(1, scatter)
        ctx.save_for_backward(qkv, y, lse, gather, gather_or_zero, scatter)
        ctx.mask, ctx.num_windows, ctx.heads = mask, num_windows, heads
        return y

    @staticmethod
    def backward(ctx, grad_y):
        qkv, y, lse, gather, gather_or_zero, scatter = ctx.saved_tensors
        B, nW, heads = qkv.shape[0], ctx.num_windows, ctx.heads
        to_windows = lambda t: t.view(B * nW, -1, heads, t.shape[-1] // heads).transpose(1, 2)  # noqa: E731
        grad_y = torch.cat([grad_y, grad_y.new_zeros(B, 1, grad_y.shape[-1])], 1)
        grad_out = to_windows(grad_y.index_select(1, gather_or_zero))
        out = to_windows(y.index_select(1, gather))
        q, k, v = _split_windows(qkv.index_select(1, gather), B, nW, heads)
        grads = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu_backward(
            grad_out, q, k, v, out, lse, 0.0, False, attn_mask=ctx.mask)
        del grad_out, out, q, k, v
        grad_qkv = torch.cat([_merge_windows(g, B).index_select(1, scatter) for g in grads], -1)
        return grad_qkv, None, None, None, None, None, None


def _split_windows(qkv_windows, B, nW, heads):
    """(B, nW * L, 3C) in window-slot order -> q, k, v (B * nW, heads, L, e), views."""
    L = qkv_windows.shape[1] // nW
    q, k, v = qkv_windows.view(B, nW, L, 3, heads, -1).permute(3, 0, 1, 4, 2, 5).unbind(0)
    return (t.reshape(B * nW, heads, L, t.shape[-1]) for t in (q, k, v))


def _merge_windows(x, B):
    """(B * nW, heads, L, e) -> (B, nW * L, heads * e) in window-slot order."""
    BW, heads, L, e = x.shape
    return x.transpose(1, 2).reshape(B, BW // B * L, heads * e)


class Attention(nn.Module):
    """Multi-head self-attention over (B, N, C) tokens; ``grid`` (H, W) of the last H*W tokens
    (after ``num_prefix_tokens`` prefix tokens) is needed by windows and relative position.

    Args:
        window: (wh, ww) tokens, or None for global attention.
        shift: roll the grid by half a window first (Swin).
        pool: append every window's pooled key and value to each window (ViTPose).
        rel_pos_size: (h, w) the relative-position tables are made for; None: no such bias.
        softmax: ``exp`` (PyTorch's fused kernel) or ``exp2`` (base 2, the same weights).
    """

    def __init__(self, embed_dims: int, num_heads: int, qkv_bias: bool = True,
                 attn_drop: float = 0., proj_drop: float = 0., window: Optional[Sequence[int]] = None,
                 shift: bool = False, pool: bool = False,
                 rel_pos_size: Optional[Sequence[int]] = None, num_prefix_tokens: int = 0,
                 softmax: str = 'exp'):
        super().__init__()
        if softmax not in ('exp', 'exp2'):
            raise ValueError(f"softmax={softmax!r} is invalid: choose 'exp' or 'exp2'")
        if window is None and (shift or pool):
            raise ValueError('shift and pool need a window')
        if window is not None and num_prefix_tokens:
            raise ValueError('windowed attention has no place for prefix (class) tokens')
        self.num_heads = num_heads
        self.head_dim = embed_dims // num_heads
        self.qkv = nn.Linear(embed_dims, embed_dims * 3, bias=qkv_bias)
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.attn_drop = attn_drop
        self.proj_drop = nn.Dropout(proj_drop) if proj_drop > 0 else None
        self.window = tuple(window) if window is not None else None
        self.shift, self.pool = shift, pool
        self.num_prefix_tokens = num_prefix_tokens
        self.softmax = softmax
        self.quant = None  # fake quantization of QK^T and AV (models/quant.py)
        if rel_pos_size is not None:
            h, w = rel_pos_size
            self.rel_pos_h = nn.Parameter(torch.zeros(2 * h - 1, self.head_dim))
            self.rel_pos_w = nn.Parameter(torch.zeros(2 * w - 1, self.head_dim))
        else:
            self.rel_pos_h = self.rel_pos_w = None

    def extra_repr(self) -> str:
        kind = 'global' if self.window is None else f'window={self.window}'
        return (f'heads={self.num_heads}, {kind}' + (', shift' if self.shift else '')
                + (', pool' if self.pool else '')
                + (', rel_pos' if self.rel_pos_h is not None else '')
                + (', softmax=exp2' if self.softmax == 'exp2' else ''))

    def _sdpa(self, q, k, v, mask=None):
        if self.softmax == 'exp2' or self.quant is not None:
            return attention_math(q, k, v, mask, self.softmax == 'exp2',
                                  self.attn_drop if self.training else 0., self.quant)
        return F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=self.attn_drop if self.training else 0.)

    def forward(self, x: torch.Tensor, grid: Optional[Sequence[int]] = None) -> torch.Tensor:
        if self.window is not None:
            x = self._windows(x, tuple(grid))
        else:
            x = self._global(x, grid)
        return x if self.proj_drop is None else self.proj_drop(x)

    def _fused_backward(self, x) -> bool:
        """Whether this pass can run ``WindowFlashAttention``: a training pass through plain
        windows on the exact softmax, no dropout, on CPU, not traced or exported, and with
        the fused kernel allowed (``torch.nn.attention.sdpa_kernel`` holds here too)."""
        return (torch.is_grad_enabled() and x.requires_grad and x.device.type == 'cpu'
                and torch.backends.cuda.flash_sdp_enabled()
                and not self.pool and self.rel_pos_h is None and self.softmax == 'exp'
                and self.quant is None and not (self.training and self.attn_drop > 0)
                and not torch.jit.is_tracing() and not torch.onnx.is_in_onnx_export())

    def _global(self, x, grid):
        B, N, C = x.shape
        q, k, v = self.qkv(x).reshape(B, N, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4).unbind(0)
        mask = None
        if self.rel_pos_h is not None:
            P = self.num_prefix_tokens
            mask = F.pad(rel_pos_bias(q[:, :, P:], tuple(grid), self.rel_pos_h, self.rel_pos_w),
                         (P, 0, P, 0))
        x = self._sdpa(q, k, v, mask)
        return self.proj(x.transpose(1, 2).reshape(B, N, C))

    def _windows(self, x, grid):
        B = x.shape[0]
        (wh, ww), heads = self.window, self.num_heads
        (Hp, Wp), real, allowed = window_layout(grid, self.window, self.shift)
        nW, L = (Hp // wh) * (Wp // ww), wh * ww
        gather, gather_or_zero, scatter = window_index(grid, self.window, self.shift, x.device)
        qkv = self.qkv(x)
        mask = None if allowed is None else additive_mask(grid, self.window, self.shift,
                                                          qkv.dtype, qkv.device)
        # 4-D for SDPA: with a batch of B * nW windows the fused CPU kernel runs (3x faster
        # than the math path that 5-D inputs take, measured at 25 windows of 196 tokens).
        flat = lambda t: t.reshape(B * nW, *t.shape[2:])  # noqa: E731
        if self._fused_backward(x):
            if mask is not None:
                mask = flat(mask.expand(B, *mask.shape[-4:]))
            return self.proj(WindowFlashAttention.apply(qkv, gather, gather_or_zero, scatter,
                                                        mask, nW, heads))
        # Project the real tokens, then pad, roll and partition them in one gather; the head
        # split is a view: (B, nW, L, 3, heads, e) -> q, k, v of (B, nW, heads, L, e).
        q, k, v = qkv.index_select(1, gather).view(B, nW, L, 3, heads, -1).permute(
            3, 0, 1, 4, 2, 5).unbind(0)
        if self.rel_pos_h is not None:
            bias = rel_pos_bias(q, self.window, self.rel_pos_h, self.rel_pos_w)
            mask = bias if mask is None else bias + mask
        if self.pool:
            w = real.to(q.device, q.dtype)[:, None, :, None]           # (nW, 1, L, 1)
            k_pool = (k * w).sum(3) / w.sum(2)                         # (B, nW, heads, e)
            v_pool = (v * w).sum(3) / w.sum(2)
            extra = lambda t: t.transpose(1, 2)[:, None].expand(-1, nW, -1, -1, -1)  # noqa: E731
            k = torch.cat([k, extra(k_pool)], dim=3)
            v = torch.cat([v, extra(v_pool)], dim=3)
            if mask is not None:  # pooled keys: no bias, never masked
                mask = F.pad(mask, (0, nW))
        if mask is not None:
            mask = flat(mask.expand(B, *mask.shape[-4:]))
        x = self._sdpa(flat(q), flat(k), flat(v), mask)                # (B * nW, heads, L, e)
        # Back to the grid (un-partition, roll back and crop in one gather), then project.
        return self.proj(_merge_windows(x, B).index_select(1, scatter))
