"""The architecture value types: the few numbers the study scales, validated once.

A backbone is built from one of these, the analytic cost model reads the same value, and the
scaling engine produces new ones; so the cost of a model can never drift from the model itself.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence, Tuple, Union

Size = Tuple[int, int]


def _bad(field: str, value: Any, valid: str) -> ValueError:
    return ValueError(f'{field}={value!r} is invalid: {valid}')


def to_size(field: str, value: Union[int, Sequence[int]]) -> Size:
    """An int or an (H, W) pair of positive ints, as OpenMMLab's ``img_size``."""
    if isinstance(value, bool):
        raise _bad(field, value, 'expected a positive int or an (H, W) pair')
    if isinstance(value, int):
        value = (value, value)
    try:
        h, w = (int(v) for v in value)
    except (TypeError, ValueError):
        raise _bad(field, value, 'expected a positive int or an (H, W) pair') from None
    if h <= 0 or w <= 0 or len(tuple(value)) != 2:
        raise _bad(field, value, 'expected a positive int or an (H, W) pair')
    return h, w


def _positive_int(field: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise _bad(field, value, 'expected a positive integer')
    return value


def _positive_float(field: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise _bad(field, value, 'expected a positive number')
    return float(value)


def _window(value: Any) -> Size:
    """``window_size``: 0 (global attention), a positive int, or an (h, w) pair in tokens."""
    if isinstance(value, bool):
        raise _bad('window_size', value, 'expected 0 (global attention), a positive int or an '
                   '(h, w) pair of positive ints, in tokens')
    if (isinstance(value, int) and value == 0) or (
            isinstance(value, (list, tuple)) and list(value) == [0, 0]):
        return (0, 0)
    try:
        return to_size('window_size', value)
    except ValueError:
        raise _bad('window_size', value, 'expected 0 (global attention), a positive int or an '
                   '(h, w) pair of positive ints, in tokens') from None


SOFTMAX_BASES = ('exp', 'exp2')
ACTIVATIONS = ('gelu', 'relu')


def _check_numerics(arch) -> None:
    """``softmax``: ``exp`` or ``exp2`` (base 2, log2(e) folded into the query scaling);
    ``act``: the MLP's ``gelu`` or ``relu`` (the hardware-friendly numerics, docs/numerics.md)."""
    if arch.softmax not in SOFTMAX_BASES:
        raise _bad('softmax', arch.softmax, f'choose one of {SOFTMAX_BASES}')
    if arch.act not in ACTIVATIONS:
        raise _bad('act', arch.act, f'choose one of {ACTIVATIONS}')


def window_bands(grid: Size, window: Size) -> Tuple[Tuple[Tuple[int, int, int], ...], ...]:
    """Unshifted (wh, ww) windows over an H x W grid, cut short at the bottom and right edges
    instead of padded: ((rows, cols), ...) per size of window, each ``(start, stop, size)``: the
    grid's rows start:stop in windows of ``size`` rows (likewise columns). At most four sizes."""
    def bands(n: int, w: int):
        full = n // w * w
        return tuple(b for b in ((0, full, w), (full, n, n - full)) if b[1] > b[0])
    return tuple((r, c) for r in bands(grid[0], window[0]) for c in bands(grid[1], window[1]))


def map_blocks(flags: Sequence[bool], new_depth: int) -> Tuple[bool, ...]:
    """Per-block flags (windowed or not) carried to another depth: new block j takes the flag of
    the old block at the same relative depth (its centre, ``(j + 0.5) / new_depth``)."""
    old = len(flags)
    return tuple(flags[min(old - 1, int((j + 0.5) * old / new_depth))] for j in range(new_depth))


def map_out_indices(indices: Sequence[int], old_depth: int, new_depth: int) -> Tuple[int, ...]:
    """Output block indices carried to another depth at the same relative depth (the end of
    block i is at ``(i + 1) / old_depth``); kept distinct and in range, so that a neck still gets
    as many maps, as long as the new depth has that many blocks."""
    idx = sorted(i % old_depth for i in indices)
    if len(idx) > new_depth:
        raise _bad('out_indices', list(indices), f'{len(idx)} outputs cannot come from '
                   f'{new_depth} blocks')
    out = [max(0, round((i + 1) * new_depth / old_depth) - 1) for i in idx]
    for k in range(1, len(out)):              # distinct, increasing ...
        out[k] = max(out[k], out[k - 1] + 1)
    for k in range(len(out) - 1, -1, -1):     # ... and within the new depth
        out[k] = min(out[k], new_depth - (len(out) - k))
    return tuple(out)


@dataclass(frozen=True)
class DeiTArch:
    """A plain ViT/DeiT: input resolution I, depth d, heads h, per-head dim e, MLP ratio r, and the
    attention options that change its cost (windows, their shift and pooling, relative position).

    ``window_block_indexes`` lists the blocks that attend within windows (every block when
    ``window_size`` is set and the indexes are not); the others attend globally, as ViTDet's 2, 5,
    8, 11. ``patch_stride`` below ``patch_size`` gives overlapping patches (padding
    ``(patch_size - patch_stride) // 2``), ViTPose's "1/8 feature size" at stride 8.
    """

    depth: int = 12
    num_heads: int = 3
    head_dim: int = 64
    mlp_ratio: float = 4.0
    img_size: Size = (224, 224)
    patch_size: int = 16
    in_channels: int = 3
    distilled: bool = False
    patch_stride: Optional[int] = None
    window_size: Size = (0, 0)
    window_block_indexes: Optional[Tuple[int, ...]] = None
    shift_window: bool = False
    pool_window: bool = False
    use_rel_pos: bool = False
    softmax: str = 'exp'
    act: str = 'gelu'

    def __post_init__(self):
        _positive_int('depth', self.depth)
        _positive_int('num_heads', self.num_heads)
        _positive_int('head_dim', self.head_dim)
        object.__setattr__(self, 'mlp_ratio', _positive_float('mlp_ratio', self.mlp_ratio))
        _positive_int('patch_size', self.patch_size)
        _positive_int('in_channels', self.in_channels)
        stride = self.patch_size if self.patch_stride is None else self.patch_stride
        _positive_int('patch_stride', stride)
        if stride > self.patch_size:
            raise _bad('patch_stride', stride,
                       f'must not exceed patch_size={self.patch_size} (pixels would be skipped)')
        object.__setattr__(self, 'patch_stride', stride)
        size = to_size('img_size', self.img_size)
        object.__setattr__(self, 'img_size', size)
        if size[0] % stride or size[1] % stride:
            what = 'patch_size' if stride == self.patch_size else 'patch_stride'
            raise _bad('img_size', size, f'each side must be a multiple of {what}={stride}')
        window = _window(self.window_size)
        object.__setattr__(self, 'window_size', window)
        self._check_windows(window)
        _check_numerics(self)

    def _check_windows(self, window: Size):
        blocks = self.window_block_indexes
        for flag in ('shift_window', 'pool_window', 'use_rel_pos'):
            if not isinstance(getattr(self, flag), bool):
                raise _bad(flag, getattr(self, flag), 'expected True or False')
        if window == (0, 0):
            if blocks:
                raise _bad('window_block_indexes', blocks, 'windows need window_size > 0 '
                           '(window_size=0 is global attention everywhere)')
            for flag in ('shift_window', 'pool_window'):
                if getattr(self, flag):
                    raise _bad(flag, True, 'needs window_size > 0')
            object.__setattr__(self, 'window_block_indexes', ())
            return
        if blocks is None:
            blocks = range(self.depth)
        if isinstance(blocks, (str, bytes)) or not isinstance(blocks, Sequence) \
                and not isinstance(blocks, range):
            raise _bad('window_block_indexes', blocks, 'expected a list of block indexes')
        for i in blocks:
            if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < self.depth:
                raise _bad('window_block_indexes', list(blocks),
                           f'{i!r} is not a block: valid indexes are 0..{self.depth - 1}')
        object.__setattr__(self, 'window_block_indexes', tuple(sorted(set(blocks))))

    @property
    def embed_dims(self) -> int:
        return self.num_heads * self.head_dim

    @property
    def mlp_hidden(self) -> int:
        return int(self.embed_dims * self.mlp_ratio)

    @property
    def patch_padding(self) -> int:
        return (self.patch_size - self.patch_stride) // 2

    def grid_for(self, img_size) -> Size:
        """The token grid (H, W) the patch embedding gives for an input of ``img_size``."""
        return tuple(_conv_out(n, self.patch_size, self.patch_stride, self.patch_padding)
                     for n in to_size('img_size', img_size))

    @property
    def grid(self) -> Size:
        return self.grid_for(self.img_size)

    @property
    def num_prefix_tokens(self) -> int:
        return 2 if self.distilled else 1

    @property
    def windowed(self) -> bool:
        return self.window_size != (0, 0)

    def block_attention(self, i: int) -> dict:
        """Block ``i``'s attention: ``window`` (None: global), ``shift`` (Swin's shifted
        partition: every second windowed block), ``pool`` and ``rel_pos_size`` (the size the
        relative-position tables are made for: the window, or the training grid; None: none)."""
        windowed = i in self.window_block_indexes
        window = self.window_size if windowed else None
        shift = windowed and self.shift_window and self.window_block_indexes.index(i) % 2 == 1
        rel = (window if windowed else self.grid) if self.use_rel_pos else None
        return dict(window=window, shift=shift, pool=windowed and self.pool_window,
                    rel_pos_size=rel)

    def replace(self, **changes) -> 'DeiTArch':
        """A new value with ``changes``; a new depth carries the windowed blocks to the same
        relative depths (``map_blocks``) unless ``window_block_indexes`` is given too."""
        if 'depth' in changes and 'window_block_indexes' not in changes and self.windowed \
                and changes['depth'] != self.depth:
            flags = map_blocks([i in self.window_block_indexes for i in range(self.depth)],
                               changes['depth'])
            changes['window_block_indexes'] = tuple(j for j, f in enumerate(flags) if f)
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d['img_size'] = list(self.img_size)
        d['window_size'] = list(self.window_size)
        d['window_block_indexes'] = list(self.window_block_indexes)
        return d


# Published DeiT shapes (Touvron et al., 2021, Table 1).
DEIT_PRESETS = {
    'deit-tiny': dict(depth=12, num_heads=3, head_dim=64, mlp_ratio=4.0),
    'deit-small': dict(depth=12, num_heads=6, head_dim=64, mlp_ratio=4.0),
    'deit-base': dict(depth=12, num_heads=12, head_dim=64, mlp_ratio=4.0),
}
_DEIT_ARCH_KEYS = ('depth', 'num_heads', 'head_dim', 'mlp_ratio')


def _resolve(family: str, arch: Union[str, Mapping, Any], presets: dict, keys: Sequence[str]) -> dict:
    if isinstance(arch, str):
        if arch not in presets:
            raise _bad('arch', arch, f'unknown {family} preset; choose one of {sorted(presets)}'
                       ' or pass a dict')
        return dict(presets[arch])
    if isinstance(arch, Mapping):
        unknown = set(arch) - set(keys)
        missing = set(keys) - set(arch)
        if unknown or missing:
            raise _bad('arch', dict(arch), f'a {family} arch dict needs exactly the keys {list(keys)}'
                       + (f'; unknown: {sorted(unknown)}' if unknown else '')
                       + (f'; missing: {sorted(missing)}' if missing else ''))
        return dict(arch)
    raise _bad('arch', arch, f'expected a preset name {sorted(presets)}, a dict or a {family}Arch')


def deit_arch(arch: Union[str, Mapping, DeiTArch] = 'deit-tiny', img_size=224, patch_size=16,
              in_channels=3, distilled=False, **options) -> DeiTArch:
    """The ``DeiTArch`` that a backbone's mmpretrain-style arguments describe; ``options`` are
    its other fields (``patch_stride``, ``window_size``, ``window_block_indexes``,
    ``shift_window``, ``pool_window``, ``use_rel_pos``, ``softmax``, ``act``)."""
    if isinstance(arch, DeiTArch):
        return arch
    fields = _resolve('DeiT', arch, DEIT_PRESETS, _DEIT_ARCH_KEYS)
    return DeiTArch(img_size=img_size, patch_size=patch_size, in_channels=in_channels,
                    distilled=distilled, **fields, **options)


def _conv_out(n: int, kernel: int, stride: int, padding: int = 0) -> int:
    """Output length of a convolution along one side (PyTorch's rounding: floor)."""
    return (n + 2 * padding - kernel) // stride + 1


@dataclass(frozen=True)
class PiTArch:
    """A pooling-based ViT: three stages of depths d1-d2-d3 with heads h-2h-4h of dim e each.

    A strided convolution (``patch_size``, ``stride``) embeds the image; between stages a
    depthwise convolution (kernel 3, stride 2, padding 1) halves the token grid (rounding up,
    so 27 -> 14 -> 7 at 224) and doubles the width.
    """

    depths: Tuple[int, int, int] = (2, 6, 4)
    base_heads: int = 2
    head_dim: int = 32
    mlp_ratio: float = 4.0
    img_size: Size = (224, 224)
    patch_size: int = 16
    stride: int = 8
    in_channels: int = 3
    distilled: bool = False
    softmax: str = 'exp'
    act: str = 'gelu'

    POOL_KERNEL, POOL_STRIDE, POOL_PADDING = 3, 2, 1

    def __post_init__(self):
        depths = self.depths
        if (isinstance(depths, (str, bytes)) or not isinstance(depths, Sequence)
                or len(depths) != 3):
            raise _bad('depths', depths, 'expected 3 positive ints, one per stage')
        for d in depths:
            if isinstance(d, bool) or not isinstance(d, int) or d <= 0:
                raise _bad('depths', depths, 'expected 3 positive ints, one per stage')
        object.__setattr__(self, 'depths', tuple(depths))
        _positive_int('base_heads', self.base_heads)
        _positive_int('head_dim', self.head_dim)
        object.__setattr__(self, 'mlp_ratio', _positive_float('mlp_ratio', self.mlp_ratio))
        _positive_int('patch_size', self.patch_size)
        _positive_int('stride', self.stride)
        if self.stride > self.patch_size:
            raise _bad('stride', self.stride,
                       f'must not exceed patch_size={self.patch_size} (pixels would be skipped)')
        _positive_int('in_channels', self.in_channels)
        size = to_size('img_size', self.img_size)
        object.__setattr__(self, 'img_size', size)
        if min(size) < self.patch_size:
            raise _bad('img_size', size, f'each side must be at least patch_size={self.patch_size}')
        _check_numerics(self)

    @property
    def num_stages(self) -> int:
        return len(self.depths)

    @property
    def num_layers(self) -> int:
        return sum(self.depths)

    @property
    def heads(self) -> Tuple[int, ...]:
        return tuple(self.base_heads * 2 ** i for i in range(self.num_stages))

    @property
    def embed_dims(self) -> Tuple[int, ...]:
        return tuple(h * self.head_dim for h in self.heads)

    @property
    def mlp_hidden(self) -> Tuple[int, ...]:
        return tuple(int(c * self.mlp_ratio) for c in self.embed_dims)

    @property
    def strides(self) -> Tuple[int, ...]:
        """Nominal downsampling of each stage's feature map (the grids round up, see ``grids``)."""
        return tuple(self.stride * self.POOL_STRIDE ** i for i in range(self.num_stages))

    def grids_for(self, img_size) -> Tuple[Size, ...]:
        """The token grid (H, W) of each stage for an input of ``img_size``, as the convs give it."""
        grid = tuple(_conv_out(n, self.patch_size, self.stride) for n in to_size('img_size', img_size))
        grids = [grid]
        for _ in range(1, self.num_stages):
            grid = tuple(_conv_out(n, self.POOL_KERNEL, self.POOL_STRIDE, self.POOL_PADDING)
                         for n in grid)
            grids.append(grid)
        return tuple(grids)

    @property
    def grids(self) -> Tuple[Size, ...]:
        return self.grids_for(self.img_size)

    @property
    def num_prefix_tokens(self) -> int:
        return 2 if self.distilled else 1

    def replace(self, **changes) -> 'PiTArch':
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d['depths'] = list(self.depths)
        d['img_size'] = list(self.img_size)
        return d


# Published PiT shapes (Heo et al., 2021, Table 1; timm's pit_ti_224 ... pit_b_224).
PIT_PRESETS = {
    'pit-ti': dict(depths=(2, 6, 4), base_heads=2, head_dim=32, mlp_ratio=4.0, patch_size=16, stride=8),
    'pit-xs': dict(depths=(2, 6, 4), base_heads=2, head_dim=48, mlp_ratio=4.0, patch_size=16, stride=8),
    'pit-s': dict(depths=(2, 6, 4), base_heads=3, head_dim=48, mlp_ratio=4.0, patch_size=16, stride=8),
    'pit-b': dict(depths=(3, 6, 4), base_heads=4, head_dim=64, mlp_ratio=4.0, patch_size=14, stride=7),
}
_PIT_ARCH_KEYS = ('depths', 'base_heads', 'head_dim', 'mlp_ratio', 'patch_size', 'stride')


def pit_arch(arch: Union[str, Mapping, PiTArch] = 'pit-ti', img_size=224, in_channels=3,
             distilled=False, softmax='exp', act='gelu') -> PiTArch:
    """The ``PiTArch`` that a backbone's arguments describe (patch size and stride are part of
    the arch here: PiT-B's 14/7 differs from the others' 16/8)."""
    if isinstance(arch, PiTArch):
        return arch
    fields = _resolve('PiT', arch, PIT_PRESETS, _PIT_ARCH_KEYS)
    return PiTArch(img_size=img_size, in_channels=in_channels, distilled=distilled,
                   softmax=softmax, act=act, **fields)


# -- video (TimeSformer style) ------------------------------------------------------------------
ATTENTION_TYPES = ('divided_space_time', 'joint_space_time', 'space_only')


@dataclass(frozen=True)
class VideoDeiTArch(DeiTArch):
    """A DeiT applied to clips of ``num_frames`` frames, as TimeSformer (Bertasius et al., 2021):
    ``divided_space_time`` (temporal then spatial attention in every block),
    ``joint_space_time`` (one attention over all frames' tokens) or ``space_only`` (frames apart,
    averaged at the end). Non-overlapping patches and global attention only."""

    num_frames: int = 8
    attention_type: str = 'divided_space_time'

    def __post_init__(self):
        super().__post_init__()
        _positive_int('num_frames', self.num_frames)
        if self.attention_type not in ATTENTION_TYPES:
            raise _bad('attention_type', self.attention_type, f'choose one of {ATTENTION_TYPES}')
        if self.distilled:
            raise _bad('distilled', self.distilled, 'the video model has no distillation token')
        if self.patch_stride != self.patch_size:
            raise _bad('patch_stride', self.patch_stride,
                       f'the video model needs non-overlapping patches (patch_size={self.patch_size})')
        if (self.softmax, self.act) != ('exp', 'gelu'):
            raise _bad('softmax' if self.softmax != 'exp' else 'act',
                       self.softmax if self.softmax != 'exp' else self.act,
                       "the video model has the default numerics only (softmax='exp', act='gelu')")
        if self.windowed or self.use_rel_pos:
            raise _bad('window_size' if self.windowed else 'use_rel_pos',
                       self.window_size if self.windowed else self.use_rel_pos,
                       'the video model attends globally (window_size=0, use_rel_pos=False)')


def video_deit_arch(arch: Union[str, Mapping, DeiTArch] = 'deit-tiny', num_frames=8,
                    attention_type='divided_space_time', img_size=224, patch_size=16,
                    in_channels=3) -> VideoDeiTArch:
    """The ``VideoDeiTArch`` of a video backbone's arguments; an image ``DeiTArch`` gains the
    frame count and attention type."""
    if isinstance(arch, VideoDeiTArch):
        return arch
    if not isinstance(arch, DeiTArch):
        arch = deit_arch(arch, img_size, patch_size, in_channels)
    fields = {f.name: getattr(arch, f.name) for f in dataclasses.fields(DeiTArch)}
    return VideoDeiTArch(**fields, num_frames=num_frames, attention_type=attention_type)
