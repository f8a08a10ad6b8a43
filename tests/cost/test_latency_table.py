"""The measurement protocol of a predictor's table: configurations whose rounds disagree are
measured again, and those that keep disagreeing are named and left out, not fitted silently.
Timing runs through the real timing loop (``time_calls``) on a clock that only the timed calls
move, so the noise is exactly what each test injects."""
import statistics

import pytest

from vit_scaled.cost.latency_table import (Row, load_settings, load_table, measure_table,
                                           noisy_report, path_timer, save_table)
from vit_scaled.cost.measure import Measurement, time_calls
from vit_scaled.cost.predictor import sample_deit_archs


class ScriptedTimer:
    """``arch -> Measurement``: each attempt at an arch times calls whose durations (ms) come
    from ``script[arch]``, one list per attempt, one duration per round; every call is timed."""

    def __init__(self, script):
        self.script, self.now, self.calls = script, 0.0, []

    def clock(self):
        return self.now

    def __call__(self, arch):
        attempt = sum(a == arch for a in self.calls)
        self.calls.append(arch)
        per_round = iter(self.script[arch][attempt])
        state = {}

        def run():  # the same duration for all calls of a round
            self.now += state['ms'] / 1000
        rounds = []
        for ms in per_round:
            state['ms'] = ms
            (calls,), _ = time_calls(run, warmup=0, rounds=1, iters=3, clock=self.clock)
            rounds.append(statistics.median(calls))
        return Measurement('torch', 'cpu', 1, 2, 0, 3, rounds, min(rounds))


@pytest.fixture
def archs():
    return sample_deit_archs(3, seed=0)


def test_a_noisy_configuration_is_measured_again_and_said_so(archs):
    a, b, c = archs
    timer = ScriptedTimer({
        a: [[10, 10.1, 10]],                          # agrees at once
        b: [[20, 26, 20], [21, 21.2, 21]],            # 30 % spread, then 1 %
        c: [[5, 9, 5], [5, 7, 5], [5, 6, 5]],         # 80 %, 40 %, 20 %: never agrees
    })
    said = []
    rows = measure_table(archs, timer, max_spread=0.05, retries=2, progress=said.append)
    assert timer.calls == [a, b, c, b, c, c]  # re-measured after all others, noisy ones only
    assert [r.spreads for r in rows] == [
        [pytest.approx(0.01)], [pytest.approx(0.3), pytest.approx(0.2 / 21)],
        [pytest.approx(s) for s in (0.8, 0.4, 0.2)]]
    assert rows[1].latency_ms == pytest.approx(21.0) and rows[1].trusted and rows[1].remeasured
    assert rows[0].latency_ms == pytest.approx(10.0) and not rows[0].remeasured
    # the least disagreeing attempt is kept, and still untrusted
    assert rows[2].latency_ms == pytest.approx(5.0) and rows[2].spread == pytest.approx(0.2)
    assert not rows[2].trusted
    first = next(m for m in said if m.startswith('re-measuring'))
    assert 're-measuring 2 configuration(s)' in first and '(30.0%)' in first and '(80.0%)' in first
    (line,) = noisy_report(rows, 0.05)
    assert line.endswith('rounds disagreed by 80.0%, 40.0%, 20.0% in 3 attempt(s) (> 5%)')


def test_best_statistic_and_no_retries(archs):
    a = archs[0]
    timer = ScriptedTimer({a: [[8, 12, 9]]})
    (row,) = measure_table([a], timer, statistic='best', retries=0)
    assert row.latency_ms == pytest.approx(8.0) and not row.trusted and timer.calls == [a]
    with pytest.raises(ValueError, match="statistic='mean' is invalid"):
        measure_table([a], timer, statistic='mean')


def test_table_round_trip_and_an_earlier_file(archs, tmp_path):
    rows = [Row(archs[0], 1.5, 0.01, [0.01]), Row(archs[1], 2.5, 0.2, [0.3, 0.2], False)]
    save_table(tmp_path / 't.csv', rows, dict(backend='torch', threads=2))
    assert load_table(tmp_path / 't.csv') == rows
    assert load_settings(tmp_path / 't.csv') == dict(backend='torch', threads=2)
    old = tmp_path / 'old.csv'
    old.write_text('family,arch,latency_ms\n' + (tmp_path / 't.csv').read_text().splitlines()[1]
                   .split(',1.5,')[0] + ',1.5\n')
    (row,) = load_table(old)
    assert row.arch == archs[0] and row.latency_ms == 1.5 and row.trusted
    assert load_settings(old) == {}


def test_real_timer_on_a_deployment_path():
    """The real timer of the ONNX Runtime path on a small model: a measurement with rounds."""
    from vit_scaled.arch import DeiTArch
    arch = DeiTArch(depth=1, num_heads=2, head_dim=16, img_size=32, patch_size=8)
    m = path_timer('onnxruntime', 'fp32', threads=1, warmup=1, rounds=2, iters=3)(arch)
    assert m.threads == 1 and len(m.round_ms) == 2 and m.latency_ms > 0


def test_passes_keep_the_fastest_attempt_whose_rounds_agreed(archs):
    """A slow spell that lasts through one attempt's rounds agrees with itself: the second pass
    over the whole list catches it, and a faster attempt whose rounds disagree does not win."""
    a, b, c = archs
    timer = ScriptedTimer({
        a: [[12, 12.1, 12], [8.6, 8.7, 8.6]],       # a slow spell in pass 1, rounds agreeing
        b: [[20, 20.2, 20], [14, 19, 14]],          # pass 2 faster but its rounds disagree
        c: [[5, 5, 5.1], [5.05, 5.05, 5.05]],       # the same twice
    })
    said = []
    rows = measure_table(archs, timer, max_spread=0.05, retries=2, progress=said.append,
                         passes=2)
    assert timer.calls == [a, b, c, a, b, c]  # pass after pass, nothing left to re-measure
    assert rows[0].latency_ms == pytest.approx(8.6) and rows[0].trusted
    assert rows[0].figures == [pytest.approx(12.0), pytest.approx(8.6)]
    assert rows[1].latency_ms == pytest.approx(20.0) and rows[1].trusted
    assert rows[2].latency_ms == pytest.approx(5.0) and rows[2].pass_spread < 0.05
    assert not any(r.remeasured for r in rows)  # two passes each, no retry
    # the two that differed between passes are named with their figures
    (line, ) = [m for m in said if 'differed between passes' in m]
    assert line.startswith('2 of 3') and '12.00, 8.60 ms' in line
    with pytest.raises(ValueError, match='passes=0'):
        measure_table(archs, timer, passes=0)
