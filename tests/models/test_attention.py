"""Windowed attention (plain, shifted, pooling windows, relative position) against global attention
and against naive references written from the definitions: a Python loop over the windows of the
rolled, padded grid with explicit masks."""
import math

import pytest
import torch
import torch.nn.functional as F

from vit_scaled.arch import DeiTArch, map_blocks, map_out_indices
from vit_scaled.models import DeiTScaled
from vit_scaled.models.attention import Attention

SMALL = dict(depth=2, num_heads=2, head_dim=8, mlp_ratio=2.0)


def backbone(img, **kw):
    return DeiTScaled(arch=SMALL, img_size=img, patch_size=16, with_cls_token=False,
                      out_type='featmap', **kw).eval()


def randomise(module):
    """Non-zero weights everywhere (relative-position tables start at zero)."""
    with torch.no_grad():
        for p in module.parameters():
            p.normal_(0, 0.2)
    return module


def naive_window_attention(attn: Attention, x, grid, window, shift, pool):
    """Windowed attention by its definition, one window and one head at a time.

    The grid is padded at the bottom and right to whole windows; with ``shift`` the padded grid
    is rolled by -(wh // 2, ww // 2). A query attends to the keys of its window that are real
    (not padding) and, when shifted, that come from the same side of the wrap-around on both
    axes (Swin's regions). With ``pool`` every window's real keys and values are averaged and
    all windows' averages are appended to every window's keys and values.
    """
    B, N, C = x.shape
    (H, W), (wh, ww) = grid, window
    Hp, Wp = math.ceil(H / wh) * wh, math.ceil(W / ww) * ww
    sh, sw = (wh // 2, ww // 2) if shift else (0, 0)
    padded = torch.zeros(B, Hp, Wp, C)
    padded[:, :H, :W] = x.view(B, H, W, C)
    qkv = attn.qkv(padded)  # (B, Hp, Wp, 3C)
    heads, e = attn.num_heads, C // attn.num_heads
    q, k, v = (qkv[..., i * C:(i + 1) * C].reshape(B, Hp, Wp, heads, e) for i in range(3))

    def source(r, c):  # the padded-grid position that the rolled grid holds at (r, c)
        return (r + sh) % Hp, (c + sw) % Wp

    windows = [[source(i * wh + a, j * ww + b) for a in range(wh) for b in range(ww)]
               for i in range(Hp // wh) for j in range(Wp // ww)]
    real = lambda p: p[0] < H and p[1] < W  # noqa: E731
    wrapped = lambda p: (p[0] < sh, p[1] < sw)  # noqa: E731  (rolled in from the other end)
    pooled_k = [torch.stack([k[:, r, c] for r, c in win if real((r, c))]).mean(0) for win in windows]
    pooled_v = [torch.stack([v[:, r, c] for r, c in win if real((r, c))]).mean(0) for win in windows]
    out = torch.zeros(B, Hp, Wp, heads, e)
    for win in windows:
        keys = torch.stack([k[:, r, c] for r, c in win], 1)      # (B, L, heads, e)
        vals = torch.stack([v[:, r, c] for r, c in win], 1)
        for qp in win:
            if not real(qp):
                continue
            ok = torch.tensor([real(kp) and (not shift or wrapped(kp) == wrapped(qp)) for kp in win])
            kk, vv = keys[:, ok], vals[:, ok]
            if pool:
                kk = torch.cat([kk, torch.stack(pooled_k, 1)], 1)
                vv = torch.cat([vv, torch.stack(pooled_v, 1)], 1)
            scores = torch.einsum('bhe,blhe->bhl', q[:, qp[0], qp[1]], kk) / math.sqrt(e)
            out[:, qp[0], qp[1]] = torch.einsum('bhl,blhe->bhe', scores.softmax(-1), vv)
    out = attn.proj(out.reshape(B, Hp, Wp, C))
    return out[:, :H, :W].reshape(B, H * W, C)


@torch.no_grad()
def test_window_covering_the_grid_equals_global_attention():
    g = randomise(backbone((128, 96)))
    w = backbone((128, 96), window_size=(8, 6))  # the 8 x 6 grid in one window
    w.load_state_dict(g.state_dict())
    x = torch.randn(2, 3, 128, 96)
    assert torch.allclose(w(x)[0], g(x)[0], atol=1e-6, rtol=0)


@pytest.mark.parametrize('grid, window', [((8, 12), (4, 6)), ((7, 10), (4, 4)), ((5, 9), (3, 4))])
@pytest.mark.parametrize('shift, pool', [(True, False), (False, True), (True, True), (False, False)])
@torch.no_grad()
def test_windows_equal_the_naive_reference(grid, window, shift, pool):
    attn = randomise(Attention(16, 2, window=window, shift=shift, pool=pool)).eval()
    x = torch.randn(2, grid[0] * grid[1], 16)
    expected = naive_window_attention(attn, x, grid, window, shift, pool)
    assert torch.allclose(attn(x, grid), expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize('grid, window, shift', [((8, 12), (4, 6), True), ((7, 10), (4, 4), False),
                                                 ((5, 9), (3, 4), True), ((5, 9), (3, 4), False)])
def test_training_windows_match_the_reference_in_value_and_gradient(grid, window, shift):
    """A training pass through plain windows runs WindowFlashAttention (its own backward);
    its outputs and gradients equal autograd through the naive reference."""
    attn = randomise(Attention(16, 2, window=window, shift=shift)).train()
    x = torch.randn(2, grid[0] * grid[1], 16, requires_grad=True)
    grad = torch.randn(2, grid[0] * grid[1], 16)
    y = attn(x, grid)
    assert 'WindowFlashAttentionBackward' in _graph_nodes(y.grad_fn)
    params = (x, attn.qkv.weight, attn.qkv.bias, attn.proj.weight)
    got = torch.autograd.grad(y, params, grad)
    expected = torch.autograd.grad(naive_window_attention(attn, x, grid, window, shift, False),
                                   params, grad)
    assert torch.allclose(y, naive_window_attention(attn, x, grid, window, shift, False),
                          atol=1e-5, rtol=0)
    for g, e in zip(got, expected):
        assert torch.allclose(g, e, atol=1e-4, rtol=1e-4)


def _graph_nodes(fn, seen=None):
    """The class names of the autograd graph's nodes from ``fn`` back."""
    seen = set() if seen is None else seen
    if fn is not None and fn not in seen:
        seen.add(fn)
        for nxt, _ in fn.next_functions:
            _graph_nodes(nxt, seen)
    return {type(f).__name__ for f in seen}


def _saved_bytes(attn, x, grid):
    """Bytes of the distinct storages autograd keeps for backward through ``attn``."""
    storages = {}

    def pack(t):
        storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        attn(x, grid)
    return sum(storages.values())


def test_training_windows_keep_no_more_for_backward_than_global():
    """On a grid the window does not divide (7 x 10 in 4 x 4 windows: 8 x 12 padded, 37% more
    slots), the windowed block keeps the real tokens' q, k, v and output, as global attention
    does, not their padded-window copies."""
    grid, C = (7, 10), 64
    x = torch.randn(1, 70, C, requires_grad=True)
    windowed = _saved_bytes(Attention(C, 2, window=(4, 4)).train(), x, grid)
    global_ = _saved_bytes(Attention(C, 2).train(), x, grid)
    assert windowed <= global_ * 1.02, (windowed, global_)


def _recording_sdpa(monkeypatch):
    """Replace SDPA with its definition and record each call's weights and mask."""
    calls = []

    def recording_sdpa(q, k, v, attn_mask=None, dropout_p=0.0):
        s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
        p = (s if attn_mask is None else s + attn_mask).softmax(-1)
        calls.append((p, attn_mask))
        return p @ v

    monkeypatch.setattr(F, 'scaled_dot_product_attention', recording_sdpa)
    return calls


def test_padded_tokens_receive_zero_attention_weight(monkeypatch):
    """Record the attention weights of a shifted windowed block on a grid the window does not
    divide (the padding is rolled inside the windows)."""
    calls = _recording_sdpa(monkeypatch)
    from vit_scaled.models.attention import window_layout
    grid, window = (5, 7), (4, 4)
    attn = randomise(Attention(16, 2, window=window, shift=True)).eval()
    with torch.no_grad():
        attn(torch.randn(1, 35, 16), grid)
    _, real, _ = window_layout(grid, window, True)            # (nW, L) in the rolled grid
    p = calls[0][0]                                           # (B * nW, heads, L, L), B = 1
    pad_keys = ~real[:, None, None, :].expand_as(p)
    real_queries = real[:, None, :, None].expand_as(p)
    assert (~real).any()                                      # there is padding to test
    assert p[pad_keys & real_queries].abs().max() == 0
    assert torch.allclose(p.sum(-1), torch.ones(()))


@pytest.mark.parametrize('train', [False, True])
def test_unshifted_windows_are_not_padded(monkeypatch, train):
    """Unshifted plain windows on a grid the window does not divide: the edge windows keep their
    real size (5 x 7 in 4 x 4 windows: one of 16 tokens, one of 12, one of 4, one of 3), batched
    by size, unmasked, each token in exactly one window; the fused training path too."""
    from vit_scaled.models.attention import window_groups
    lengths, gathers, scatter = window_groups((5, 7), (4, 4), torch.device('cpu'))
    assert lengths == (16, 12, 4, 3)
    assert sorted(torch.cat(gathers).tolist()) == list(range(35))
    assert gathers[1].tolist() == [4, 5, 6, 11, 12, 13, 18, 19, 20, 25, 26, 27]  # rows 0-3, cols 4-6
    attn = randomise(Attention(16, 2, window=(4, 4))).train(train)
    x = torch.randn(2, 35, 16, requires_grad=train)
    if train:
        kernel_calls = []
        real = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu
        monkeypatch.setattr(torch.ops.aten, '_scaled_dot_product_flash_attention_for_cpu',
                            lambda q, *a, **kw: kernel_calls.append((q.shape, kw)) or real(q, *a, **kw),
                            raising=False)
        attn(x, (5, 7)).sum().backward()
        assert [s[-2] for s, _ in kernel_calls] == [16, 12, 4, 3]
        assert all(kw['attn_mask'] is None for _, kw in kernel_calls)
    else:
        calls = _recording_sdpa(monkeypatch)
        attn(x, (5, 7))
        assert [p.shape[-2:] for p, _ in calls] == [(L, L) for L in (16, 12, 4, 3)]
        assert all(mask is None for _, mask in calls)
        assert [p.shape[0] for p, _ in calls] == [2, 2, 2, 2]   # B * one window of each size


@torch.no_grad()
def test_relative_position_global_block_keeps_prefix_tokens_and_interpolates():
    m = randomise(DeiTScaled(arch=SMALL, img_size=64, use_rel_pos=True))  # 4 x 4 grid, cls token
    assert m.blocks[0].attn.rel_pos_h.shape == (7, 8)
    assert m(torch.randn(1, 3, 64, 64))[0].shape == (1, 16)
    assert m(torch.randn(1, 3, 96, 64))[0].shape == (1, 16)      # 6 x 4 grid: tables interpolated


@torch.no_grad()
def test_relative_position_bias_is_the_decomposed_definition():
    attn = randomise(Attention(16, 2, window=(3, 4), rel_pos_size=(3, 4))).eval()
    x = torch.randn(1, 12, 16)
    q, k, v = attn.qkv(x).view(1, 12, 3, 2, 8).permute(2, 0, 3, 1, 4)
    bias = torch.zeros(1, 2, 12, 12)
    for i in range(12):
        for j in range(12):
            (qh, qw), (kh, kw) = divmod(i, 4), divmod(j, 4)
            bias[..., i, j] = (q[..., i, :] * attn.rel_pos_h[qh - kh + 2]).sum(-1) + \
                (q[..., i, :] * attn.rel_pos_w[qw - kw + 3]).sum(-1)
    p = ((q @ k.transpose(-2, -1)) / math.sqrt(8) + bias).softmax(-1)
    expected = attn.proj((p @ v).transpose(1, 2).reshape(1, 12, 16))
    assert torch.allclose(attn(x, (3, 4)), expected, atol=1e-5, rtol=0)


def test_windowed_blocks_and_options_in_the_arch():
    m = DeiTScaled(arch='deit-tiny', img_size=(256, 192), with_cls_token=False, out_type='featmap',
                   window_size=14, window_block_indexes=[0, 1, 3, 4, 6, 7, 9, 10],
                   shift_window=True, pool_window=True, use_rel_pos=True)
    a = m.arch
    assert a.window_size == (14, 14) and a.window_block_indexes == (0, 1, 3, 4, 6, 7, 9, 10)
    assert [m.blocks[i].attn.window for i in range(12)].count(None) == 4
    assert [i for i in range(12) if m.blocks[i].attn.shift] == [1, 4, 7, 10]  # 2nd, 4th, ...
    assert m.blocks[2].attn.rel_pos_h.shape == (2 * 16 - 1, 64)  # global: the training grid
    assert m.blocks[0].attn.rel_pos_h.shape == (2 * 14 - 1, 64)  # windowed: the window
    assert m(torch.randn(1, 3, 256, 192))[0].shape == (1, 192, 16, 12)


@pytest.mark.parametrize('kwargs, names', [
    (dict(window_size=-2), ['window_size', '-2']),
    (dict(window_size=(4, 0)), ['window_size', '(4, 0)']),
    (dict(window_size=4, window_block_indexes=[0, 12]), ['window_block_indexes', '12', '0..11']),
    (dict(window_block_indexes=[0]), ['window_block_indexes', 'window_size']),
    (dict(shift_window=True), ['shift_window', 'window_size']),
])
def test_bad_window_options_name_the_value(kwargs, names):
    with pytest.raises(ValueError) as e:
        DeiTScaled(arch='deit-tiny', with_cls_token=False, out_type='featmap', **kwargs)
    for n in names:
        assert n in str(e.value)


def test_windows_need_no_class_token():
    with pytest.raises(ValueError, match='window_size.*with_cls_token'):
        DeiTScaled(arch='deit-tiny', window_size=14)


@torch.no_grad()
def test_overlapping_patches_give_the_stride_grid():
    m = DeiTScaled(arch=SMALL, img_size=(256, 192), patch_stride=8, with_cls_token=False,
                   out_type='featmap', window_size=8, shift_window=True, pool_window=True)
    assert m.arch.grid == (32, 24)
    assert m(torch.randn(1, 3, 256, 192))[0].shape == (1, 16, 32, 24)


def test_depth_change_keeps_relative_depths():
    vitdet = DeiTArch(window_size=(14, 14), window_block_indexes=(0, 1, 3, 4, 6, 7, 9, 10))
    glob = lambda a: [i for i in range(a.depth) if i not in a.window_block_indexes]  # noqa: E731
    assert glob(vitdet.replace(depth=8)) == [1, 3, 5, 7]
    assert glob(vitdet.replace(depth=16)) == [3, 7, 11, 15]
    assert map_out_indices((3, 7, 11), 12, 6) == (1, 3, 5)
    assert map_out_indices((3, 7, 11), 12, 24) == (7, 15, 23)
    assert map_out_indices((9, 10, 11), 12, 3) == (0, 1, 2)     # kept distinct
    assert map_blocks([True, False], 4) == (True, True, False, False)
