"""The main job (`make demo`): scale the digits DeiT-Tiny-like model for this machine under a
FLOPs budget and a measured-latency budget, train the family briefly, report accuracy vs cost
beside the naive DeiT (width-only) scaling. Output under work_dirs/demo/ (report.md, pareto.png).

    python tools/demo.py [--epochs N] [--time-budget 13] [--flops-ratio 0.5]
        [--latency-ratio 0.5] [--out DIR]
        [--strategy FILE] [--latency-strategy FILE] [--baseline FILE] [--search]

--search first finds the strategies with tools/search_strategy.py's method on the same data
(much longer than the default run, which applies the strategy files in configs/scaling/).
"""
import argparse

import vit_scaled  # noqa: F401  (registers the modules)
from vit_scaled.cli import command_line
from vit_scaled.scaling.demo import DemoSettings, run_demo, search_strategies


def parse_args():
    d = DemoSettings()
    p = argparse.ArgumentParser(description='Scale, train and report on the digits data')
    p.add_argument('--config', default=d.config)
    p.add_argument('--strategy', default=d.strategy, help='strategy for the FLOPs budget')
    p.add_argument('--latency-strategy', default=d.latency_strategy,
                   help='strategy for the latency budget')
    p.add_argument('--baseline', default=d.baseline, help='the naive scaling compared against')
    p.add_argument('--flops-ratio', type=float, default=d.flops_ratio)
    p.add_argument('--latency-ratio', type=float, default=d.latency_ratio)
    p.add_argument('--epochs', type=int, default=d.epochs,
                   help="training epochs per model, at most (default: the config's schedule)")
    p.add_argument('--min-epochs', type=int, default=d.min_epochs)
    p.add_argument('--time-budget', type=float, default=d.time_budget,
                   help='minutes for the whole run; fewer epochs when this machine is slow')
    p.add_argument('--out', default=d.out)
    p.add_argument('--seed', type=int, default=d.seed)
    p.add_argument('--search', action='store_true', help='find the strategies first (long)')
    return p.parse_args()


def main():
    args = parse_args()
    s = DemoSettings(config=args.config, strategy=args.strategy,
                     latency_strategy=args.latency_strategy, baseline=args.baseline,
                     flops_ratio=args.flops_ratio, latency_ratio=args.latency_ratio,
                     epochs=args.epochs, min_epochs=args.min_epochs,
                     time_budget=args.time_budget, out=args.out, seed=args.seed)
    command = command_line()
    if args.search:
        s = search_strategies(s, command)
    run_demo(s, command=command)


if __name__ == '__main__':
    main()
