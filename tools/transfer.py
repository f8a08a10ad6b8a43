"""The cross-device table: strategies found for different devices, each applied on every device
at the same latency budget (device models), optionally with proxy-trained accuracy.

    python tools/transfer.py BASE_CONFIG --strategy DEVICE=FILE [DEVICE=FILE ...]
        [--devices v100 jetson-tx2 pixel3-cpu local] [--budget-ratio 2]
        [--train-epochs N --work-dir DIR] [--out TABLE.md]

DEVICE is the device a strategy was found for (a device model name); each target's budget is
--budget-ratio x the base model's latency there. For the DeiT -> PiT transfer, give a PiT config
to tools/scale.py with a DeiT strategy (every stage scales; see docs/scaling.md).
"""
import argparse

import vit_scaled  # noqa: F401  (registers the modules)
from vit_scaled.cli import command_line, run_cli
from vit_scaled.fileio import atomic_open
from vit_scaled.scaling import BudgetError, StrategyError, configs, load_strategy
from vit_scaled.scaling.transfer import (cached_accuracy, cross_device, cross_device_markdown,
                                         device_budgets)


def parse_args():
    p = argparse.ArgumentParser(description='Cross-device transfer of scaling strategies')
    p.add_argument('config', help='the base config')
    p.add_argument('--strategy', nargs='+', required=True, help='DEVICE=FILE, one per device')
    p.add_argument('--devices', nargs='+', help='target devices (default: those of --strategy)')
    p.add_argument('--budget-ratio', type=float, default=2.0)
    p.add_argument('--train-epochs', type=int, help='proxy-train every model for top-1')
    p.add_argument('--work-dir', default='work_dirs/transfer')
    p.add_argument('--out', help='also write the table (markdown) here')
    return p.parse_args()


def main():
    args = parse_args()
    strategies = {}
    for item in args.strategy:
        device, sep, path = item.partition('=')
        if not sep:
            raise StrategyError(f'--strategy {item!r}: expected DEVICE=FILE')
        strategies[device] = load_strategy(path)
    _, base, ncls = configs.load_base(args.config)
    budgets = device_budgets(base, args.devices or list(strategies), args.budget_ratio,
                             num_classes=ncls)
    accuracy = (cached_accuracy(args.config, args.train_epochs, args.work_dir)
                if args.train_epochs else None)
    rows = cross_device(base, strategies, budgets, accuracy, num_classes=ncls)
    table = cross_device_markdown(rows)
    print(table)
    if args.out:
        with atomic_open(args.out, 'w') as f:
            f.write(f'Made by `{command_line()}`; latency from the device models '
                    f'(vit_scaled.cost.devices), budget {args.budget_ratio:g} x the base\'s.\n\n'
                    f'{table}\n')


if __name__ == '__main__':
    run_cli(main, BudgetError, StrategyError)
