"""A scaling strategy: how fast each of the study's dimensions grows with one scale factor ``s``.

Compound scaling, as EfficientNet and the study do it: ``dim = base_dim * s ** rate``, then each
dimension is rounded to a value that is valid and hardware-friendly (the input a multiple of the
patch size, the head dim a multiple of 8, integer depth and heads). Strategies found by
``search.py`` have their rates normalised so that ``s`` is, to first order, the cost multiplier
(``rates . cost_elasticities = 1``), so ``s = 2`` roughly doubles the budget the strategy was
found for.

The file format (YAML, or JSON, which YAML reads too)::

    name: deit-digits-flops
    family: deit                  # the family it was found on: deit | pit
    rates: {img_size: 0.2, depth: 0.4, num_heads: 0.3, head_dim: 0.1, mlp_ratio: 0.0}
    rounding:                     # optional; these are the defaults
      img_size: {multiple: patch} # patch (the patch size), stride (PiT's), or a number
      depth: {multiple: 1}
      num_heads: {multiple: 1}
      head_dim: {multiple: 8}
      mlp_ratio: {multiple: 0.5}
    base: {arch: {...}, img_size: 32, patch_size: 4}   # the model it was found on
    found_on: {budget: flops, device: null, data: digits, command: ...}
    scale_range: [0.001, 1000]    # optional: the s the scaler may use
    fitted_range:                 # optional: each dimension's span over the candidates the
      depth: [0.75, 1.17]         # strategy was fitted on, as multiples of the base's value

A dimension left out of ``rates`` keeps its base value. Each rounding rule may also set ``min``
and ``max`` (defaults: ``min`` is one multiple, no ``max``).
"""
import json
import math
import os
from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional, Tuple, Union

import yaml

from ..fileio import write_atomically

# The study's dimensions: input resolution I, depth d, heads h, per-head dim e, MLP ratio r.
DIMS = ('img_size', 'depth', 'num_heads', 'head_dim', 'mlp_ratio')
FAR_OUTSIDE = 1.5  # a scaled dimension this far beyond the fitted range is warned about
DEFAULT_ROUNDING = {
    'img_size': {'multiple': 'patch'},
    'depth': {'multiple': 1},
    'num_heads': {'multiple': 1},
    'head_dim': {'multiple': 8},
    'mlp_ratio': {'multiple': 0.5},
}
NAMED_MULTIPLES = ('patch', 'stride')
DEFAULT_SCALE_RANGE = (1e-3, 1e3)


class StrategyError(ValueError):
    """A strategy file or value that cannot be used; the message names the field."""


def _error(where: str, field_name: str, value: Any, valid: str) -> StrategyError:
    return StrategyError(f'{where}: field {field_name!r} = {value!r} is invalid: {valid}')


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class Rounding:
    """A dimension's grid: multiples of ``multiple`` (a number, or 'patch'/'stride' of the arch),
    clipped to ``[min, max]``."""

    multiple: Union[float, str] = 1
    min: Optional[float] = None
    max: Optional[float] = None

    def step(self, arch) -> float:
        if self.multiple == 'patch':
            return arch.patch_size
        if self.multiple == 'stride':
            return getattr(arch, 'stride', arch.patch_size)
        return self.multiple

    def bounds(self, arch) -> Tuple[float, float]:
        q = self.step(arch)
        lo = q if self.min is None else max(self.min, q)
        lo = math.ceil(lo / q - 1e-9) * q  # the smallest multiple at or above min
        hi = math.inf if self.max is None else math.floor(self.max / q + 1e-9) * q
        return lo, hi

    def to_dict(self) -> dict:
        d = {'multiple': self.multiple}
        if self.min is not None:
            d['min'] = self.min
        if self.max is not None:
            d['max'] = self.max
        return d


@dataclass(frozen=True)
class Strategy:
    rates: Dict[str, float]
    family: str = 'deit'
    rounding: Dict[str, Rounding] = field(default_factory=dict)
    name: str = ''
    base: Dict[str, Any] = field(default_factory=dict)
    found_on: Dict[str, Any] = field(default_factory=dict)
    scale_range: Tuple[float, float] = DEFAULT_SCALE_RANGE
    notes: str = ''
    fitted_range: Dict[str, Tuple[float, float]] = field(default_factory=dict)

    def __post_init__(self):
        # Validation lives in ``from_dict``; here only complete the rounding table.
        rounding = {d: Rounding(**DEFAULT_ROUNDING[d]) for d in DIMS}
        rounding.update(self.rounding)
        object.__setattr__(self, 'rounding', rounding)
        object.__setattr__(self, 'rates', {d: float(self.rates.get(d, 0.0)) for d in DIMS})

    @property
    def active(self) -> Tuple[str, ...]:
        """The dimensions that move with ``s``."""
        return tuple(d for d in DIMS if self.rates[d] != 0)

    def replace(self, **changes) -> 'Strategy':
        d = dict(rates=self.rates, family=self.family, rounding=self.rounding, name=self.name,
                 base=self.base, found_on=self.found_on, scale_range=self.scale_range,
                 notes=self.notes, fitted_range=self.fitted_range)
        d.update(changes)
        return Strategy(**d)

    def to_dict(self) -> dict:
        d = {'name': self.name, 'family': self.family,
             'rates': {k: round(v, 6) for k, v in self.rates.items()},
             'rounding': {k: r.to_dict() for k, r in self.rounding.items()},
             'scale_range': list(self.scale_range)}
        if self.base:
            d['base'] = self.base
        if self.found_on:
            d['found_on'] = self.found_on
        if self.notes:
            d['notes'] = self.notes
        if self.fitted_range:
            d['fitted_range'] = {k: [round(v, 4) for v in r] for k, r in self.fitted_range.items()}
        return d

    def outside_fitted_range(self, factors: Dict[str, float]) -> Dict[str, Tuple[float, float]]:
        """The dimensions whose ``factors`` (scaled value / base value) lie more than
        ``FAR_OUTSIDE`` times beyond the range the strategy was fitted on, with that range."""
        far = {}
        for d, (lo, hi) in self.fitted_range.items():
            f = factors.get(d)
            if f is not None and not lo / FAR_OUTSIDE <= f <= hi * FAR_OUTSIDE:
                far[d] = (lo, hi)
        return far

    @classmethod
    def from_dict(cls, d: Any, where: str = 'strategy') -> 'Strategy':
        if not isinstance(d, Mapping):
            raise StrategyError(f'{where}: expected a mapping with a "rates" field, got '
                                f'{type(d).__name__}')
        from ..families import family_names
        known = {'name', 'family', 'rates', 'rounding', 'base', 'found_on', 'scale_range', 'notes',
                 'fitted_range'}
        unknown = sorted(set(d) - known)
        if unknown:
            raise _error(where, unknown[0], d[unknown[0]], f'unknown field; known: {sorted(known)}')
        family = d.get('family', 'deit')
        if family not in family_names():
            raise _error(where, 'family', family, f'choose one of {list(family_names())}')
        rates = d.get('rates')
        if not isinstance(rates, Mapping) or not rates:
            raise _error(where, 'rates', rates, f'expected a mapping of some of {DIMS} to numbers')
        for k, v in rates.items():
            if k not in DIMS:
                raise _error(where, f'rates.{k}', v, f'unknown dimension; choose from {DIMS}')
            if not _number(v):
                raise _error(where, f'rates.{k}', v, 'expected a finite number')
        rounding = {}
        raw_rounding = d.get('rounding') or {}
        if not isinstance(raw_rounding, Mapping):
            raise _error(where, 'rounding', raw_rounding, 'expected a mapping of dimensions')
        for k, rule in raw_rounding.items():
            rounding[k] = _rounding(where, k, rule)
        scale_range = d.get('scale_range', DEFAULT_SCALE_RANGE)
        if (not isinstance(scale_range, (list, tuple)) or len(scale_range) != 2
                or not all(_number(v) and v > 0 for v in scale_range)
                or scale_range[0] >= scale_range[1]):
            raise _error(where, 'scale_range', scale_range, 'expected [low, high], 0 < low < high')
        for key in ('base', 'found_on'):
            if not isinstance(d.get(key, {}), Mapping):
                raise _error(where, key, d[key], 'expected a mapping')
        for key in ('name', 'notes'):
            if not isinstance(d.get(key, ''), str):
                raise _error(where, key, d[key], 'expected a string')
        fitted = d.get('fitted_range') or {}
        if not isinstance(fitted, Mapping):
            raise _error(where, 'fitted_range', fitted, 'expected a mapping of dimensions')
        for k, r in fitted.items():
            if k not in DIMS:
                raise _error(where, f'fitted_range.{k}', r, f'unknown dimension; choose from {DIMS}')
            if (not isinstance(r, (list, tuple)) or len(r) != 2
                    or not all(_number(v) and v > 0 for v in r) or r[0] > r[1]):
                raise _error(where, f'fitted_range.{k}', r, 'expected [low, high], 0 < low <= high')
        return cls(rates=dict(rates), family=family, rounding=rounding, name=d.get('name', ''),
                   base=dict(d.get('base', {})), found_on=dict(d.get('found_on', {})),
                   scale_range=tuple(float(v) for v in scale_range), notes=d.get('notes', ''),
                   fitted_range={k: (float(r[0]), float(r[1])) for k, r in fitted.items()})


def _rounding(where: str, dim: str, rule: Any) -> Rounding:
    name = f'rounding.{dim}'
    if dim not in DIMS:
        raise _error(where, name, rule, f'unknown dimension; choose from {DIMS}')
    if not isinstance(rule, Mapping):
        raise _error(where, name, rule, 'expected a mapping such as {multiple: 8, min: 8}')
    unknown = sorted(set(rule) - {'multiple', 'min', 'max'})
    if unknown:
        raise _error(where, f'{name}.{unknown[0]}', rule[unknown[0]],
                     'unknown field; known: multiple, min, max')
    multiple = rule.get('multiple', DEFAULT_ROUNDING[dim]['multiple'])
    if not ((_number(multiple) and multiple > 0) or multiple in NAMED_MULTIPLES):
        raise _error(where, f'{name}.multiple', multiple,
                     f'expected a positive number or one of {NAMED_MULTIPLES}')
    if dim != 'mlp_ratio' and _number(multiple) and multiple != int(multiple):
        raise _error(where, f'{name}.multiple', multiple, f'{dim} needs an integer multiple')
    if dim != 'img_size' and multiple in NAMED_MULTIPLES:
        raise _error(where, f'{name}.multiple', multiple, f'{multiple!r} applies to img_size only')
    for key in ('min', 'max'):
        v = rule.get(key)
        if v is not None and not (_number(v) and v > 0):
            raise _error(where, f'{name}.{key}', v, 'expected a positive number')
    if rule.get('min') is not None and rule.get('max') is not None and rule['min'] > rule['max']:
        raise _error(where, f'{name}.max', rule['max'], f'must not be below min={rule["min"]}')
    return Rounding(multiple, rule.get('min'), rule.get('max'))


def load_strategy(path: str) -> Strategy:
    """Read a strategy file (YAML or JSON); errors name the file and the field."""
    if not os.path.isfile(path):
        raise StrategyError(f'strategy file {path!r} does not exist')
    with open(path) as f:
        text = f.read()
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise StrategyError(f'{path}: not valid YAML/JSON: {e}') from None
    return Strategy.from_dict(data, where=path)


def save_strategy(strategy: Strategy, path: str, header: str = '') -> None:
    """Write YAML (or JSON for a ``.json`` path), atomically."""
    d = strategy.to_dict()
    if path.endswith('.json'):
        text = json.dumps(d, indent=2) + '\n'
    else:
        text = ''.join(f'# {line}\n' for line in header.splitlines())
        text += yaml.safe_dump(d, sort_keys=False, default_flow_style=None, width=100)
    write_atomically(path, text)
