"""Analytic cost of ``VideoDeiTScaled`` per clip, from the shared building blocks of ``analytic``.

A clip of T frames of N patches each (plus P class tokens):
- ``space_only``: the image model on B*T frames; the frames' tokens averaged, then the final norm;
- ``joint_space_time``: one block over P + T*N tokens;
- ``divided_space_time``: temporal attention as N groups of T tokens (LayerNorm, attention, the
  zero-started ``fc`` projection, a token-wise linear of the MLP class like ``proj``), spatial
  attention as T groups of P + N tokens (the class token copied into each frame, its outputs
  averaged), then the MLP on P + T*N tokens.
"""
from typing import Tuple

from ..arch import VideoDeiTArch
from .analytic import (_MLP, _OT, NONLINEAR_FLOPS_PER_ELEMENT, _Tally, attention, block, conv,
                       elementwise, head, layernorm, linear)


def _divided_block(t: _Tally, B: int, T: int, N: int, P: int, C: int, heads: int, head_dim: int,
                   hidden: int, n: int):
    patches, clip = B * T * N, B * (P + T * N)
    # temporal: norm, attention over time at each position, fc, residual
    layernorm(t, patches, C, n)
    attention(t, B, N, T, heads, head_dim, C, n)
    linear(t, _MLP, patches, C, C, n)                                   # fc (temporal_fc)
    elementwise(t, _OT, patches * C, inputs=2, n=n)                     # residual
    # spatial: class token copied into each frame, attention per frame, its outputs averaged
    elementwise(t, _OT, B * T * (P + N) * C, n=n)                       # cat per frame
    layernorm(t, B * T * (P + N), C, n)
    attention(t, B, T, P + N, heads, head_dim, C, n)
    if P:
        elementwise(t, _OT, B * P * C, inputs=T, n=n)                   # mean over frames
    elementwise(t, _OT, clip * C, inputs=2, n=n)                        # residual
    elementwise(t, _OT, clip * C, n=n)                                  # cat class token, patches
    # MLP
    layernorm(t, clip, C, n)
    linear(t, _MLP, clip, C, hidden, n)
    elementwise(t, _MLP, clip * hidden, n=n, flops_per_element=NONLINEAR_FLOPS_PER_ELEMENT)
    linear(t, _MLP, clip, hidden, C, n)
    elementwise(t, _OT, clip * C, inputs=2, n=n)                        # residual


def video_cost(t: _Tally, a: VideoDeiTArch, B: int, img: Tuple[int, int], num_classes: int,
               P: int, final_norm: bool):
    """The cost of one pass over B clips of ``a.num_frames`` frames at resolution ``img`` (the
    video family's cost function, registered in ``vit_scaled/families.py``)."""
    C, T = a.embed_dims, a.num_frames
    grid = a.grid_for(img)
    N = grid[0] * grid[1]
    pos_params = (P + a.grid[0] * a.grid[1]) * C
    elementwise(t, _OT, B * T * a.in_channels * img[0] * img[1])        # frames as images
    conv(t, B * T, a.in_channels, C, a.patch_size, img, grid)           # patch embedding
    if a.attention_type == 'space_only':
        elementwise(t, _OT, B * T * N * C, inputs=2, params=pos_params)  # + position
        if P:
            elementwise(t, _OT, B * T * (P + N) * C, params=P * C)      # cat class token
        block(t, B * T, P + N, C, a.num_heads, a.head_dim, a.mlp_hidden, n=a.depth)
        if P:
            elementwise(t, _OT, B * P * C, inputs=T)                    # class token: frame mean
        elementwise(t, _OT, B * (P + T * N) * C)                        # frames to one clip
    else:
        elementwise(t, _OT, B * T * N * C, inputs=3,                    # + position + time
                    params=pos_params + T * C)
        if P:
            elementwise(t, _OT, B * (P + T * N) * C, params=P * C)      # cat class token
        if a.attention_type == 'joint_space_time':
            block(t, B, P + T * N, C, a.num_heads, a.head_dim, a.mlp_hidden, n=a.depth)
        else:
            _divided_block(t, B, T, N, P, C, a.num_heads, a.head_dim, a.mlp_hidden, a.depth)
    if final_norm:
        layernorm(t, B * (P + T * N), C)
    head(t, B, C, num_classes)


__all__ = ['video_cost']
