"""The main job end to end on a small model and a slice of the digits data: the report and the
plot are written, and every number in them comes from this run's own records."""
import json
import os.path as osp

import pytest

from vit_scaled.report import last_metrics
from vit_scaled.scaling.demo import DemoSettings, run_demo

SMALL = """
_base_ = [{base!r}]
model = dict(backbone=dict(arch=dict(_delete_=True, depth=4, num_heads=2, head_dim=32,
                                     mlp_ratio=2.0), drop_path_rate=0.0))
train_dataloader = dict(dataset=dict(indices=256))
val_dataloader = dict(dataset=dict(indices=120))
"""


@pytest.mark.training
def test_demo_writes_report_from_its_own_measurements(tmp_path, digits_config, configs_dir):
    cfg = tmp_path / 'small_digits.py'
    cfg.write_text(SMALL.format(base=digits_config))
    flops = tmp_path / 'flops.yaml'
    flops.write_text('name: t-flops\nrates: {depth: 0.5, head_dim: 0.25}\n')
    latency = tmp_path / 'latency.yaml'
    latency.write_text('name: t-latency\nrates: {depth: 0.6, num_heads: 0.2}\n')
    out = tmp_path / 'demo'
    s = DemoSettings(config=str(cfg), strategy=str(flops), latency_strategy=str(latency),
                     baseline=osp.join(configs_dir, 'scaling', 'deit_width.yaml'),
                     flops_ratio=0.5, latency_ratio=0.7, epochs=1, min_epochs=1,
                     time_budget=30, out=str(out), rounds=2)
    log = []
    result = run_demo(s, log=log.append, command='python tools/demo.py (test)')
    report = (out / 'report.md').read_text()
    assert (out / 'pareto.png').read_bytes()[:4] == b'\x89PNG'
    assert 'python tools/demo.py (test)' in report and any('training 1/' in m for m in log)
    record = json.loads((out / 'demo.json').read_text())
    names = [e['name'] for e in record['entries']]
    assert names == ['base', 'scaled-flops', 'baseline-flops', 'scaled-latency', 'baseline-latency']
    for e in record['entries']:
        # Accuracy: the last validation mmengine logged for that run; latency: measured here.
        run = json.loads(open(osp.join(osp.dirname(e['source']), 'result.json')).read())
        logged = last_metrics(osp.join(e['source'], 'vis_data', 'scalars.json'))
        assert e['metric'] == logged['accuracy/top1'] == run['metrics']['accuracy/top1']
        assert e['latency_ms'] == run['latency_ms'] > 0
        assert f'{e["metric"]:.2f} |' in report
    budgets = {e['name']: e for e in record['entries']}
    base_flops = budgets['base']['flops']
    for name in ('scaled-flops', 'baseline-flops'):
        assert budgets[name]['flops'] <= 0.5 * base_flops
    assert result['wall_seconds'] > 0
