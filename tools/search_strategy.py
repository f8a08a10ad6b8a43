"""Search a scaling strategy: sample around the model, proxy-train, fit, step toward the budget.

    python tools/search_strategy.py CONFIG --budget flops=0.5x [--device NAME]
        [--samples 6] [--steps 3] [--proxy-epochs 3] [--radius 0.3] [--dims img_size depth ...]
        [--seed 0] [--work-dir work_dirs/search/NAME] [--out STRATEGY.yaml] [--name NAME]

The budget is absolute (flops=50M, latency=2ms) or relative to the config's model (flops=0.5x).
Every candidate is appended to WORK_DIR/candidates.jsonl as it finishes (also candidates.csv at
the end); run the same command again after an interruption and it resumes, training only the
candidates that are not in the table yet.
"""
import argparse
import os.path as osp

import vit_scaled  # noqa: F401  (registers the modules)
from vit_scaled.cli import command_line, run_cli
from vit_scaled.scaling import DIMS, BudgetError, StrategyError
from vit_scaled.scaling.search import search_config


def parse_args():
    p = argparse.ArgumentParser(description='Search a scaling strategy (the study\'s method)')
    p.add_argument('config',
                   help='a classification config: its model is the base, its data the proxy')
    p.add_argument('--budget', required=True,
                   help='flops=..., params=..., latency=...ms, or KIND=Rx (R times the base)')
    p.add_argument('--device',
                   help='for latency: measured (default), v100, jetson-tx2, pixel3-cpu, local')
    p.add_argument('--samples', type=int, default=6, help='sampled configurations per step')
    p.add_argument('--steps', type=int, default=3, help='steps from the base to the budget')
    p.add_argument('--proxy-epochs', type=int, default=3, help='epochs of each proxy training')
    p.add_argument('--radius', type=float, default=0.3, help='sampling half-width, log units')
    p.add_argument('--dims', nargs='+', default=list(DIMS), help=f'dimensions searched ({DIMS})')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--work-dir', help='table and runs (default work_dirs/search/<config>_<budget>)')
    p.add_argument('--out', help='the strategy file (default WORK_DIR/strategy.yaml)')
    p.add_argument('--name', default='', help='the strategy\'s name')
    return p.parse_args()


def main():
    args = parse_args()
    tag = args.budget.replace('=', '-').replace('.', 'p')
    work_dir = args.work_dir or osp.join(
        'work_dirs', 'search', f'{osp.splitext(osp.basename(args.config))[0]}_{tag}'
        + (f'_{args.device}' if args.device else ''))
    settings = dict(samples=args.samples, steps=args.steps, proxy_epochs=args.proxy_epochs,
                    radius=args.radius, dims=tuple(args.dims), seed=args.seed)
    search_config(args.config, args.budget, work_dir, out=args.out, settings=settings,
                  device=args.device, name=args.name, command=command_line())


if __name__ == '__main__':
    run_cli(main, BudgetError, StrategyError)
