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

from .. import families
from .strategy import DIMS, Rounding, Strategy, StrategyError

Point = Dict[str, Tuple[float, ...]]


class Space:
    """The strategy's dimensions over the family of ``template`` (whose other fields, such as the
    patch size, every produced architecture keeps)."""

    def __init__(self, template, rounding: Mapping[str, Rounding]):
        try:
            family = families.family_of(template)
        except TypeError as e:
            raise StrategyError(f'cannot scale a {type(template).__name__}: {e}') from None
        self.template = template
        self.fields = family.dims
        self.rounding = dict(rounding)
        self.square = template.img_size[0] == template.img_size[1]
        self.bounds = {d: self.rounding[d].bounds(template) for d in DIMS}
        q, valid = self.rounding['img_size'].step(template), family.img_multiple(template)
        if self.rounding['img_size'].multiple not in ('patch', 'stride') and q % valid:
            raise StrategyError(f'rounding.img_size.multiple={q} cannot give valid '
                                f'{family.name} inputs: it must be a multiple of {valid}')

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
    """The family name of ``arch`` (its type's name when no family is registered for it)."""
    try:
        return families.family_of(arch).name
    except TypeError:
        return type(arch).__name__


def point_of(arch, square: Optional[bool] = None) -> Point:
    """The dimensions of ``arch`` as a point (a square input as one component)."""
    fields = families.family_of(arch).dims
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


def factors(arch, base) -> Dict[str, float]:
    """Each dimension of ``arch`` as a multiple of ``base``'s (per-stage values averaged in log)."""
    p, q = point_of(arch, False), point_of(base, False)
    return {d: math.exp(sum(math.log(a / b) for a, b in zip(p[d], q[d])) / len(p[d]))
            for d in DIMS}


def fitted_range(base, archs) -> Dict[str, Tuple[float, float]]:
    """Per dimension, the span of ``archs`` (the candidates a strategy was fitted on) as
    multiples of ``base``'s value."""
    fs = [factors(a, base) for a in archs]
    return {d: (min(f[d] for f in fs), max(f[d] for f in fs)) for d in DIMS}


def far_outside_notes(strategy: Strategy, arch, base) -> list:
    """One warning per dimension of ``arch`` (relative to ``base``) far outside the range the
    strategy was fitted on."""
    f = factors(arch, base)
    return [f'warning: {d} is x{f[d]:.3g} of the base ({describe(arch)} from {describe(base)}), '
            f'far outside the range the strategy {strategy.name or ""} was fitted on '
            f'(x{lo:.3g} to x{hi:.3g}); the strategy is extrapolated here'
            for d, (lo, hi) in strategy.outside_fitted_range(f).items()]
