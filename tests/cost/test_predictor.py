"""The latency predictor: fit on measured configurations, held-out metrics, JSON round trip.
The real fit is tools/analysis_tools/fit_predictor.py (numbers in docs/cost.md); here a small
sample of small models keeps it fast."""
import warnings

import pytest

from vit_scaled.cost import LatencyPredictor, NoisyMeasurementWarning, analytic_cost
from vit_scaled.cost.predictor import (FEATURES, fit, fit_and_evaluate, load_measurements,
                                       measure_archs, metrics, sample_deit_archs,
                                       save_measurements, split)
from vit_scaled.models import DeiTScaled

SMALL = dict(depth=range(1, 5), num_heads=range(1, 5), head_dim=(16, 32), mlp_ratio=(2.0, 4.0),
             img_size=(32, 64, 96))


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


def test_fit_on_measured_small_models_and_round_trip(tmp_path):
    archs = sample_deit_archs(16, seed=0, space=SMALL)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', NoisyMeasurementWarning)
        ms = measure_archs(archs, lambda a: DeiTScaled(arch=a), threads=1, warmup=1, rounds=2,
                           iters=3, statistic='best', passes=2, clock='cpu')
    save_measurements(tmp_path / 'm.csv', archs, ms)
    assert load_measurements(tmp_path / 'm.csv') == (archs, ms)
    pred, held = fit_and_evaluate(archs, ms, holdout=0.25, meta=dict(device='local'))
    assert len(pred.coef) == len(FEATURES) and min(pred.coef) >= 0 and pred.intercept >= 0
    assert held['n'] == 4 and held['mape'] < 100  # loose: tiny models on a shared machine
    assert pred.meta['n_train'] == 12 and pred.meta['heldout_metrics'] == held
    pred.save(tmp_path / 'p.json')
    again = LatencyPredictor.load(tmp_path / 'p.json')
    assert again.predict(archs[0]) == pytest.approx(pred.predict(archs[0]))
    assert again.meta['device'] == 'local'


def test_fit_recovers_a_linear_latency():
    archs = sample_deit_archs(30, seed=2, space=SMALL)
    costs = [analytic_cost(a) for a in archs]
    truth = [0.5 + 2e-8 * c.flops + 1e-3 * c.kernels for c in costs]
    pred = fit(costs, truth)
    m = metrics([pred.predict_cost(c) for c in costs], truth)
    assert m['mape'] < 1 and m['kendall_tau'] > 0.99


def test_loading_a_foreign_file_is_refused(tmp_path):
    (tmp_path / 'p.json').write_text('{"features": ["x"], "coef": [1], "intercept": 0, '
                                     '"batch_size": 1, "dtype_bytes": 4}')
    with pytest.raises(ValueError, match='fit it again'):
        LatencyPredictor.load(tmp_path / 'p.json')
