"""Analytic cost of a backbone from its architecture value, split into the study's operator classes.

Conventions (also in docs/cost.md):
- ``flops`` are multiply-adds, as DeiT, PiT, fvcore and mmengine report "FLOPs": a GEMM or conv
  counts one per multiply-add; LayerNorm 5 per element (fvcore's rule); softmax and GELU 1 per
  element (the activation rule of ptflops and mmcv's old counter; fvcore silently counts them as
  zero, which hides exactly the operators the study is about); adds and copies count nothing.
  ``traced_flops`` applies the same rules to the real module, so the two compare class by class.
- ``params`` are learnable elements; ``activations`` the bytes of the tensors each class writes
  (what a training step keeps for backward); ``bytes`` what each operator reads (inputs and
  weights) plus writes, with no fusion between operators: the memory side of a roofline.
- ``kernels`` counts operator launches, which a device pays a fixed overhead for.
- ``functions`` counts the elements each class puts through an elementary function: ``exp``
  (base-e softmax), ``exp2`` (base-2 softmax), ``gelu``, ``relu``. The numerics options change
  these, not the multiply-adds (each still counts 1 per element, the activation rule): a
  device model prices a power of two or a ReLU against an exponential or a GELU here.
- The softmax is the two-pass online form (``models/softmax.py``): its bytes are two reads of
  the scores, one write, and the per-row maximum and sum (``online_softmax_traffic``).

The graph modelled is the unfused one that eager PyTorch, ONNX Runtime and mobile runtimes run:
qkv projection, a head-split copy, three gathers of q, k and v, QK^T, softmax, AV, a head-merge
copy and the output projection. Pure integer arithmetic, so a scaling search can score tens of
thousands of configurations a second.
"""
import functools
from collections import Counter
from typing import Callable, Dict, Iterator, NamedTuple, Optional, Sequence, Tuple

from ..arch import DeiTArch, PiTArch, to_size, window_bands
from .classes import OP_CLASSES, OpClass

LAYERNORM_FLOPS_PER_ELEMENT = 5  # fvcore's count for an affine LayerNorm
NONLINEAR_FLOPS_PER_ELEMENT = 1  # softmax (either base), GELU, ReLU
FUNCTIONS = ('exp', 'exp2', 'gelu', 'relu')

_MLP, _LN, _MM, _SM, _RT, _GA, _OT = (OP_CLASSES.index(c) for c in (
    OpClass.MLP, OpClass.LAYERNORM, OpClass.MSA_MATMUL, OpClass.MSA_SOFTMAX, OpClass.MSA_RESHAPE,
    OpClass.MSA_GATHER, OpClass.OTHERS))
_FIELDS = 5  # flops, params, written elements, moved elements, kernels


class ClassCost(NamedTuple):
    flops: int        # multiply-adds
    params: int       # learnable elements
    activations: int  # bytes written
    bytes: int        # bytes read + written
    kernels: int      # operator launches


class OpCost(NamedTuple):
    """One operator of the modelled graph, repeated: what a roofline needs."""
    op_class: OpClass
    flops: int
    bytes: int
    kernels: int


class Cost:
    """Per-class costs of one forward pass, with totals; ``per_class`` is in table order and
    ``ops`` lists the operators the classes sum (for per-operator rooflines)."""

    __slots__ = ('per_class', 'batch_size', 'dtype_bytes', '_ops', 'functions')

    def __init__(self, per_class: Dict[OpClass, ClassCost], batch_size: int, dtype_bytes: int,
                 ops: Sequence[tuple] = (), functions: Optional[Dict[OpClass, Dict[str, int]]] = None):
        self.per_class = per_class
        self.batch_size = batch_size
        self.dtype_bytes = dtype_bytes
        self._ops = ops
        # class -> {elementary function: elements through it}, e.g. {MSA-Softmax: {'exp': n}}
        self.functions = functions or {}

    def _total(self, i: int) -> int:
        return sum(c[i] for c in self.per_class.values())

    flops = property(lambda self: self._total(0))
    params = property(lambda self: self._total(1))
    activations = property(lambda self: self._total(2))
    bytes = property(lambda self: self._total(3))
    kernels = property(lambda self: self._total(4))

    @property
    def ops(self) -> Iterator[OpCost]:
        b = self.dtype_bytes
        return (OpCost(OP_CLASSES[c], f, m * b, k) for c, f, m, k in self._ops)

    def __getitem__(self, op_class) -> ClassCost:
        return self.per_class[OpClass(op_class)]

    def __iter__(self) -> Iterator[Tuple[OpClass, ClassCost]]:
        return iter(self.per_class.items())

    def to_dict(self) -> dict:
        return {'batch_size': self.batch_size, 'dtype_bytes': self.dtype_bytes,
                'total': ClassCost(*(self._total(i) for i in range(_FIELDS)))._asdict(),
                'per_class': {c.value: v._asdict() for c, v in self.per_class.items()}}

    def __repr__(self) -> str:
        return (f'Cost(flops={self.flops / 1e9:.3f}G, params={self.params / 1e6:.3f}M, '
                f'batch_size={self.batch_size})')


class _Tally:
    """Accumulates per-class element counts; ``op`` is one operator, repeated ``n`` times."""

    __slots__ = ('v', 'ops', 'fns')

    def __init__(self):
        self.v = [0] * (len(OP_CLASSES) * _FIELDS)
        self.ops = []
        self.fns = Counter()

    def fn(self, c: int, function: str, numel: int, n: int = 1):
        """``numel`` elements through the elementary ``function`` (see ``FUNCTIONS``)."""
        self.fns[c, function] += numel * n

    def op(self, c: int, flops: int = 0, params: int = 0, reads: int = 0, writes: int = 0,
           kernels: int = 1, n: int = 1):
        v, i = self.v, c * _FIELDS
        moved = (reads + writes + params) * n  # weights are read once per pass
        v[i] += flops * n
        v[i + 1] += params * n
        v[i + 2] += writes * n
        v[i + 3] += moved
        v[i + 4] += kernels * n
        self.ops.append((c, flops * n, moved, kernels * n))

    def cost(self, batch_size: int, dtype_bytes: int) -> Cost:
        v, b = self.v, dtype_bytes
        return Cost({c: ClassCost(v[i], v[i + 1], v[i + 2] * b, v[i + 3] * b, v[i + 4])
                     for c, i in zip(OP_CLASSES, range(0, len(v), _FIELDS))}, batch_size, b,
                    self.ops, self._functions())

    def _functions(self) -> Dict[OpClass, Dict[str, int]]:
        out: Dict[OpClass, Dict[str, int]] = {}
        for (c, f), k in self.fns.items():
            out.setdefault(OP_CLASSES[c], {})[f] = k
        return out


def online_softmax_traffic(rows: int, cols: int) -> Tuple[int, int]:
    """(elements read, elements written) by the two-pass online softmax over ``rows`` rows of
    ``cols`` (``models.softmax.online_softmax``): pass 1 reads each row and writes its running
    maximum and sum; pass 2 reads the row and both again and writes the probabilities."""
    numel = rows * cols
    return 2 * numel + 2 * rows, numel + 2 * rows


def softmax(t: _Tally, scores: int, keys: int, base: str = 'exp', n: int = 1):
    """The attention softmax over ``scores`` elements in rows of ``keys``: one launch of the
    two-pass online form, one ``exp`` or ``exp2`` per score."""
    reads, writes = online_softmax_traffic(scores // keys, keys)
    t.op(_SM, NONLINEAR_FLOPS_PER_ELEMENT * scores, 0, reads, writes, n=n)
    t.fn(_SM, base, scores, n)


# -- building blocks, shared by every family (windowed and video variants reuse them) -------------
def linear(t: _Tally, c: int, tokens: int, cin: int, cout: int, n: int = 1):
    t.op(c, tokens * cin * cout, cin * cout + cout, tokens * cin, tokens * cout, n=n)


def layernorm(t: _Tally, tokens: int, dims: int, n: int = 1):
    numel = tokens * dims
    t.op(_LN, LAYERNORM_FLOPS_PER_ELEMENT * numel, 2 * dims, numel, numel, n=n)


def elementwise(t: _Tally, c: int, numel: int, inputs: int = 1, params: int = 0, n: int = 1,
                flops_per_element: int = 0):
    t.op(c, flops_per_element * numel, params, inputs * numel, numel, n=n)


def attention(t: _Tally, batch: int, groups: int, length: int, heads: int, head_dim: int,
              dims: int, n: int = 1, keys: Optional[int] = None,
              rel_pos: Optional[Tuple[int, int]] = None, masked: bool = False,
              base: str = 'exp', project: bool = True):
    """Multi-head self-attention over ``groups`` independent sequences of ``length`` tokens each
    (1 group of all tokens for global attention; windows or frames for local variants).

    ``keys``: keys per query when pooled keys are appended (``length`` + one per window);
    ``rel_pos``: the (h, w) grid that a decomposed relative-position bias covers (the last h*w
    tokens of each group); ``masked``: an additive mask (padding, shifted regions) on the scores;
    ``base``: the softmax's ``exp`` or ``exp2`` (log2(e) is folded into the q scaling: no extra op);
    ``project``: False when the caller tallies the qkv and output projections itself (windows).
    """
    K = length if keys is None else keys
    T = batch * groups * length
    A = heads * head_dim
    scores = batch * groups * heads * length * K
    if project:
        linear(t, _MLP, T, dims, 3 * A, n)                    # qkv
        t.op(_RT, reads=3 * T * A, writes=3 * T * A, n=n)     # (B, N, 3, h, e) -> (3, B, h, N, e)
        t.op(_GA, reads=3 * T * A, writes=3 * T * A, kernels=3, n=n)  # q, k, v = qkv[0], [1], [2]
    if K > length:  # pooled keys and values: a mean per window, appended to every window
        pooled = batch * groups * A
        t.op(_RT, reads=2 * T * A, writes=2 * pooled, kernels=2, n=n)
        t.op(_RT, reads=2 * (T * A + groups * pooled), writes=2 * batch * groups * K * A,
             kernels=2, n=n)
    t.op(_MM, reads=T * A, writes=T * A, n=n)                 # q * scale
    t.op(_MM, scores * head_dim, 0, T * A + batch * groups * K * A, scores, n=n)  # Q K^T
    if rel_pos is not None:  # q . R_h and q . R_w, then their broadcast sum over the key grid
        h, w = rel_pos
        G = batch * groups * heads * h * w
        t.op(_MM, G * (h + w) * head_dim, 0, G * head_dim, G * (h + w), kernels=2, n=n)
        t.op(_MM, reads=G * (h + w), writes=G * h * w, n=n)
        t.op(_MM, reads=scores, writes=scores, n=n)           # bias (padded to the keys) + scores
    if masked:
        elementwise(t, _SM, scores, inputs=2, n=n)            # + mask (0 / -inf)
    softmax(t, scores, K, base, n)
    t.op(_MM, scores * head_dim, 0, scores + batch * groups * K * A, T * A, n=n)  # A V
    t.op(_RT, reads=T * A, writes=T * A, n=n)                 # (B, h, N, e) -> (B, N, h*e)
    if project:
        linear(t, _MLP, T, A, dims, n)                        # proj


def windowed_attention(t: _Tally, batch: int, grid: Tuple[int, int], window: Tuple[int, int],
                       heads: int, head_dim: int, dims: int, shift: bool, pool: bool,
                       rel_pos: bool, n: int = 1, base: str = 'exp'):
    """Attention in (wh, ww) windows of an H x W grid, as ``models/attention.py`` runs it: q, k, v
    projected for the real tokens and gathered into windows, attention per window, one gather
    back to the real tokens, and their projection. Unshifted plain windows are not padded: each
    size of window (``window_bands``: the edge ones are cut short) is a batch of its own, and
    the groups' outputs are concatenated. Otherwise the windows are those of the padded (rolled)
    grid, in one gather, masked where there is padding or a shift."""
    (H, W), (wh, ww) = grid, window
    T, A = batch * H * W, heads * head_dim
    linear(t, _MLP, T, dims, 3 * A, n)                        # qkv of the real tokens
    slots = T                                                 # window slots: padded or not
    if not (shift or pool or rel_pos):
        bands = window_bands(grid, window)
        for (r0, r1, h), (c0, c1, w) in bands:
            windows = (r1 - r0) // h * ((c1 - c0) // w)
            size = 3 * batch * windows * h * w * A
            t.op(_GA, reads=size, writes=size, n=n)           # gather: the windows of one size
            attention(t, batch, windows, h * w, heads, head_dim, dims, n, base=base,
                      project=False)
        if len(bands) > 1:
            t.op(_GA, reads=T * A, writes=T * A, n=n)         # concatenate the sizes
    else:
        Hp, Wp = -(-H // wh) * wh, -(-W // ww) * ww
        slots, groups = batch * Hp * Wp, (Hp // wh) * (Wp // ww)
        t.op(_GA, reads=3 * T * A, writes=3 * slots * A, n=n)  # gather: pad, roll, partition
        attention(t, batch, groups, wh * ww, heads, head_dim, dims, n,
                  keys=wh * ww + groups if pool else None, rel_pos=window if rel_pos else None,
                  masked=(Hp, Wp) != (H, W) or shift, base=base, project=False)
    t.op(_GA, reads=slots * A, writes=T * A, n=n)             # gather back: crop, roll back
    linear(t, _MLP, T, A, dims, n)                            # proj of the real tokens


def mlp(t: _Tally, tokens: int, dims: int, hidden: int, n: int = 1, act: str = 'gelu'):
    linear(t, _MLP, tokens, dims, hidden, n)
    elementwise(t, _MLP, tokens * hidden, n=n, flops_per_element=NONLINEAR_FLOPS_PER_ELEMENT)
    t.fn(_MLP, act, tokens * hidden, n)
    linear(t, _MLP, tokens, hidden, dims, n)


def block(t: _Tally, batch: int, tokens: int, dims: int, heads: int, head_dim: int, hidden: int,
          n: int = 1, groups: int = 1, attend: Optional[Callable[[], None]] = None,
          base: str = 'exp', act: str = 'gelu'):
    """A pre-norm transformer block ``n`` times: x + MSA(LN(x)), x + MLP(LN(x)). ``attend``
    tallies a non-global attention instead (windows); ``groups`` splits a global one."""
    T = batch * tokens
    layernorm(t, T, dims, n)
    if attend is None:
        attention(t, batch, groups, tokens // groups, heads, head_dim, dims, n, base=base)
    else:
        attend()
    elementwise(t, _OT, T * dims, inputs=2, n=n)  # residual
    layernorm(t, T, dims, n)
    mlp(t, T, dims, hidden, n, act)
    elementwise(t, _OT, T * dims, inputs=2, n=n)  # residual


def conv(t: _Tally, batch: int, cin: int, cout: int, kernel: int, in_hw: Sequence[int],
         out_hw: Sequence[int], groups: int = 1):
    out = batch * out_hw[0] * out_hw[1] * cout
    per_out = cin // groups * kernel * kernel
    t.op(_OT, out * per_out, cout * per_out + cout, batch * cin * in_hw[0] * in_hw[1], out)


def head(t: _Tally, batch: int, dims: int, num_classes: int):
    if num_classes:
        linear(t, _OT, batch, dims, num_classes)


# -- families (registered in ``vit_scaled/families.py``) -------------------------------------------
def deit_cost(t: _Tally, a: DeiTArch, B: int, img: Tuple[int, int], num_classes: int, P: int,
              final_norm: bool):
    C = a.embed_dims
    grid = a.grid_for(img)
    N = P + grid[0] * grid[1]
    conv(t, B, a.in_channels, C, a.patch_size, img, grid)              # patch embedding
    # one copy of the tokens: the class token(s) concatenated in front, or (none) made contiguous
    elementwise(t, _OT, B * N * C, params=P * C)
    elementwise(t, _OT, B * N * C, inputs=2,                            # + position embedding
                params=(P + a.grid[0] * a.grid[1]) * C)
    kinds = Counter(tuple(a.block_attention(i).items()) for i in range(a.depth))
    for kind, n in kinds.items():  # blocks of one attention kind tallied together
        k = dict(kind)
        if k['window'] is not None:
            attend = functools.partial(windowed_attention, t, B, grid, k['window'], a.num_heads,
                                       a.head_dim, C, k['shift'], k['pool'],
                                       k['rel_pos_size'] is not None, n, a.softmax)
        elif k['rel_pos_size'] is not None:
            attend = functools.partial(attention, t, B, 1, N, a.num_heads, a.head_dim, C, n,
                                       rel_pos=grid, base=a.softmax)
        else:
            attend = None
        block(t, B, N, C, a.num_heads, a.head_dim, a.mlp_hidden, n=n, attend=attend,
              base=a.softmax, act=a.act)
        if k['rel_pos_size'] is not None:  # the tables, sized at construction, read by q . R
            h, w = k['rel_pos_size']
            t.op(_MM, params=(2 * h - 1 + 2 * w - 1) * a.head_dim, kernels=0, n=n)
    if final_norm:
        layernorm(t, B * N, C)
    head(t, B, C, num_classes)


def pit_cost(t: _Tally, a: PiTArch, B: int, img: Tuple[int, int], num_classes: int, P: int,
         final_norm: bool):
    dims, heads, hidden = a.embed_dims, a.heads, a.mlp_hidden
    grids = a.grids_for(img)
    trained = grids[0] if img == a.img_size else a.grids[0]  # the position grid's parameters
    g = grids[0][0] * grids[0][1]
    conv(t, B, a.in_channels, dims[0], a.patch_size, img, grids[0])    # patch embedding
    elementwise(t, _OT, B * g * dims[0], inputs=2,                      # + position (a 2-D grid)
                params=trained[0] * trained[1] * dims[0])
    elementwise(t, _OT, B * (g + P) * dims[0], params=P * dims[0])      # cat class token(s)
    for i, depth in enumerate(a.depths):
        g = grids[i][0] * grids[i][1]
        if i:  # pooling: depthwise conv on the grid, linear on the class token(s), concat
            conv(t, B, dims[i - 1], dims[i], a.POOL_KERNEL, grids[i - 1], grids[i], groups=dims[i - 1])
            linear(t, _OT, B * P, dims[i - 1], dims[i])
            elementwise(t, _OT, B * (g + P) * dims[i])
        block(t, B, g + P, dims[i], heads[i], a.head_dim, hidden[i], n=depth, base=a.softmax,
              act=a.act)
    if final_norm:
        layernorm(t, B * (g + P), dims[-1])
    head(t, B, dims[-1], num_classes)


def analytic_cost(arch, batch_size: int = 1, num_classes: int = 0, dtype_bytes: int = 4,
                  img_size=None, num_prefix_tokens: Optional[int] = None,
                  final_norm: bool = True) -> Cost:
    """The per-class cost of one forward pass of the backbone ``arch`` describes.

    Args:
        arch: an architecture value (``DeiTArch``, ``PiTArch``, ...).
        batch_size: images per pass.
        num_classes: add a linear classification head of this many classes (published
            parameter counts include the 1000-class head); 0 for the backbone alone.
        dtype_bytes: bytes per element for ``activations`` and ``bytes`` (4 for fp32, 2 for fp16).
        img_size: the input resolution when it differs from ``arch.img_size`` (the position
            embedding is resized at run time; parameters stay those of ``arch``).
        num_prefix_tokens, final_norm: the backbone's options outside the architecture
            (``with_cls_token=False`` gives 0 prefix tokens; default: the architecture's).
    """
    from ..families import family_of
    fn = family_of(arch).cost
    t = _Tally()
    fn(t, arch, batch_size, arch.img_size if img_size is None else to_size('img_size', img_size),
       num_classes,
       getattr(arch, 'num_prefix_tokens', 0) if num_prefix_tokens is None else num_prefix_tokens,
       final_norm)
    return t.cost(batch_size, dtype_bytes)


def _has_family(arch) -> bool:
    from ..families import families
    return any(type(arch) is f.arch_type for f in families())


def find_backbone(model) -> Optional[object]:
    """The module of a built model that an analytic cost model covers: itself or its backbone."""
    for m in (model, getattr(model, 'backbone', None)):
        if _has_family(getattr(m, 'arch', None)):
            return m
    return None


def find_arch(model) -> Optional[object]:
    """The architecture value of a built model: its own ``arch`` or its backbone's."""
    backbone = find_backbone(model)
    return backbone.arch if backbone is not None else None


def backbone_cost(model, batch_size: int = 1, img_size=None, num_classes: int = 0,
                  dtype_bytes: int = 4) -> Optional[Cost]:
    """``analytic_cost`` of a built model's backbone with that module's own options, or None."""
    backbone = find_backbone(model)
    if backbone is None:
        return None
    return analytic_cost(backbone.arch, batch_size, num_classes, dtype_bytes, img_size,
                         getattr(backbone, 'num_prefix_tokens', None),
                         bool(getattr(backbone, 'final_norm', True)))
