"""Backbone latency of the DeiT-Tiny Deformable DETR config at 800 x 1333: global attention in
every block against ViTDet's windows (14 x 14, global blocks 2, 5, 8, 11), the same weights in
both (the relative-position tables of a 224 model are sized 2 x 14 - 1 either way), measured
side by side in interleaved rounds; the ratio is the median of the rounds' own ratios.

    .venv/bin/python benchmarks/detr_backbone_window.py [--threads 2] [--rounds 15] [--quick]
        [--size 800 1333]   (another size only to try the script quickly: the issue's is 800 x 1333)
"""
import copy
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
from side_by_side import compare, parse_args, report  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(ROOT, 'configs', 'deformable_detr',
                      'deformable-detr_deit-tiny-vitdet_16xb2-50e_coco.py')


def main():
    args = parse_args(__doc__, lambda p: p.add_argument('--size', type=int, nargs=2,
                                                        default=(800, 1333), metavar=('H', 'W')))
    torch.set_num_threads(args.threads)
    from mmengine.config import Config
    from mmengine.registry import MODELS
    import vit_scaled  # noqa: F401  (registers DeiTScaled)

    cfg = Config.fromfile(CONFIG).model.backbone.to_dict()
    cfg.pop('init_cfg')
    windowed = MODELS.build(copy.deepcopy(cfg)).eval()
    glob = MODELS.build(dict(cfg, window_size=0, window_block_indexes=None)).eval()
    glob.load_state_dict(windowed.state_dict())   # fails if a weight's shape differs
    h, w = args.size
    gh, gw = h // 16, w // 16
    print(f'input {h} x {w}: {gh} x {gw} = {gh * gw} patches; windows of 14 x 14 in blocks '
          f'{list(windowed.arch.window_block_indexes)}')
    results = compare({'windowed': windowed, 'global': glob},
                      lambda bs: torch.randn(bs, 3, h, w), batch_sizes=(1, ),
                      rounds=args.rounds, min_time=1.0)
    for name in ('windowed', 'global'):
        print(f'{name}: {1000 / results[1][name]:.0f} ms per image (median of the rounds)')
    report(f'DeiT-Tiny backbone at {h} x {w}, ViTDet windows vs global (ratio = windowed / '
           'global images/s: above 1, windows are faster)', results, 'windowed', 'global')


if __name__ == '__main__':
    main()
