"""ViTPose at stride 8 (32 x 24 tokens at 256 x 192): the whole pose model's latency and
training-step peak memory with global attention, shifted pooling windows, and ViTDet's layout
(windows, every fourth block global), measured side by side in one run.

    python benchmarks/pose_attention.py [--threads 2] [--rounds 7] [--batch 1] [--memory-batch 4]
        [--small]   # the small-set configs (128 x 96, 4 blocks) instead of the COCO ones

Latency: forward passes in eval mode (the backbone, the decoder; no flip), the three models
alternating call by call within every round; the ratio printed is the median over rounds of each
round's own ratio to global attention. Memory: the peak resident memory of one training step of
the whole model (AdamW with the config's layer decay, gradients, activations), each in a fresh
process (vit_scaled.report.train_step_memory), repeated ``--memory-repeats`` times alternating
the models; the median is printed.
"""
import argparse
import os.path as osp
import statistics
import sys

import torch

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

from vit_scaled.cost.analytic import backbone_cost  # noqa: E402
from vit_scaled.cost.config import build_model, model_inputs  # noqa: E402
from vit_scaled.cost.measure import time_interleaved, torch_runner  # noqa: E402
from vit_scaled.report import train_step_memory  # noqa: E402

VARIANTS = {
    'coco': [('global', 'vitpose_deit-small-s8_coco-256x192.py'),
             ('window+shift+pool', 'vitpose_deit-small-s8-win8-shift-pool_coco-256x192.py'),
             ('ViTDet layout', 'vitpose_deit-small-s8-win8-vitdet_coco-256x192.py')],
    'small': [('global', 'vitpose_deit-d4-s8_synth-128x96.py'),
              ('window+shift+pool', 'vitpose_deit-d4-s8-win4-shift-pool_synth-128x96.py'),
              ('ViTDet layout', 'vitpose_deit-d4-s8-win4-vitdet_synth-128x96.py')],
}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--rounds', type=int, default=7)
    p.add_argument('--batch', type=int, default=1, help='batch of the timed forward passes')
    p.add_argument('--memory-batch', type=int, default=4, help='batch of the training step')
    p.add_argument('--memory-repeats', type=int, default=2)
    p.add_argument('--small', action='store_true', help='the small-set configs')
    return p.parse_args()


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    variants = VARIANTS['small' if args.small else 'coco']
    configs = [osp.join(ROOT, 'configs', 'vitpose', c) for _, c in variants]
    runs, flops = [], []
    for path in configs:
        _, model = build_model(path)
        arch = model.backbone.arch
        x, kwargs = model_inputs(model, (3, *arch.img_size), args.batch)
        runs.append(torch_runner(model, x, kwargs))
        flops.append(backbone_cost(model, 1, arch.img_size).flops)
    times, iters = time_interleaved(runs, rounds=args.rounds, round_s=1.0)
    per_round = [[statistics.median(calls) for calls in rnd] for rnd in times]
    memory = {i: [] for i in range(len(configs))}
    for r in range(args.memory_repeats):
        order = range(len(configs)) if r % 2 == 0 else reversed(range(len(configs)))
        for i in order:
            memory[i].append(train_step_memory(configs[i], args.memory_batch, args.threads)['peak_mb'])

    grid = model.backbone.arch.grid
    print(f'ViTPose stride 8, {len(variants)} attention kinds, grid {grid[0]} x {grid[1]}; '
          f'torch {torch.__version__}, {args.threads} threads; latency: batch {args.batch}, '
          f'{args.rounds} rounds x {iters} calls each, interleaved; memory: training step at batch '
          f'{args.memory_batch}, median of {args.memory_repeats} fresh processes')
    print(f'{"attention":<20}{"config":<58}{"backbone GFLOPs":>16}{"latency ms":>12}'
          f'{"x global":>10}{"train MB":>10}{"x global":>10}')
    for i, (name, cfg) in enumerate(variants):
        ms = statistics.median(r[i] for r in per_round)
        ratio = statistics.median(r[i] / r[0] for r in per_round)
        mb = statistics.median(memory[i])
        print(f'{name:<20}{cfg:<58}{flops[i] / 1e9:>16.2f}{ms:>12.1f}{ratio:>10.3f}{mb:>10.0f}'
              f'{mb / statistics.median(memory[0]):>10.3f}')
    spread = [max(r[i] / r[0] for r in per_round) / min(r[i] / r[0] for r in per_round) - 1
              for i in range(1, len(variants))]
    print(f'rounds\' latency ratios disagree by at most {100 * max(spread):.1f}%')


if __name__ == '__main__':
    main()
