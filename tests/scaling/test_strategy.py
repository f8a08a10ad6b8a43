"""Strategy files, budgets, rounding, and scaling to a budget with the cheap cost kinds."""
import math

import pytest

from vit_scaled.arch import DeiTArch, PiTArch, deit_arch, pit_arch
from vit_scaled.cost.analytic import analytic_cost
from vit_scaled.scaling import (Budget, BudgetError, Space, Strategy, StrategyError,
                                UnreachableBudget, describe, load_strategy, make_cost,
                                parse_budget, save_strategy, scale)
from vit_scaled.scaling.budget import resolve_budget
from vit_scaled.scaling.transfer import cross_device, cross_device_markdown, to_pit

RATES = dict(img_size=0.2, depth=0.35, num_heads=0.25, head_dim=0.1)


@pytest.fixture
def strategy():
    return Strategy.from_dict(dict(name='t', rates=RATES))


def test_round_trip_yaml_and_json(tmp_path, strategy):
    for name in ('s.yaml', 's.json'):
        path = str(tmp_path / name)
        save_strategy(strategy, path, header='made by a test')
        again = load_strategy(path)
        assert again.rates == strategy.rates and again.rounding == strategy.rounding
    assert strategy.rates['mlp_ratio'] == 0 and strategy.active == tuple(RATES)


@pytest.mark.parametrize('text, field', [
    ('rates: {depth: fast}', 'rates.depth'),
    ('rates: {width: 1.0}', 'rates.width'),
    ('rates: {depth: 1}\nfamily: resnet', 'family'),
    ('name: x', 'rates'),
    ('rates: {depth: 1}\nrounding: {head_dim: {multiple: -8}}', 'rounding.head_dim.multiple'),
    ('rates: {depth: 1}\nrounding: {depth: {multiple: 1.5}}', 'rounding.depth.multiple'),
    ('rates: {depth: 1}\nrounding: {depth: {step: 1}}', 'rounding.depth.step'),
    ('rates: {depth: 1}\nscale_range: [2, 1]', 'scale_range'),
    ('rates: {depth: 1}\nspeed: 3', 'speed'),
])
def test_malformed_strategy_names_the_field(tmp_path, text, field):
    path = tmp_path / 'bad.yaml'
    path.write_text(text)
    with pytest.raises(StrategyError, match=f"field '{field}'"):
        load_strategy(str(path))


def test_unparseable_file_and_missing_file(tmp_path):
    path = tmp_path / 'bad.yaml'
    path.write_text('rates: {depth: [1,\n')
    with pytest.raises(StrategyError, match='not valid YAML'):
        load_strategy(str(path))
    with pytest.raises(StrategyError, match='does not exist'):
        load_strategy(str(tmp_path / 'none.yaml'))


@pytest.mark.parametrize('text, kind, value', [
    ('flops=1.25G', 'flops', 1.25e9), ('params=5M', 'params', 5e6), ('latency=20ms', 'latency', 20),
    ('latency=0.5s', 'latency', 500), ('latency=800us', 'latency', 0.8),
    ('flops=300', 'flops', 300)])
def test_parse_budget(text, kind, value):
    b = parse_budget(text)
    assert b.kind == kind and b.value == pytest.approx(value)


@pytest.mark.parametrize('text', ['flops', 'speed=3', 'latency=20', 'flops=1.2X', 'flops=-1G'])
def test_bad_budget_is_explained(text):
    with pytest.raises(BudgetError, match='budget'):
        parse_budget(text)


def test_relative_budget():
    base = deit_arch('deit-tiny')
    b, cost = resolve_budget('flops=0.5x', base)
    assert b.value == pytest.approx(analytic_cost(base).flops / 2) and cost.kind == 'flops'


def test_rounding_keeps_models_valid_and_hardware_friendly(strategy):
    base = DeiTArch(depth=6, num_heads=3, head_dim=40, img_size=48, patch_size=8)
    space = Space.of(base, strategy)
    point = Space.move(space.point(base), {'img_size': 0.37, 'head_dim': -0.21, 'depth': 0.6})
    archs = list(space.neighbourhood(point))
    assert len(archs) == 2 ** 3  # floor and ceil of the three moved dimensions
    for a in archs:
        assert a.img_size[0] % 8 == 0 and a.head_dim % 8 == 0 and isinstance(a.depth, int)
    lo = Space.move(space.point(base), {d: -9 for d in RATES})
    assert space.nearest(lo) == base.replace(depth=1, num_heads=1, head_dim=8, img_size=8)


def test_deit_tiny_flops_budget_from_a_small_base(strategy):
    """Acceptance: a FLOPs budget equal to DeiT-Tiny's gives a valid model within 2% below."""
    tiny = analytic_cost(deit_arch('deit-tiny')).flops
    base = DeiTArch(depth=6, num_heads=2, head_dim=32, img_size=32, patch_size=4)
    r = scale(base, strategy, Budget('flops', tiny))
    assert r.cost <= tiny and r.below < 0.02
    assert analytic_cost(r.arch).flops == r.cost
    assert r.arch.depth > base.depth and r.arch.img_size[0] > 32


@pytest.mark.parametrize('ratio', [0.3, 0.5, 2, 4])
def test_scaled_cost_is_close_below(strategy, ratio):
    base = deit_arch('deit-tiny')
    budget = Budget('flops', ratio * analytic_cost(base).flops)
    r = scale(base, strategy, budget)
    assert r.cost <= budget.value and r.below < 0.03


def test_params_and_device_model_budgets(strategy):
    base = deit_arch('deit-tiny')
    r = scale(base, strategy, Budget('params', 10e6), num_classes=1000)
    assert r.cost <= 10e6 and r.cost == analytic_cost(r.arch, 1, 1000).params
    r = scale(base, strategy, Budget('latency', 20), device='jetson-tx2')
    assert r.cost <= 20 and r.below < 0.05 and 'jetson-tx2' in r.cost_label


def test_latency_predictor_budget(tmp_path, strategy):
    """A fitted predictor file (here fitted to a known linear latency) as the cost of a budget."""
    from vit_scaled.cost.predictor import fit, sample_deit_archs
    archs = sample_deit_archs(40, seed=1)
    costs = [analytic_cost(a) for a in archs]
    fit(costs, [0.4 + 3e-9 * c.flops + 2e-3 * c.kernels for c in costs]).save(
        str(tmp_path / 'p.json'))
    cost = make_cost('latency', predictor=str(tmp_path / 'p.json'))
    base = deit_arch('deit-tiny')
    budget = Budget('latency', 1.5 * cost(base))
    r = scale(base, strategy, budget, cost=cost)
    assert r.cost <= budget.value and r.below < 0.05 and 'predictor' in r.cost_label
    truth = analytic_cost(r.arch)
    assert r.cost == pytest.approx(0.4 + 3e-9 * truth.flops + 2e-3 * truth.kernels, rel=0.01)


def test_unreachable_budget_says_smallest_and_largest(strategy):
    base = deit_arch('deit-tiny')
    with pytest.raises(UnreachableBudget, match=r'smallest reachable cost is [\d.]+K and the '
                       r'largest [\d.e+]+') as e:
        scale(base, strategy, Budget('flops', 1000))
    assert e.value.smallest > 1000
    bounded = strategy.replace(scale_range=(0.5, 2))
    with pytest.raises(UnreachableBudget, match='smallest.*largest'):
        scale(base, bounded, Budget('flops', 1e12))


def test_pit_transfer_scales_every_stage():
    deit_strategy = Strategy.from_dict(dict(name='d', rates=dict(depth=0.5, num_heads=0.3,
                                                                 img_size=0.2)))
    pit = to_pit(deit_strategy)
    assert pit.family == 'pit' and pit.rounding['img_size'].multiple == 'stride'
    base = pit_arch('pit-ti')
    budget = Budget('flops', 2 * analytic_cost(base).flops)
    r = scale(base, pit, budget)
    assert r.cost <= budget.value and r.below < 0.05
    assert all(d1 > d0 for d1, d0 in zip(r.arch.depths, base.depths))  # every stage deeper
    assert r.arch.img_size[0] % base.stride == 0 and r.arch.heads == tuple(
        r.arch.base_heads * 2 ** i for i in range(3))
    # Applying the DeiT file as it is also works, with a note that it is a transfer.
    assert 'transfer' in scale(base, deit_strategy, budget).notes[0]


def test_cross_device_table():
    a = Strategy.from_dict(dict(name='gpu', rates=dict(depth=0.6, num_heads=0.2)))
    b = Strategy.from_dict(dict(name='cpu', rates=dict(img_size=0.3, head_dim=0.3)))
    base = deit_arch('deit-tiny')
    budgets = {dev: Budget('latency', 1.5 * make_cost('latency', device=dev)(base))
               for dev in ('v100', 'pixel3-cpu')}
    rows = cross_device(base, {'v100': a, 'pixel3-cpu': b}, budgets)
    assert len(rows) == 4 and sum(r['own'] for r in rows) == 2
    for r in rows:
        assert r['latency_ms'] <= budgets[r['target']].value
    md = cross_device_markdown(rows)
    assert '(own)' in md and md.count('\n') == 3
    assert describe(base) == 'I224 d12 h3 e64 r4'
    assert math.isclose(rows[0]['budget_ms'], budgets['v100'].value)
    # A strategy that cannot reach one target's budget leaves a marked cell, not an error.
    floor = a.replace(scale_range=(0.9, 1.1))
    rows = cross_device(base, {'v100': a, 'floor': floor},
                        {'v100': Budget('latency', 0.3 * make_cost('latency', device='v100')(base))})
    (cell,) = [r for r in rows if r['strategy'] == 'floor']
    assert cell['unreachable'] > cell['budget_ms']
    assert 'unreachable (its smallest model' in cross_device_markdown(rows)


def test_pit_describe():
    assert describe(PiTArch()) == 'I224 d2-6-4 h2 e32 r4'
