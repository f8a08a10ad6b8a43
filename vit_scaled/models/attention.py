"""Multi-head self-attention, global or within windows, as one module.

- Global: one ``F.scaled_dot_product_attention`` over all tokens (PyTorch's fused CPU kernel).
- Windows (``window=(wh, ww)`` tokens, ViTDet / Swin): each window attends within itself. Where
  the window does not divide the grid, ViTDet and Swin pad the grid at the bottom and right with
  zero tokens that real tokens attend to; here padding never receives attention weight. Plain
  (unshifted) windows are simply cut short at the edges: windows of each size run as one batch
  (``window_groups``), with no padding and no mask. Shifted, pooling and relative-position
  windows keep the padded grid and mask the padded keys; as masked keys, their values do not
  matter: q, k and v are projected for the real tokens only and gathered into windows in one
  copy (a padded slot copies some real token), and only the real tokens are projected out.
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
In training, plain and shifted windows (no pooling, no relative position, exact softmax, no
dropout) run as one autograd function (``WindowFlashAttention``) that keeps for backward only
what global attention keeps: q, k, v of the real tokens and the output on the real tokens (which
the projection keeps anyway), not their copies in windows; backward gathers them again.
``softmax='exp2'`` (base 2, see ``softmax.py``) and fake-quantized products (``quant``, set by
``models.quant.quantize_model``) run the products and the softmax as separate operators instead.
"""
import functools
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from ..arch import window_bands
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
def window_groups(grid: Size, window: Size, device
                  ) -> Tuple[Tuple[int, ...], Tuple[torch.Tensor, ...], torch.Tensor]:
    """Unshifted windows without padding (``arch.window_bands``): the windows on the bottom and
    right edges keep their real size, and windows of one size are batched together, so no token
    is padded and nothing is masked. ``(lengths, gathers, scatter)``: per size, the tokens per
    window and the grid tokens of its windows, window by window (row-major within each);
    ``scatter`` (H * W,) each token's place in the concatenated groups."""
    H, W = grid
    tokens = torch.arange(H * W).view(H, W)
    lengths, gathers = [], []
    for (r0, r1, h), (c0, c1, w) in window_bands(grid, window):
        t = tokens[r0:r1, c0:c1].reshape((r1 - r0) // h, h, (c1 - c0) // w, w)
        gathers.append(t.transpose(1, 2).reshape(-1))
        lengths.append(h * w)
    order = torch.cat(gathers)
    scatter = torch.empty_like(order)
    scatter[order] = torch.arange(order.numel())
    return tuple(lengths), tuple(g.to(device) for g in gathers), scatter.to(device)


@functools.lru_cache(maxsize=32)
def additive_mask(grid: Size, window: Size, shift: bool, dtype, device) -> torch.Tensor:
    """``window_layout``'s allowed pairs as SDPA's additive mask (nW, 1, L, L): 0 or -inf. Built
    once per grid and kept (never written to), not at every block of every pass."""
    allowed = window_layout(grid, window, shift)[2]
    return torch.zeros(allowed.shape, dtype=dtype, device=device).masked_fill_(
        ~allowed.to(device), float('-inf'))[:, None]


class WindowFlashAttention(torch.autograd.Function):
    """Attention within windows on PyTorch's fused CPU kernel, saving real-token tensors only.

    ``qkv`` (B, N, 3C) of the real tokens; ``scatter`` (N,) each real token's place in the
    concatenated groups; ``lengths`` and ``gathers``: per group of windows, the tokens per window
    and the token in each window slot. Either unpadded groups (``window_groups``) with no mask,
    or one group of padded windows (``window_index``) with ``mask`` and ``gather_or_zero``, where
    padded slots point at row N: a zero row appended in backward, so that padded queries send no
    gradient. Padded keys are masked and padded queries cropped, so their (copied) q, k, v and
    outputs never reach a real token's value or gradient. Returns the (B, N, C) output.
    """

    @staticmethod
    def forward(ctx, qkv, scatter, heads, lengths, gathers, mask=None, gather_or_zero=None):
        outs, lses = zip(*_each_group(
            qkv, heads, lengths, gathers,
            lambda q, k, v: torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(
                q, k, v, 0.0, False, attn_mask=mask)))
        y = _cat([_merge_windows(out, qkv.shape[0]) for out in outs]).index_select(1, scatter)
        ctx.save_for_backward(qkv, y, *lses)
        ctx.scatter, ctx.heads, ctx.lengths, ctx.gathers = scatter, heads, lengths, gathers
        ctx.mask, ctx.gather_or_zero = mask, gather_or_zero
        return y

    @staticmethod
    def backward(ctx, grad_y):
        qkv, y, *lses = ctx.saved_tensors
        B, heads = qkv.shape[0], ctx.heads
        grad_gathers = ctx.gathers
        if ctx.gather_or_zero is not None:
            grad_y = torch.cat([grad_y, grad_y.new_zeros(B, 1, grad_y.shape[-1])], 1)
            grad_gathers = (ctx.gather_or_zero, )
        grads = []
        for L, g, gz, lse in zip(ctx.lengths, ctx.gathers, grad_gathers, lses):
            nW = g.numel() // L
            to_windows = lambda t: t.view(B * nW, L, heads, -1).transpose(1, 2)  # noqa: E731
            grad_out = to_windows(grad_y.index_select(1, gz))
            out = to_windows(y.index_select(1, g))
            q, k, v = _split_windows(qkv.index_select(1, g), B, nW, heads)
            dqkv = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu_backward(
                grad_out, q, k, v, out, lse, 0.0, False, attn_mask=ctx.mask)
            del grad_out, out, q, k, v
            grads.append(torch.cat([_merge_windows(d, B) for d in dqkv], -1))
        return _cat(grads).index_select(1, ctx.scatter), None, None, None, None, None, None


def _cat(parts):
    """The groups' outputs in one tensor along the tokens (no copy for a single group)."""
    return parts[0] if len(parts) == 1 else torch.cat(parts, 1)


def _each_group(qkv, heads, lengths, gathers, attend):
    """``attend(q, k, v)`` of each group of windows, in order: ``lengths[i]`` tokens per window,
    ``gathers[i]`` the token in each window slot of group i."""
    B = qkv.shape[0]
    for L, g in zip(lengths, gathers):
        yield attend(*_split_windows(qkv.index_select(1, g), B, g.numel() // L, heads))


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
        """Whether this pass can run ``WindowFlashAttention``: a training pass through plain or
        shifted windows on the exact softmax, no dropout, on CPU, not traced or exported, and with
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
        qkv = self.qkv(x)
        if not (self.shift or self.pool or self.rel_pos_h is not None):
            return self.proj(self._unpadded_windows(x, qkv, grid))
        B = x.shape[0]
        (wh, ww), heads = self.window, self.num_heads
        (Hp, Wp), real, allowed = window_layout(grid, self.window, self.shift)
        nW, L = (Hp // wh) * (Wp // ww), wh * ww
        gather, gather_or_zero, scatter = window_index(grid, self.window, self.shift, x.device)
        mask = None if allowed is None else additive_mask(grid, self.window, self.shift,
                                                          qkv.dtype, qkv.device)
        # 4-D for SDPA: with a batch of B * nW windows the fused CPU kernel runs (3x faster
        # than the math path that 5-D inputs take, measured at 25 windows of 196 tokens).
        flat = lambda t: t.reshape(B * nW, *t.shape[2:])  # noqa: E731
        per_window = lambda m: flat(m.expand(B, *m.shape[-4:]))  # noqa: E731  (mask per window)
        if self._fused_backward(x):
            return self.proj(WindowFlashAttention.apply(
                qkv, scatter, heads, (L, ), (gather, ), per_window(mask), gather_or_zero))
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
        mask = None if mask is None else per_window(mask)
        x = self._sdpa(flat(q), flat(k), flat(v), mask)                # (B * nW, heads, L, e)
        # Back to the grid (un-partition, roll back and crop in one gather), then project.
        return self.proj(_merge_windows(x, B).index_select(1, scatter))

    def _unpadded_windows(self, x, qkv, grid):
        """Unshifted plain windows, batched by size (``window_groups``): the edge windows keep
        their real size, so there is no padding to compute on and no mask (about 30 % fewer
        attention FLOPs than padded windows at 64 x 48 tokens in windows of 14)."""
        B, heads = x.shape[0], self.num_heads
        lengths, gathers, scatter = window_groups(grid, self.window, x.device)
        if self._fused_backward(x):
            return WindowFlashAttention.apply(qkv, scatter, heads, lengths, gathers)
        outs = _each_group(qkv, heads, lengths, gathers, self._sdpa)
        return _cat([_merge_windows(out, B) for out in outs]).index_select(1, scatter)
