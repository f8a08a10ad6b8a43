"""Where a strategy's five dimensions live in an architecture family, and the rounding back to a
valid architecture.

A *point* is a continuous value per dimension, each a tuple of components: one for most, (H, W)
for a non-square input, one depth per stage for PiT (its heads h-2h-4h stay tied to ``base_heads``).
Moving a point multiplies every component of a dimension by the same factor, so PiT's stages
scale together, per stage rounded.
"""
import itertools
import math
from typing import Dict, Iterator, Mapping, Optional, Tuple

from ..arch import DeiTArch, PiTArch
from .strategy import DIMS, Rounding, Strategy, StrategyError

Point = Dict[str, Tuple[float, ...]]

# Where each dimension is held in each family's architecture value.
_FIELDS = {
    DeiTArch: {'img_size': 'img_size', 'depth': 'depth', 'num_heads': 'num_heads',
               'head_dim': 'head_dim', 'mlp_ratio': 'mlp_ratio'},
    PiTArch: {'img_size': 'img_size', 'depth': 'depths', 'num_heads': 'base_heads',
              'head_dim': 'head_dim', 'mlp_ratio': 'mlp_ratio'},
}
FAMILY_OF = {DeiTArch: 'deit', PiTArch: 'pit'}


class Space:
    """The strategy's dimensions over the family of ``template`` (whose other fields, such as the
    patch size, every produced architecture keeps)."""

    def __init__(self, template, rounding: Mapping[str, Rounding]):
        if type(template) not in _FIELDS:
            raise StrategyError(f'cannot scale a {type(template).__name__}: known families are '
                                f'{[t.__name__ for t in _FIELDS]}')
        self.template = template
        self.fields = _FIELDS[type(template)]
        self.rounding = dict(rounding)
        self.square = template.img_size[0] == template.img_size[1]
        self.bounds = {d: self.rounding[d].bounds(template) for d in DIMS}
        q = self.rounding['img_size'].step(template)
        if isinstance(template, DeiTArch) and q % template.patch_size:
            raise StrategyError(f'rounding.img_size.multiple={q} cannot give valid DeiT inputs: it '
                                f'must be a multiple of patch_size={template.patch_size}')

    @classmethod
    def of(cls, template, strategy: Strategy) -> 'Space':
        return cls(template, strategy.rounding)

    # -- points ---------------------------------------------------------------------------------
    def point(self, arch) -> Point:
        return point_of(arch, self.square)

    @staticmethod
    def move(point: Point, log_factors: Mapping[str, float]) -> Point:
        """Each dimension's components times ``exp(log_factors[dim])``."""
        return {d: tuple(x * math.exp(log_factors.get(d, 0.0)) for x in v)
                for d, v in point.items()}

    # -- rounding -------------------------------------------------------------------------------
    def _grid(self, d: str, x: float, how: str) -> float:
        q = self.rounding[d].step(self.template)
        lo, hi = self.bounds[d]
        k = x / q
        k = math.floor(k + 1e-9) if how == 'floor' else math.ceil(k - 1e-9) if how == 'ceil' \
            else math.floor(k + 0.5)
        v = min(max(k * q, lo), hi)
        return v if d == 'mlp_ratio' else int(round(v))

    def build(self, values: Mapping[str, Tuple[float, ...]]):
        """The architecture holding ``values`` (already on the grid)."""
        changes = {}
        for d in DIMS:
            v = tuple(values[d])
            if d == 'img_size':
                v = v * 2 if len(v) == 1 else v
            elif len(v) == 1:
                v = v[0]
            changes[self.fields[d]] = v
        return self.template.replace(**changes)

    def nearest(self, point: Point):
        return self.build({d: tuple(self._grid(d, x, 'nearest') for x in v)
                           for d, v in point.items()})

    def neighbourhood(self, point: Point) -> Iterator:
        """Every architecture whose components are the grid values just below or above the
        point's (2 ** components of them at most, duplicates removed)."""
        options = []
        for d in DIMS:
            for x in point[d]:
                options.append(sorted({self._grid(d, x, 'floor'), self._grid(d, x, 'ceil')}))
        sizes = [len(point[d]) for d in DIMS]
        for combo in itertools.product(*options):
            values, i = {}, 0
            for d, n in zip(DIMS, sizes):
                values[d] = combo[i:i + n]
                i += n
            try:
                yield self.build(values)
            except ValueError:  # e.g. a PiT input smaller than its patch: not a model
                continue


def family_of(arch) -> str:
    return FAMILY_OF.get(type(arch), type(arch).__name__)


def point_of(arch, square: Optional[bool] = None) -> Point:
    """The dimensions of ``arch`` as a point (a square input as one component)."""
    fields = _FIELDS[type(arch)]
    square = arch.img_size[0] == arch.img_size[1] if square is None else square
    p = {}
    for d in DIMS:
        v = getattr(arch, fields[d])
        if d == 'img_size' and square:
            v = v[:1]
        p[d] = tuple(float(x) for x in (v if isinstance(v, tuple) else (v,)))
    return p


def describe(arch) -> str:
    """``I32 d6 h3 e64 r4`` (PiT: ``d2-6-4``), the study's notation."""
    p = point_of(arch)
    img = 'x'.join(str(int(x)) for x in p['img_size'])
    depth = '-'.join(str(int(x)) for x in p['depth'])
    return (f'I{img} d{depth} h{int(p["num_heads"][0])} e{int(p["head_dim"][0])} '
            f'r{p["mlp_ratio"][0]:g}')


def check_family(strategy: Strategy, arch) -> Optional[str]:
    """A note when the strategy was found on another family (a transfer)."""
    fam = family_of(arch)
    if fam == strategy.family:
        return None
    return f'strategy found on {strategy.family}, applied to {fam} (transfer)'
