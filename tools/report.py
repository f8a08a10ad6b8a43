"""Collect finished runs into an accuracy-vs-cost table and Pareto plot.

    python tools/report.py WORK_DIR [WORK_DIR ...] [--out work_dirs/report] [--measure]
        [--title TITLE]

Each WORK_DIR (globs allowed, e.g. 'work_dirs/*') is searched for mmengine runs
(<timestamp>/vis_data/scalars.json with the config beside it); the newest run with a validation
per work dir is kept. FLOPs and parameters come from the analytic model of the run's backbone;
--measure measures each backbone's latency here (otherwise a latency is shown only when the job
recorded one in WORK_DIR/result.json, as the demo does).
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
    p.add_argument('--title', default='Accuracy against cost')
    return p.parse_args()


def main():
    args = parse_args()
    entries = collect(args.work_dirs, measure=args.measure)
    if not entries:
        print(f'error: no finished run (vis_data/scalars.json with a validation) under '
              f'{args.work_dirs}', file=sys.stderr)
        sys.exit(2)
    command = command_line()
    how = ('latency measured here by this command (PyTorch, CPU, batch 1)' if args.measure
           else 'latency as recorded by the job that trained the model, if it did')
    paths = write_report(entries, args.out, args.title,
                         f'Collected by `{command}`. FLOPs (multiply-adds) and parameters from the '
                         f'analytic model of each run\'s config; metric: the last validation '
                         f'logged; {how}.',
                         '\n'.join(f'- {e.name}: `{e.source}`' for e in entries))
    print(markdown_table(entries))
    print(f'wrote {paths["report"]}, {paths["plot"]}, {paths["results"]}')


if __name__ == '__main__':
    main()
