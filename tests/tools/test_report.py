"""The accuracy-vs-cost report (table, Pareto plot, collecting mmengine work dirs) and
publishing a checkpoint."""
import json
import os
import os.path as osp
import runpy
import sys

import pytest
import torch

from vit_scaled.publish import RESUME_ONLY, publish, sha256_of
from vit_scaled.report import (Entry, collect, last_metrics, markdown_table, pareto_front,
                               pareto_plot, write_report)



def entries():
    return [Entry('a', 'scaled', 'I16 d6 h3 e64 r4', 40e6, 2e6, 1.0, 90.0, budget='flops=46M'),
            Entry('b', 'scaled', 'I12 d8 h3 e64 r4', 45e6, 2.5e6, 1.2, 93.0),
            Entry('c', 'baseline', 'I16 d12 h2 e64 r4', 41e6, 2.4e6, 1.1, 88.5),
            Entry('d', 'baseline', None, 90e6, 5e6, None, 95.0)]


def test_pareto_front():
    pts = [(1, 50), (2, 40), (3, 60), (4, 60), (0.5, 10)]
    assert pareto_front(pts) == [4, 0, 2]


def test_markdown_table_and_plot(tmp_path):
    es = entries()
    md = markdown_table(es)
    lines = md.splitlines()
    assert len(lines) == 2 + len(es) and 'latency (ms)' in lines[0]
    assert '| a | scaled | flops=46M | I16 d6 h3 e64 r4 | 40.0M | 2.000M | 1.00 | 90.00 |' in md
    assert '| - | 95.00 |' in md  # a missing latency is shown, not invented
    png = pareto_plot(es, str(tmp_path / 'p.png'), 'title')
    with open(png, 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'
    paths = write_report(es, str(tmp_path / 'r'), 'T', 'pre', 'post')
    text = open(paths['report']).read()
    assert text.startswith('# T') and 'pareto.png' in text and 'pre' in text
    assert len(json.load(open(paths['results']))) == len(es)


def _fake_run(work_dir, stamp, top1, config_text):
    vis = osp.join(work_dir, stamp, 'vis_data')
    os.makedirs(vis)
    with open(osp.join(vis, 'scalars.json'), 'w') as f:
        f.write(json.dumps({'lr': 1e-3, 'loss': 2.0, 'epoch': 1, 'iter': 10, 'step': 10}) + '\n')
        f.write(json.dumps({'accuracy/top1': top1 - 5, 'accuracy/top5': 99.0, 'step': 1}) + '\n')
        f.write(json.dumps({'accuracy/top1': top1, 'accuracy/top5': 99.5, 'step': 2}) + '\n')
    with open(osp.join(vis, 'config.py'), 'w') as f:
        f.write(config_text)


def test_collect_work_dirs(tmp_path, monkeypatch, capsys, root, digits_config):
    cfg = (f"_base_ = [{digits_config!r}]\n"
           "model = dict(backbone=dict(arch=dict(_delete_=True, depth=6, num_heads=3, "
           "head_dim=64, mlp_ratio=4.0), img_size=16))\n")
    _fake_run(str(tmp_path / 'wd' / 'small'), '20260101_000000', 80.0, cfg)
    _fake_run(str(tmp_path / 'wd' / 'small'), '20260102_000000', 91.0, cfg)   # the newer run wins
    _fake_run(str(tmp_path / 'wd' / 'other'), '20260101_000000', 70.0, 'model = dict(type="X")\n')
    os.makedirs(tmp_path / 'wd' / 'empty')
    found = collect([str(tmp_path / 'wd' / '*')])
    assert [e.name for e in found] == ['other', 'small']
    small = found[1]
    assert small.metric == 91.0 and small.desc == 'I16 d6 h3 e64 r4'
    assert 45e6 < small.flops < 47e6 and small.params > 0 and small.latency_ms is None
    assert found[0].metric == 70.0 and found[0].flops is None  # not our backbone: accuracy only
    # The CLI writes the same table and plot.
    monkeypatch.setattr(sys, 'argv', ['tools/report.py', str(tmp_path / 'wd' / '*'),
                                      '--out', str(tmp_path / 'rep')])
    runpy.run_path(osp.join(root, 'tools', 'report.py'), run_name='__main__')
    assert '| small |' in capsys.readouterr().out
    assert (tmp_path / 'rep' / 'pareto.png').exists()
    assert 'tools/report.py' in (tmp_path / 'rep' / 'report.md').read_text()


def test_last_metrics_ignores_a_cut_line(tmp_path):
    p = tmp_path / 'scalars.json'
    p.write_text('{"accuracy/top1": 50, "step": 1}\n{"accuracy/top1": 6')
    assert last_metrics(str(p)) == {'accuracy/top1': 50, 'step': 1}


def test_publish_strips_resume_state_and_names_by_hash(tmp_path):
    ckpt = {'meta': {'epoch': 3, 'hook_msgs': {'last_ckpt': 'x'}},
            'state_dict': {'w': torch.ones(3)},
            'optimizer': {'state': {0: torch.ones(3)}}, 'param_schedulers': [{}],
            'message_hub': {'log_scalars': {}}}
    src = tmp_path / 'epoch_3.pth'
    torch.save(ckpt, src)
    out = publish(str(src), str(tmp_path / 'pub' / 'deit-digits'))
    name = osp.basename(out)
    assert name.startswith('deit-digits-') and name.endswith('.pth')
    assert name[len('deit-digits-'):-4] == sha256_of(out)[:8]
    loaded = torch.load(out, weights_only=True)
    assert not set(RESUME_ONLY) & set(loaded)
    assert torch.equal(loaded['state_dict']['w'], torch.ones(3))
    assert loaded['meta'] == {'epoch': 3}
    assert os.listdir(tmp_path / 'pub') == [name]  # no temporary file left behind


def test_publish_failure_leaves_no_file(tmp_path):
    src = tmp_path / 'bad.pth'
    torch.save({'weights': torch.ones(1)}, src)
    with pytest.raises(ValueError, match='no state_dict'):
        publish(str(src), str(tmp_path / 'out' / 'm.pth'))
    assert not os.listdir(tmp_path / 'out')


def test_publish_names_a_truncated_checkpoint(tmp_path):
    src = tmp_path / 'epoch_1.pth'
    torch.save({'state_dict': {'w': torch.ones(1000)}}, src)
    src.write_bytes(src.read_bytes()[:300])
    with pytest.raises(ValueError, match=r"checkpoint '.*epoch_1\.pth'"):
        publish(str(src), str(tmp_path / 'out' / 'm.pth'))
    assert not (tmp_path / 'out').exists() or not os.listdir(tmp_path / 'out')


# -- pose runs and the training-memory column ----------------------------------------------------
POSE_SMALL = osp.join('vitpose', 'vitpose_deit-d4_synth-128x96.py')


def test_memory_column_and_ap_format():
    es = entries()
    es[0].train_mem_mb, es[0].train_mem_batch = 812.4, 8
    es.append(Entry('p', 'pose', 'I128x96 d4 h3 e64 r4', 0.2e9, 1e6, None, 0.8123,
                    metric_name='coco/AP'))
    md = markdown_table(es)
    assert 'train-step peak (MB, batch 8)' in md.splitlines()[0]
    assert '| 1.00 | 812 | 90.00 |' in md and '| - | - | 95.00 |' in md  # none measured: '-'
    assert md.splitlines()[-1].endswith('| - | - | 0.812 |')           # AP as a fraction
    assert 'train-step' not in markdown_table(entries())  # no figure, no column


def _fake_pose_run(work_dir, aps, config):
    vis = osp.join(work_dir, '20260101_000000', 'vis_data')
    os.makedirs(vis)
    with open(osp.join(vis, 'scalars.json'), 'w') as f:
        f.write(json.dumps({'lr': 1e-3, 'loss': 0.002, 'epoch': 1, 'iter': 10, 'step': 10}) + '\n')
        for step, ap in enumerate(aps):
            f.write(json.dumps({'coco/AP': ap, 'coco/AP .5': 0.99, 'coco/AR': ap + 0.02,
                                'step': step + 1}) + '\n')
    with open(osp.join(vis, 'config.py'), 'w') as f:
        f.write(f'_base_ = [{config!r}]\n')


def test_pose_run_with_measured_training_memory(tmp_path, run_script, configs_dir):
    from vit_scaled import deit_arch
    from vit_scaled.cost.analytic import analytic_cost
    _fake_pose_run(str(tmp_path / 'wd' / 'pose'), [0.41, 0.77], osp.join(configs_dir, POSE_SMALL))
    code, out, err = run_script('tools/report.py', str(tmp_path / 'wd' / '*'), '--out',
                                str(tmp_path / 'rep'), '--train-memory', '--memory-batch', 16)
    assert code in (0, None), err
    row = next(line for line in out.splitlines() if line.startswith('| pose |'))
    cells = [c.strip() for c in row.strip('|').split('|')]
    assert 'train-step peak (MB, batch 16)' in out and cells[-1] == '0.770'  # the last validation
    arch = deit_arch(dict(depth=4, num_heads=3, head_dim=64, mlp_ratio=4.0), (128, 96))
    assert cells[4] == f'{analytic_cost(arch, 1).flops / 1e6:.1f}M'        # the backbone's FLOPs
    res = json.load(open(tmp_path / 'rep' / 'results.json'))[0]
    assert res['metric_name'] == 'coco/AP' and res['train_mem_batch'] == 16
    # the backbone's weights, gradients and AdamW's two moments alone take 16 bytes a parameter,
    # and 16 crops' activations add to them; the interpreter and libraries (> 300 MB) do not count
    assert 16 * res['params'] / 2 ** 20 < res['train_mem_mb'] < 300
    assert 'training-step peak memory measured here' in (tmp_path / 'rep' / 'report.md').read_text()


def test_bad_memory_batch_is_named(tmp_path, run_script):
    code, _, err = run_script('tools/report.py', str(tmp_path), '--memory-batch', 0)
    assert code == 2 and 'error: --memory-batch 0 is invalid' in err


def test_video_run_top1_against_flops_and_latency_per_clip(tmp_path, run_script, configs_dir):
    from vit_scaled.arch import video_deit_arch
    from vit_scaled.cost.analytic import analytic_cost
    config = osp.join(configs_dir, 'timesformer', 'timesformer_divST_deit-micro_1xb16-motion-small.py')
    vis = tmp_path / 'wd' / 'video' / '20260101_000000' / 'vis_data'
    os.makedirs(vis)
    (vis / 'scalars.json').write_text(
        json.dumps({'loss': 1.3, 'epoch': 1, 'iter': 30, 'step': 30}) + '\n'
        + json.dumps({'acc/top1': 0.875, 'acc/top5': 1.0, 'step': 15}) + '\n')
    (vis / 'config.py').write_text(f'_base_ = [{config!r}]\n')
    code, out, err = run_script('tools/report.py', str(tmp_path / 'wd' / '*'), '--out',
                                str(tmp_path / 'rep'), '--measure', '--clock', 'cpu')
    assert code in (0, None), err
    cells = [c.strip() for c in next(line for line in out.splitlines()
                                     if line.startswith('| video |')).strip('|').split('|')]
    arch = video_deit_arch(dict(depth=2, num_heads=2, head_dim=32, mlp_ratio=4.0), 8,
                           'divided_space_time', 32, 8)
    assert cells[4] == f'{analytic_cost(arch, 1).flops / 1e6:.1f}M'   # one clip's FLOPs
    assert float(cells[6]) > 0                                        # a clip's latency, measured
    assert cells[-1] == '0.8750'                                      # mmaction2's 4 decimals
    assert 'one thread, CPU-time clock' in (tmp_path / 'rep' / 'report.md').read_text()
