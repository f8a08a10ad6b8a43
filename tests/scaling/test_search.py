"""The strategy search: its steps, its table, and resuming without re-training (a fake proxy for
the logic; one real, killed and restarted search on the digits data)."""
import math
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import pytest

from vit_scaled.arch import DeiTArch
from vit_scaled.scaling import Budget, make_cost, scale
from vit_scaled.scaling.search import SearchSettings, StrategySearch, Table

BASE = DeiTArch(depth=6, num_heads=3, head_dim=32, img_size=32, patch_size=4)


class FakeProxy:
    """Accuracy rises with log depth and resolution, little with width; counts its trainings."""

    def __init__(self, stop_after=None):
        self.calls, self.stop_after = [], stop_after

    def __call__(self, arch, key):
        if self.stop_after is not None and len(self.calls) == self.stop_after:
            raise KeyboardInterrupt  # the kill, in the middle of the next training
        self.calls.append(key)
        return (80 + 4 * math.log(arch.depth) + 3 * math.log(arch.img_size[0])
                + 0.5 * math.log(arch.num_heads * arch.head_dim))


def _search(tmp_path, proxy, **kw):
    cost = make_cost('flops')
    settings = SearchSettings(Budget('flops', 2 * cost(BASE)), samples=6, steps=2, **kw)
    return StrategySearch(BASE, settings, cost, proxy, str(tmp_path / 'table.jsonl'),
                          progress=lambda msg: None)


def test_search_moves_toward_the_budget_and_the_accuracy(tmp_path):
    proxy = FakeProxy()
    result = _search(tmp_path, proxy).run()
    assert result.cost <= 2 * make_cost('flops')(BASE) * 1.0001
    assert result.cost > 1.5 * make_cost('flops')(BASE)
    rates = result.strategy.rates
    # Per unit of log-cost the fake rewards depth most, width least: the search deepens.
    assert rates['depth'] > max(rates['num_heads'], rates['head_dim'], rates['mlp_ratio'], 0.2)
    rows = Table(str(tmp_path / 'table.jsonl')).rows
    assert len(rows) == len(proxy.calls) == result.trained
    assert {'cost', 'top1', 'arch', 'seconds', 'step'} <= set(rows[0])
    # The extracted strategy reproduces the final model at the final cost.
    again = scale(BASE, result.strategy, Budget('flops', result.cost))
    assert again.cost >= 0.97 * result.cost


class OvershootPenalty(FakeProxy):
    """The fake, except that the moved model of the last step (known from a first run) trains
    badly: the search must end on a more accurate candidate it trained within the budget."""

    def __init__(self, bad):
        super().__init__()
        self.bad = bad

    def __call__(self, arch, key):
        return super().__call__(arch, key) - (50 if arch == self.bad else 0)


def test_search_keeps_the_best_candidate_within_the_budget(tmp_path):
    moved = _search(tmp_path / 'a', FakeProxy()).run().arch
    search = _search(tmp_path / 'b', OvershootPenalty(moved))
    result = search.run()
    budget, c0 = search.settings.budget.value, make_cost('flops')(BASE)
    feasible = [r for a, r in search.evaluated
                if r['cost'] <= budget and math.log(r['cost'] / c0) >= 0.5 * math.log(budget / c0)]
    assert result.arch != moved and feasible
    assert result.top1 == max(r['top1'] for r in feasible)
    # The strategy is the path to that candidate.
    assert scale(BASE, result.strategy, Budget('flops', result.cost)).arch == result.arch


def test_killed_search_resumes_without_retraining(tmp_path):
    whole = FakeProxy()
    expected = _search(tmp_path / 'a', whole).run()
    n = len(whole.calls)
    first = FakeProxy(stop_after=5)
    with pytest.raises(KeyboardInterrupt):
        _search(tmp_path / 'b', first).run()
    assert len(Table(str(tmp_path / 'b' / 'table.jsonl')).rows) == 5
    # A kill during a write leaves half a line: it is ignored and re-trained.
    with open(tmp_path / 'b' / 'table.jsonl', 'a') as f:
        f.write('{"type": "candidate", "key": "trunc')
    second = FakeProxy()
    resumed = _search(tmp_path / 'b', second).run()
    assert len(second.calls) == n - 5 and not set(second.calls) & set(first.calls)
    assert resumed.strategy.rates == expected.strategy.rates and resumed.arch == expected.arch
    assert _search(tmp_path / 'b', FakeProxy()).run().trained == 0  # a third run trains nothing


def test_search_refuses_a_budget_at_the_base_cost(tmp_path):
    cost = make_cost('flops')
    settings = SearchSettings(Budget('flops', cost(BASE)))
    with pytest.raises(ValueError, match='within 10%'):
        StrategySearch(BASE, settings, cost, FakeProxy(), str(tmp_path / 't.jsonl')).run()


TINY_CONFIG = """
_base_ = [{base!r}]
model = dict(backbone=dict(arch=dict(_delete_=True, depth=1, num_heads=1, head_dim=16,
                                     mlp_ratio=2.0), img_size=8))
train_transform = dict(input_size=8, is_training=True, scale=(0.8, 1.0), ratio=(0.9, 1.1),
                       hflip=0.0, color_jitter=0.0, interpolation='bicubic')
train_dataloader = dict(dataset=dict(transform=train_transform, indices=256))
val_dataloader = dict(dataset=dict(transform=dict(input_size=8, crop_pct=1.0), indices=120))
"""


def _table_keys(path):
    return [r['key'] for r in Table(path).rows if r.get('type') == 'candidate']


@pytest.mark.training
def test_real_search_killed_and_restarted(tmp_path, root, digits_config):
    """tools/search_strategy.py on the digits data, SIGKILLed once a candidate is in the table,
    then resumed: finished candidates are not trained again (each has exactly one mmengine run)."""
    from vit_scaled.scaling.search import search_config
    cfg = tmp_path / 'tiny_digits.py'
    cfg.write_text(TINY_CONFIG.format(base=digits_config))
    work = tmp_path / 'search'
    settings = dict(samples=2, steps=1, proxy_epochs=1, dims=('depth', 'num_heads'))
    cmd = [sys.executable, osp.join(root, 'tools', 'search_strategy.py'), str(cfg),
           '--budget', 'flops=3x', '--samples', '2', '--steps', '1', '--proxy-epochs', '1',
           '--dims', 'depth', 'num_heads', '--work-dir', str(work)]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([root, os.environ.get('PYTHONPATH', '')]))
    table = str(work / 'candidates.jsonl')
    proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.time() + 240
        while time.time() < deadline and proc.poll() is None:
            if osp.exists(table) and _table_keys(table):
                break
            time.sleep(0.1)
        assert proc.poll() is None, proc.stdout.read().decode()[-3000:]
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
        proc.stdout.close()
    done = _table_keys(table)
    assert done
    # The same search again (in this process, to spare a second start-up of the tool).
    log = []
    result = search_config(str(cfg), 'flops=3x', str(work), settings=settings, progress=log.append)
    keys = _table_keys(table)
    assert len(keys) == len(set(keys)) and set(done) <= set(keys) and len(keys) > len(done)
    assert result.trained == len(keys) - len(done)
    for key in done:  # one mmengine run each: nothing finished was trained twice
        runs = [d for d in os.listdir(work / 'runs' / key) if d[:8].isdigit()]
        assert len(runs) == 1, (key, runs)
    assert sum('(from the table)' in line for line in log) >= len(done)
    assert (work / 'strategy.yaml').exists() and (work / 'candidates.csv').exists()
    assert 'rates:' in (work / 'strategy.yaml').read_text()
