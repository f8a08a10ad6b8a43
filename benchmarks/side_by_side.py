"""Throughput of several models measured side by side: the models take turns call by call,
so a burst of machine noise hits all of them alike. The ratio printed is the median of
the rounds' own ratios (each round pairs the models' timings, taken back to back)."""
import argparse
import os
import statistics
import sys
from typing import Callable, Dict, Sequence

import torch

from vit_scaled.cost.measure import time_interleaved


@torch.inference_mode()
def compare(models: Dict[str, torch.nn.Module], make_input: Callable[[int], torch.Tensor],
            batch_sizes: Sequence[int] = (1, 32), rounds: int = 15, min_time: float = 0.5) -> dict:
    """images/s per model and batch size: median over ``rounds`` rounds of the project's one
    timing loop (``cost.measure.time_interleaved``: the models' calls alternate, so a burst of
    noise hits them alike), and each round's own figure, for the paired ratio."""
    results = {}
    for bs in batch_sizes:
        x = make_input(bs)
        runs = [lambda m=m.eval(): m(x) for m in models.values()]
        # a round of ``min_time`` per model: the loop sizes rounds by the sum of the runs' calls
        times, _ = time_interleaved(runs, warmup=1, rounds=rounds,
                                    round_s=min_time * len(models))
        samples = {name: [bs * 1000 / statistics.mean(rnd[i]) for rnd in times]
                   for i, name in enumerate(models)}
        results[bs] = {name: statistics.median(s) for name, s in samples.items()}
        results[bs]['_samples'] = samples
    return results


def report(title: str, results: dict, ours: str, ref: str) -> None:
    print(f'{title}  (torch {torch.__version__}, threads={torch.get_num_threads()}, '
          f'{malloc_mode()})')
    print(f'{"batch":>5}  {ours + " img/s":>18}  {ref + " img/s":>18}  {"ratio":>6}  '
          'rounds\' ratios min..max')
    for bs, r in results.items():
        s = r['_samples']
        each = [a / b for a, b in zip(s[ours], s[ref])]  # a round's own ratio: drift cancels
        print(f'{bs:>5}  {r[ours]:>18.1f}  {r[ref]:>18.1f}  {statistics.median(each):>6.3f}  '
              f'{min(each):.3f}..{max(each):.3f}')


# glibc hands every buffer above 32 MB (activations at batch 32) back to the kernel when it is
# freed, so each call page-faults such outputs afresh. That is what a user's process does, so it
# is the default here; --stable-malloc keeps freed memory in the heap instead, which removes that
# cost (and its noise) for both models and leaves the kernels alone to compare.
STABLE_MALLOC = {'MALLOC_MMAP_MAX_': '0', 'MALLOC_TRIM_THRESHOLD_': str(1 << 40)}


def malloc_mode() -> str:
    stable = all(os.environ.get(k) == v for k, v in STABLE_MALLOC.items())
    return 'glibc malloc: no mmap, no trim' if stable else 'system malloc'


def parse_args(description: str, extra=None) -> argparse.Namespace:
    """The common options; ``extra(parser)`` adds a benchmark's own."""
    parser = argparse.ArgumentParser(description=description)
    if extra is not None:
        extra(parser)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--rounds', type=int, default=15)
    parser.add_argument('--quick', action='store_true', help='few rounds, for a smoke run')
    parser.add_argument('--stable-malloc', action='store_true',
                        help='keep freed memory in the heap (compares the kernels alone)')
    args = parser.parse_args()
    if args.stable_malloc and malloc_mode() == 'system malloc':
        os.execve(sys.executable, [sys.executable] + sys.argv, {**os.environ, **STABLE_MALLOC})
    if args.quick:
        args.rounds = 3
    torch.set_num_threads(args.threads)
    return args
