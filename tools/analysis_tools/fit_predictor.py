"""Fit a latency predictor for this machine: sample scaled DeiT configurations, measure each,
fit on part of them and report the error on the held-out rest.

    python tools/analysis_tools/fit_predictor.py [--num 160] [--seed 0] [--batch-size 1]
        [--backend torch|onnxruntime] [--threads N] [--clock wall|cpu] [--statistic median|best]
        [--passes N] [--holdout 0.25] [--out work_dirs/predictor/local.json] [--data FILE.csv]

The measurements are saved next to the predictor (``<out>.csv``); ``--data`` refits from such a
file without measuring again. On a machine shared with other work, ``--threads 1 --clock cpu
--statistic best --passes 2`` keeps the measurements repeatable (see docs/cost.md).
"""
import argparse
import json
import os
import os.path as osp
import time
import warnings

from vit_scaled.cli import run_cli
from vit_scaled.cost.config import BadInput
from vit_scaled.cost.measure import BACKENDS, CLOCKS, NoisyMeasurementWarning, default_threads
from vit_scaled.cost.predictor import (STATISTICS, fit_and_evaluate, load_measurements,
                                       measure_archs, sample_deit_archs, save_measurements)
from vit_scaled.scaling.space import describe


def parse_args():
    parser = argparse.ArgumentParser(description='Fit a latency predictor on measured configurations')
    parser.add_argument('--num', type=int, default=160, help='configurations to sample and measure')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument('--backend', default='torch', help=f'one of {", ".join(BACKENDS)}')
    parser.add_argument('--threads', type=int, help='CPU threads (default: the CPUs available)')
    parser.add_argument('--clock', default='wall',
                        help="wall, or cpu: one thread's CPU time (needs --threads 1)")
    parser.add_argument('--statistic', default='median',
                        help='latency of a config: median call, or best (robust on a busy machine)')
    parser.add_argument('--rounds', type=int, default=5, help='repeated measurements per config')
    parser.add_argument('--passes', type=int, default=1,
                        help='measure the whole sample this many times (interleaved)')
    parser.add_argument('--holdout', type=float, default=0.25, help='share held out for the report')
    parser.add_argument('--out', default='work_dirs/predictor/local.json')
    parser.add_argument('--data', help='refit from this measurements CSV instead of measuring')
    return parser.parse_args()


def check_args(args):
    choices = (('backend', BACKENDS), ('clock', CLOCKS), ('statistic', STATISTICS))
    for name, valid in choices:
        if getattr(args, name) not in valid:
            raise BadInput(f'--{name} {getattr(args, name)!r} is invalid: choose one of '
                           f'{", ".join(valid)}')
    if args.clock == 'cpu' and args.threads != 1:
        raise BadInput('--clock cpu times one CPU thread: add --threads 1')
    if not 0 < args.holdout < 1:
        raise BadInput(f'--holdout {args.holdout} is invalid: expected a share between 0 and 1')
    if args.num < 8 or min(args.batch_size, args.passes, args.rounds, args.threads or 1) <= 0:
        raise BadInput('--num must be at least 8; --batch-size, --passes, --rounds and --threads '
                       'positive')
    if args.data and not osp.isfile(args.data):
        raise BadInput(f'--data {args.data!r} does not exist')


def measure_sample(args, threads):
    from vit_scaled.families import family_of
    archs = sample_deit_archs(args.num, args.seed)
    t0 = time.time()

    def progress(i, n, a, latency):
        print(f'[{i + 1}/{n}] {describe(a)}: {latency:.2f} ms ({time.time() - t0:.0f} s)',
              flush=True)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', NoisyMeasurementWarning)
        ms = measure_archs(archs, lambda a: family_of(a).build(a), args.batch_size, args.backend,
                           threads, progress, args.statistic, args.passes, warmup=3,
                           rounds=args.rounds, round_s=0.2, clock=args.clock)
    return archs, ms


def main():
    args = parse_args()
    check_args(args)
    threads = args.threads or default_threads()
    if args.data:
        try:
            archs, ms = load_measurements(args.data)
        except (KeyError, ValueError) as e:
            raise BadInput(f'--data {args.data!r} is not a measurements file of this tool: {e}') from e
    else:
        archs, ms = measure_sample(args, threads)
        os.makedirs(osp.dirname(args.out) or '.', exist_ok=True)
        save_measurements(osp.splitext(args.out)[0] + '.csv', archs, ms)
    meta = dict(device='local', backend=args.backend, threads=threads, clock=args.clock,
                statistic=args.statistic, passes=args.passes, data=args.data,
                created=time.strftime('%Y-%m-%d %H:%M:%S'))
    pred, held = fit_and_evaluate(archs, ms, args.batch_size, args.holdout, args.seed, meta)
    os.makedirs(osp.dirname(args.out) or '.', exist_ok=True)
    pred.save(args.out)
    for name, key in (('train', 'train_metrics'), ('held-out', 'heldout_metrics')):
        m = pred.meta[key]
        print(f'{name}: n={m["n"]} MAPE {m["mape"]:.2f}%  within ±10% {m["within_10"]:.1f}%  '
              f'Kendall tau {m["kendall_tau"]:.3f}')
    print(f'saved {args.out}')
    print(json.dumps(held))


if __name__ == '__main__':
    run_cli(main, BadInput)
