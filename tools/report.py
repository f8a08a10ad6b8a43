"""Collect finished runs into an accuracy-vs-cost table and Pareto plot.

    python tools/report.py WORK_DIR [WORK_DIR ...] [--out work_dirs/report]
        [--measure [--clock cpu]] [--train-memory [--memory-batch 8]] [--title TITLE]

Each WORK_DIR (globs allowed, e.g. 'work_dirs/*') is searched for mmengine runs
(<timestamp>/vis_data/scalars.json with the config beside it); the newest run with a validation
per work dir is kept. FLOPs and parameters come from the analytic model of the run's backbone;
--measure measures each backbone's latency here (otherwise a latency is shown only when the job
recorded one in WORK_DIR/result.json, as the demo does); --clock cpu times one thread's CPU time
instead of the wall clock (steady on a shared machine). --train-memory measures each run's
training-step peak memory (the whole model, in a fresh process: see vit_scaled.report). The
metric is each run's last validation: top-1, or COCO's AP for detection and pose (coco/AP).
"""
import argparse
import sys

import vit_scaled  # noqa: F401  (registers the modules)
from vit_scaled.cli import command_line
from vit_scaled.report import collect, markdown_table, write_report


def parse_args():
    p = argparse.ArgumentParser(description='Accuracy-vs-cost report of work dirs')
    p.add_argument('work_dirs', nargs='+', help='work dirs or globs')
    p.add_argument('--out', default='work_dirs/report', help='where report.md, pareto.png go')
    p.add_argument('--measure', action='store_true', help='measure each backbone\'s latency here')
    p.add_argument('--clock', default='wall', choices=('wall', 'cpu'),
                   help='latency clock: wall (all threads) or cpu (one thread\'s CPU time)')
    p.add_argument('--train-memory', action='store_true',
                   help='measure each model\'s training-step peak memory here')
    p.add_argument('--memory-batch', type=int, default=8, help='batch size of that step')
    p.add_argument('--title', default='Accuracy against cost')
    return p.parse_args()


def main():
    args = parse_args()
    if args.memory_batch < 1:
        print(f'error: --memory-batch {args.memory_batch} is invalid: expected a positive integer',
              file=sys.stderr)
        sys.exit(2)
    entries = collect(args.work_dirs, measure=args.measure, memory=args.train_memory,
                      memory_batch=args.memory_batch, clock=args.clock)
    if not entries:
        print(f'error: no finished run (vis_data/scalars.json with a validation) under '
              f'{args.work_dirs}', file=sys.stderr)
        sys.exit(2)
    command = command_line()
    how = (f'latency measured here by this command (PyTorch, CPU, batch 1, '
           f'{"one thread, CPU-time clock" if args.clock == "cpu" else "wall clock"})'
           if args.measure
           else 'latency as recorded by the job that trained the model, if it did')
    if args.train_memory:
        how += (f'; training-step peak memory measured here by this command (peak resident memory '
                f'of one training step of the whole model, batch {args.memory_batch}, 1 thread, '
                f'over the process before the model was built)')
    paths = write_report(entries, args.out, args.title,
                         f'Collected by `{command}`. FLOPs (multiply-adds) and parameters from the '
                         f'analytic model of each run\'s config; metric: the last validation '
                         f'logged; {how}.',
                         '\n'.join(f'- {e.name}: `{e.source}`' for e in entries))
    print(markdown_table(entries))
    print(f'wrote {paths["report"]}, {paths["plot"]}, {paths["results"]}')


if __name__ == '__main__':
    main()
