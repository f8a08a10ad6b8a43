"""The latency predictor: its forms recover known latencies, cross-validation chooses among them,
a measured table fits and round-trips, and a scaler budget takes a predictor of any deployment
path. The real fit is tools/analysis_tools/fit_predictor.py (numbers in docs/cost.md); here
synthetic tables with a known truth, and a small sample of small models, keep it fast."""
import math

import pytest

from vit_scaled.cost import LatencyPredictor, analytic_cost
from vit_scaled.cost.classes import OpClass
from vit_scaled.cost.latency_table import measure_table, path_timer, save_table
from vit_scaled.cost.predictor import (FEATURES, FORMS, cross_validate, fit, fit_and_evaluate,
                                       metrics, sample_deit_archs, split)

SMALL = dict(depth=range(1, 5), num_heads=range(1, 5), head_dim=(16, 32), mlp_ratio=(2.0, 4.0),
             img_size=(32, 64, 96))


def linear_truth(cost):
    return 0.5 + 2e-8 * cost.flops + 1e-3 * cost.kernels


def sized_truth(cost):
    """Multi-thread-like: an MLP multiply-add costs more the smaller its GEMMs (20 ps at 10 M
    multiply-adds per launch, 3 ps less per e-fold of size), attention products a flat 40 ps."""
    mlp, mm = cost.per_class[OpClass.MLP], cost.per_class[OpClass.MSA_MATMUL]
    per_mac = 2e-8 * (1 - 0.15 * (math.log(mlp.flops / mlp.kernels) - math.log(1e7)))
    return 0.3 + per_mac * mlp.flops + 4e-8 * mm.flops + 2e-3 * cost.kernels


def test_sampling_is_distinct_and_seeded():
    a = sample_deit_archs(20, seed=1, space=SMALL)
    assert len(set(a)) == 20 and a == sample_deit_archs(20, seed=1, space=SMALL)
    train, held = split(20, 0.25, seed=0)
    assert len(held) == 5 and not set(train) & set(held)


def test_metrics():
    m = metrics([1.0, 2.1, 2.9], [1.0, 2.0, 3.0])
    assert m['n'] == 3 and m['within_10'] == pytest.approx(100.0)
    assert m['mape'] == pytest.approx(100 * (0 + 0.05 + 1 / 30) / 3)
    assert m['kendall_tau'] == pytest.approx(1.0)


def test_fit_recovers_a_linear_latency():
    archs = sample_deit_archs(30, seed=2, space=SMALL)
    costs = [analytic_cost(a) for a in archs]
    pred = fit(costs, [linear_truth(c) for c in costs])
    others = [analytic_cost(a) for a in sample_deit_archs(40, seed=3) if a not in archs]
    truth = [linear_truth(c) for c in others]  # configurations the fit never saw, larger ones
    m = metrics(pred.predict_costs(others), truth)
    assert m['mape'] < 0.5 and m['within_10'] == 100 and m['kendall_tau'] > 0.99
    assert min(pred.coef) >= 0 and pred.intercept >= 0


def test_size_dependent_efficiency_is_recovered_and_chosen_by_cross_validation():
    """A known truth whose MLP rate depends on the GEMM size: the ``sized`` form recovers it
    within 0.5 % on configurations it did not see (of operator sizes within those it saw), the
    linear form cannot, and cross-validation picks it."""
    archs = sample_deit_archs(48, seed=4)
    costs = [analytic_cost(a) for a in archs]
    ms = [sized_truth(c) for c in costs]
    cv = {f: cross_validate(costs, ms, f, folds=4) for f in ('linear', 'sized')}
    assert cv['sized']['mape'] < 1 and 3 * cv['sized']['mape'] < cv['linear']['mape']
    pred = fit(costs, ms, form='sized')
    k = list(OpClass).index(OpClass.MLP)
    low, high = pred.params['low'][k], pred.params['high'][k]
    inside = [c for c in (analytic_cost(a) for a in sample_deit_archs(60, seed=9))
              if low <= math.log(c.per_class[OpClass.MLP].flops / c.per_class[OpClass.MLP].kernels)
              <= high]
    assert len(inside) > 30
    m = metrics(pred.predict_costs(inside), [sized_truth(c) for c in inside])
    assert m['mape'] < 0.5 and m['kendall_tau'] > 0.99
    # the MLP's fitted rate at 10 M multiply-adds per launch and its slope are the truth's
    rate = pred.coef[FEATURES.index('MLP:flops')] + pred.params['size_coef'][k] * (
        math.log(1e7) - pred.params['centre'][k])
    assert rate == pytest.approx(2e-8, rel=0.05)
    assert pred.params['size_coef'][k] == pytest.approx(-0.15 * 2e-8, rel=0.05)
    chosen, held = fit_and_evaluate(archs, ms, holdout=0.25, folds=4)
    report = chosen.meta['forms']
    assert chosen.form == 'sized' and set(report) == set(FORMS)  # every form reported
    # (a held-out operator size beyond the sample's is priced at the nearest sampled rate)
    assert report['sized']['heldout'] == held and held['within_10'] >= 90
    assert report['linear']['heldout']['mape'] > held['mape']


@pytest.mark.parametrize('form', FORMS)
def test_every_form_round_trips_through_its_file(tmp_path, form):
    archs = sample_deit_archs(40, seed=5)
    costs = [analytic_cost(a) for a in archs]
    ms = [sized_truth(c) * (1.2 if a.img_size[0] >= 224 else 1.0) for a, c in zip(archs, costs)]
    pred = fit(costs, ms, dict(backend='onnxruntime', precision='int8'), form=form)
    pred.save(tmp_path / 'p.json')
    again = LatencyPredictor.load(tmp_path / 'p.json')
    assert again.form == form and again.meta['precision'] == 'int8'
    assert list(again.predict_costs(costs)) == pytest.approx(list(pred.predict_costs(costs)),
                                                             rel=1e-12)
    assert metrics(pred.predict_costs(costs), ms)['mape'] < 10


def test_boosted_trees_learn_what_the_linear_form_leaves():
    """A step the costs cannot explain linearly (20 % slower from 224 px up): the boosted form's
    trees, evaluated from their saved arrays, take most of it."""
    archs = sample_deit_archs(60, seed=6)
    costs = [analytic_cost(a) for a in archs]
    ms = [linear_truth(c) * (1.2 if a.img_size[0] >= 224 else 1.0) for a, c in zip(archs, costs)]
    linear, boosted = (metrics(fit(costs, ms, form=f).predict_costs(costs), ms)['mape']
                       for f in ('linear', 'boosted'))
    assert boosted < linear / 2


def test_fit_leaves_out_the_excluded_rows():
    archs = sample_deit_archs(40, seed=2)
    costs = [analytic_cost(a) for a in archs]
    ms = [linear_truth(c) for c in costs]
    ms[3] *= 5  # a burst of load: left out, it does not pull the fit
    pred, held = fit_and_evaluate(archs, ms, forms=('linear',), folds=4, exclude=[3])
    assert pred.meta['n_train'] + pred.meta['n_heldout'] == 39 and held['mape'] < 0.5


def test_fit_on_measured_small_models_and_round_trip(tmp_path):
    archs = sample_deit_archs(16, seed=0, space=SMALL)
    rows = measure_table(archs, path_timer(threads=1, warmup=1, rounds=2, iters=3, clock='cpu'),
                         statistic='best', max_spread=10.0)
    assert all(r.trusted and r.latency_ms > 0 for r in rows)
    pred, held = fit_and_evaluate(archs, [r.latency_ms for r in rows], holdout=0.25, folds=3,
                                  meta=dict(device='local'))
    assert held['n'] == 4 and held['mape'] < 100  # loose: tiny models on a shared machine
    assert pred.meta['n_train'] == 12 and pred.meta['heldout_metrics'] == held
    assert pred.form in FORMS and pred.meta['forms'][pred.form]['heldout'] == held
    pred.save(tmp_path / 'p.json')
    again = LatencyPredictor.load(tmp_path / 'p.json')
    assert again.predict(archs[0]) == pytest.approx(pred.predict(archs[0]))
    assert again.meta['device'] == 'local'


def test_the_tool_names_untrusted_configurations_and_refuses_too_many(tmp_path, run_script):
    """``fit_predictor.py --data``: a table with one configuration that stayed noisy; it is named
    with its spreads and left out; with more of them than allowed the tool stops. The settings
    the table was measured with are the predictor's."""
    from vit_scaled.cost.latency_table import Row
    archs = sample_deit_archs(40, seed=8)
    rows = [Row(a, linear_truth(analytic_cost(a)), 0.01, [0.01]) for a in archs]
    rows[5] = Row(archs[5], 3 * rows[5].latency_ms, 0.31, [0.45, 0.31, 0.38], False)
    save_table(tmp_path / 't.csv', rows, dict(backend='onnxruntime', precision='int8', threads=3))
    out = tmp_path / 'p.json'
    code, stdout, _ = run_script('tools/analysis_tools/fit_predictor.py', '--data',
                                 tmp_path / 't.csv', '--out', out, '--folds', 4)
    assert code == 0, stdout
    assert '1 still too noisy to trust' in stdout
    assert 'left out of the fit: I' in stdout and '45.0%, 31.0%, 38.0% in 3 attempt(s)' in stdout
    assert all(f in stdout for f in FORMS) and '<- chosen' in stdout
    pred = LatencyPredictor.load(out)
    assert pred.meta['n_train'] + pred.meta['n_heldout'] == 39
    assert pred.meta['heldout_metrics']['mape'] < 1
    # how the table was measured, not this refit's defaults
    assert (pred.meta['backend'], pred.meta['precision'], pred.meta['threads']) == (
        'onnxruntime', 'int8', 3)
    code, _, err = run_script('tools/analysis_tools/fit_predictor.py', '--data', tmp_path / 't.csv',
                              '--out', out, '--max-untrusted', 0)
    assert code == 2 and '1 of 40 configurations stayed too noisy' in err


def test_scale_cli_takes_a_predictor_of_another_deployment_path(tmp_path, run_script,
                                                               digits_config):
    """tools/scale.py with a predictor fitted on ONNX Runtime int8 (here to a known latency):
    the budget is met on that path; asked for another path, it says which the file is for."""
    archs = sample_deit_archs(40, seed=1)
    costs = [analytic_cost(a) for a in archs]
    fit(costs, [linear_truth(c) for c in costs], dict(backend='onnxruntime', precision='int8',
                                                      threads=2), form='sized').save(
        str(tmp_path / 'p.json'))
    strategy = tmp_path / 's.yaml'
    strategy.write_text('name: t\nfamily: deit\nrates: {img_size: 0.25, depth: 0.35, '
                        'num_heads: 0.2, head_dim: 0.15}\n')
    args = [digits_config, '--strategy', strategy, '--budget', 'latency=2ms', '--predictor',
            tmp_path / 'p.json', '--out', tmp_path / 'o.py']
    code, stdout, err = run_script('tools/scale.py', *args, '--backend', 'onnxruntime',
                                   '--precision', 'int8', '--threads', 2)
    assert code == 0, err
    assert 'predictor' in stdout and 'onnxruntime int8, 2 threads, sized form' in stdout
    code, _, err = run_script('tools/scale.py', *args)
    assert code == 2 and 'fitted at backend onnxruntime, not torch' in err, err
    code, _, err = run_script('tools/scale.py', *args, '--backend', 'onnxruntime', '--precision',
                              'int8', '--threads', 1)
    assert code == 2 and 'fitted at threads 2, not 1' in err, err


def test_the_tool_names_a_bad_path_or_form(run_script):
    for args, message in ((['--backend', 'onnxruntime', '--precision', 'bf16'],
                           'not available with --backend onnxruntime'),
                          (['--form', 'mlp'], "--form 'mlp' is invalid: choose one of auto"),
                          (['--max-untrusted', '2'], '--max-untrusted 2.0 is invalid')):
        code, _, err = run_script('tools/analysis_tools/fit_predictor.py', *args)
        assert code == 2 and message in err, err


def test_loading_a_foreign_file_is_refused(tmp_path):
    (tmp_path / 'p.json').write_text('{"features": ["x"], "coef": [1], "intercept": 0, '
                                     '"batch_size": 1, "dtype_bytes": 4}')
    with pytest.raises(ValueError, match='fit it again'):
        LatencyPredictor.load(tmp_path / 'p.json')
