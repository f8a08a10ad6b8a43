"""tools/report.py on Deformable DETR runs: box mAP against the backbone's analytic FLOPs and its
measured latency, the table and plot of the small-set transfer (docs/detection.md)."""
import json
import os.path as osp

from vit_scaled import deit_arch
from vit_scaled.cost.analytic import analytic_cost

SMALL = {'deit-tiny': ('deformable-detr-refine-twostage_deit-tiny_1xb8-24e_small.py',
                       dict(depth=4, num_heads=3, head_dim=64, mlp_ratio=4.0)),
         'deit-scaled': ('deformable-detr-refine-twostage_deit-scaled_1xb8-24e_small.py',
                         dict(depth=5, num_heads=2, head_dim=72, mlp_ratio=6.5))}


def _detection_run(work_dir, maps, config):
    """What mmengine leaves after a detection training: scalars.json with a train line and one
    line per validation (mmdet's CocoMetric names), and the config beside it."""
    vis = work_dir / '20260101_000000' / 'vis_data'
    vis.mkdir(parents=True)
    lines = [{'loss': 9.1, 'epoch': 1, 'iter': 20, 'step': 20}]
    lines += [{'coco/bbox_mAP': m, 'coco/bbox_mAP_50': min(1.0, 2 * m), 'step': i + 1}
              for i, m in enumerate(maps)]
    (vis / 'scalars.json').write_text(''.join(json.dumps(x) + '\n' for x in lines))
    (vis / 'config.py').write_text(f'_base_ = [{config!r}]\n')


def test_box_map_against_backbone_flops_and_measured_latency(tmp_path, run_script, configs_dir):
    for (name, (config, _)), maps in zip(SMALL.items(), ([0.01, 0.123], [0.02, 0.234])):
        _detection_run(tmp_path / 'wd' / name, maps,
                       osp.join(configs_dir, 'deformable_detr', config))
    code, out, err = run_script('tools/report.py', str(tmp_path / 'wd' / '*'), '--out',
                                str(tmp_path / 'rep'), '--measure')
    assert code in (0, None), err
    assert 'coco/bbox_mAP' in out.splitlines()[0]
    for (name, (_, arch)), last in zip(SMALL.items(), ('0.123', '0.234')):
        cells = [c.strip() for c in next(line for line in out.splitlines()
                                         if line.startswith(f'| {name} |')).strip('|').split('|')]
        flops = analytic_cost(deit_arch(arch, (160, 160)), 1).flops
        assert cells[4] == f'{flops / 1e6:.1f}M'   # the backbone's, at the config's 160 x 160
        assert float(cells[6]) > 0                 # measured here
        assert cells[-1] == last                   # the last validation, a fraction
    assert (tmp_path / 'rep' / 'pareto.png').stat().st_size > 0
    res = {r['name']: r for r in json.load(open(tmp_path / 'rep' / 'results.json'))}
    assert res['deit-scaled']['metric_name'] == 'coco/bbox_mAP'
