"""Why a linear latency model on analytic costs fits one thread but not all of them: (1) the rate
of a GEMM per thread depends on its size, so at N threads time is not proportional to
multiply-adds; (2) rounds of the same measurement disagree more at N threads than at one.
Prints the load average before and after, since on a shared machine both depend on it.

    .venv/bin/python benchmarks/thread_efficiency.py [--threads N] [--configs 8] [--seed 7]

(1) ``nn.Linear(C, 4C)`` on 197 tokens (DeiT's MLP at 224 px) and the attention product
``(h, 197, e) @ (h, e, 197)``, median of 5 rounds of about 0.2 s, at 1 and N threads: G
multiply-adds/s and the speed-up. (2) ``--configs`` configurations of the predictor's sample
(``fit_predictor.py --seed``), each timed as that tool times it (3 warm-up calls, 5 rounds of
about 0.2 s, wall clock) at 1 and at N threads, one after the other: the spread of the rounds
(max/min - 1) of each.
"""
import argparse
import os
import statistics
import warnings

import torch

from vit_scaled.cost.latency_table import path_timer
from vit_scaled.cost.measure import (NoisyMeasurementWarning, default_threads, measure,
                                     torch_threads)
from vit_scaled.cost.predictor import sample_deit_archs
from vit_scaled.scaling.space import describe


class _MatMul(torch.nn.Module):
    def forward(self, q, k):
        return q @ k


def rate(module, x, threads, macs, kwargs=None) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', NoisyMeasurementWarning)
        m = measure(module, x, threads=threads, warmup=3, rounds=5, round_s=0.2, kwargs=kwargs)
    return macs / m.latency_ms / 1e6  # G multiply-adds per second


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--threads', type=int, default=default_threads())
    p.add_argument('--configs', type=int, default=8)
    p.add_argument('--seed', type=int, default=7)
    args = p.parse_args()
    n = args.threads
    print(f'load average {os.getloadavg()[0]:.2f}; {n} threads against 1')
    print(f'\noperator | G MAC/s 1 thread | G MAC/s {n} threads | speed-up')
    with torch.inference_mode():
        for c in (64, 128, 192, 256, 384, 512):
            lin, x = torch.nn.Linear(c, 4 * c).eval(), torch.randn(1, 197, c)
            r1, rn = (rate(lin, x, t, 197 * c * 4 * c) for t in (1, n))
            print(f'Linear {c}->{4 * c} | {r1:.1f} | {rn:.1f} | {rn / r1:.2f}x')
        for h, e in ((2, 32), (4, 64), (8, 64)):
            q, k = torch.randn(h, 197, e), torch.randn(h, e, 197)
            r1, rn = (rate(_MatMul(), q, t, h * 197 * 197 * e, {'k': k}) for t in (1, n))
            print(f'QK^T h{h} e{e} | {r1:.1f} | {rn:.1f} | {rn / r1:.2f}x')
    print(f'\nconfiguration | spread 1 thread | spread {n} threads')
    spreads = {1: [], n: []}
    for arch in sample_deit_archs(args.configs, args.seed):
        cells = []
        for t in (1, n):
            with torch_threads(t):
                m = path_timer(threads=t, warmup=3, rounds=5, round_s=0.2)(arch)
            spreads[t].append(m.spread)
            cells.append(f'{100 * m.spread:.1f}% ({m.latency_ms:.1f} ms)')
        print(f'{describe(arch)} | ' + ' | '.join(cells))
    print('median | ' + ' | '.join(f'{100 * statistics.median(spreads[t]):.1f}%' for t in (1, n)))
    print(f'\nload average {os.getloadavg()[0]:.2f}')


if __name__ == '__main__':
    main()
