"""Fit a latency predictor for this machine and one deployment path: sample scaled DeiT
configurations, measure each, fit on part of them and report the error on the held-out rest.

    python tools/analysis_tools/fit_predictor.py [--num 100] [--seed 0] [--batch-size 1]
        [--backend torch|onnxruntime] [--precision fp32|bf16|int8] [--threads N]
        [--clock wall|cpu] [--statistic median|best] [--rounds 5] [--passes 2]
        [--max-spread 0.05] [--retries 2] [--max-untrusted 0.1]
        [--form auto|linear|sized|boosted] [--folds 5] [--holdout 0.25] [--out FILE.json]
        [--data FILE.csv]

The defaults are the settings a model is deployed with: all the threads this process may use,
the wall clock, the median round. Every configuration is measured in ``--passes`` passes over
the whole sample (each in a model built anew) and keeps its fastest attempt whose rounds agreed.
A configuration whose rounds disagree by more than ``--max-spread`` is measured again
(``--retries`` times, at the end) and, if it still disagrees, named and left out of the fit; more
than ``--max-untrusted`` of them stops the tool. Every model
form is cross-validated on the training share (``--folds``) and reported on the held-out share;
``--form auto`` keeps the best cross-validated one. The measurements are saved next to the
predictor (``<out>.csv``, and how they were measured in ``<out>.settings.json``); ``--data``
refits from such a file without measuring again, recording the settings it was measured with.
"""
import argparse
import json
import os.path as osp
import time

from vit_scaled.cli import run_cli
from vit_scaled.cost.config import BadInput
from vit_scaled.cost.latency_table import (STATISTICS, load_settings, load_table, measure_table,
                                           noisy_report, path_timer, save_table)
from vit_scaled.cost.measure import BACKENDS, CLOCKS, default_threads
from vit_scaled.cost.precision import check_path
from vit_scaled.cost.predictor import FORMS, fit_and_evaluate, sample_deit_archs


# How a table was measured: saved beside it, and taken from there when refitting with --data.
SETTINGS = ('backend', 'precision', 'threads', 'batch_size', 'clock', 'statistic', 'rounds',
            'passes', 'max_spread')


def parse_args():
    p = argparse.ArgumentParser(description='Fit a latency predictor on measured configurations')
    p.add_argument('--num', type=int, default=100, help='configurations to sample and measure')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--batch-size', type=int, default=1)
    p.add_argument('--backend', default='torch', help=f'one of {", ".join(BACKENDS)}')
    p.add_argument('--precision', default='fp32', help='fp32, bf16 (torch) or int8')
    p.add_argument('--threads', type=int, help='CPU threads (default: the CPUs available)')
    p.add_argument('--clock', default='wall',
                   help="wall, or cpu: one thread's CPU time (needs --threads 1)")
    p.add_argument('--statistic', default='median',
                   help='latency of a config: median round, or best call (for a busy machine)')
    p.add_argument('--rounds', type=int, default=5, help='timing rounds per configuration')
    p.add_argument('--max-spread', type=float, default=0.05,
                   help='rounds disagreeing by more than this share are measured again')
    p.add_argument('--retries', type=int, default=2, help='re-measurements of a noisy config')
    p.add_argument('--passes', type=int, default=2,
                   help='passes over all configurations, each keeping the fastest agreeing one')
    p.add_argument('--max-untrusted', type=float, default=0.1,
                   help='share of configurations allowed to stay noisy (left out of the fit)')
    p.add_argument('--form', default='auto', help=f'auto (cross-validated) or one of {FORMS}')
    p.add_argument('--folds', type=int, default=5, help='cross-validation folds')
    p.add_argument('--holdout', type=float, default=0.25, help='share held out for the report')
    p.add_argument('--out', help='default work_dirs/predictor/<backend>-<precision>-<N>t.json')
    p.add_argument('--data', help='refit from this measurements CSV instead of measuring')
    return p.parse_args()


def check_args(args):
    choices = (('backend', BACKENDS), ('clock', CLOCKS), ('statistic', STATISTICS),
               ('form', ('auto',) + FORMS))
    for name, valid in choices:
        if getattr(args, name) not in valid:
            raise BadInput(f'--{name} {getattr(args, name)!r} is invalid: choose one of '
                           f'{", ".join(valid)}')
    check_path(args.backend, args.precision)
    if args.clock == 'cpu' and args.threads != 1:
        raise BadInput('--clock cpu times one CPU thread: add --threads 1')
    for name in ('holdout', 'max_untrusted'):
        if not 0 <= getattr(args, name) <= 1 or (name == 'holdout' and args.holdout in (0, 1)):
            raise BadInput(f'--{name.replace("_", "-")} {getattr(args, name)} is invalid: '
                           'expected a share between 0 and 1')
    if args.num < 8 or min(args.batch_size, args.rounds, args.threads or 1, args.folds - 1) <= 0:
        raise BadInput('--num must be at least 8, --folds at least 2; --batch-size, --rounds and '
                       '--threads positive')
    if args.max_spread <= 0 or args.retries < 0 or args.passes < 1:
        raise BadInput(f'--max-spread {args.max_spread} must be positive, --retries '
                       f'{args.retries} at least 0 and --passes {args.passes} at least 1')
    if args.data and not osp.isfile(args.data):
        raise BadInput(f'--data {args.data!r} does not exist')


def main():
    args = parse_args()
    check_args(args)
    if args.data:  # the table's own settings, where it recorded them, not this call's defaults
        for name, value in load_settings(args.data).items():
            setattr(args, name, value)
    threads = args.threads or default_threads()
    out = args.out or osp.join('work_dirs', 'predictor',
                               f'{args.backend}-{args.precision}-{threads}t.json')
    t0 = time.time()
    if args.data:
        try:
            rows = load_table(args.data)
        except (KeyError, ValueError) as e:
            raise BadInput(f'--data {args.data!r} is not a measurements file of this tool: '
                           f'{e}') from e
    else:
        timer = path_timer(args.backend, args.precision, threads, args.batch_size, warmup=3,
                           rounds=args.rounds, round_s=0.2, clock=args.clock)
        rows = measure_table(sample_deit_archs(args.num, args.seed), timer, args.statistic,
                             args.max_spread, args.retries,
                             passes=args.passes,
                             progress=lambda msg: print(f'{msg} ({time.time() - t0:.0f} s)',
                                                        flush=True))
        settings = dict({name: getattr(args, name) for name in SETTINGS}, threads=threads)
        save_table(osp.splitext(out)[0] + '.csv', rows, settings)
    untrusted = [i for i, r in enumerate(rows) if not r.trusted]
    remeasured = sum(r.remeasured for r in rows)
    print(f'{len(rows)} configurations measured in {time.time() - t0:.0f} s; {remeasured} '
          f're-measured; {len(untrusted)} still too noisy to trust')
    for line in noisy_report(rows, args.max_spread):
        print(f'  untrusted, left out of the fit: {line}')
    if len(untrusted) > args.max_untrusted * len(rows):
        raise BadInput(f'{len(untrusted)} of {len(rows)} configurations stayed too noisy (more '
                       f'than --max-untrusted {args.max_untrusted:g}): the machine is busy. The '
                       f'measurements are in {args.data or osp.splitext(out)[0] + ".csv"}; '
                       'measure again on a quieter machine, or fit on the trusted rest with '
                       '--data FILE --max-untrusted 1')
    meta = dict(device='local', backend=args.backend, precision=args.precision, threads=threads,
                clock=args.clock, statistic=args.statistic, rounds=args.rounds,
                max_spread=args.max_spread, remeasured=remeasured,
                untrusted=noisy_report(rows, args.max_spread), data=args.data,
                created=time.strftime('%Y-%m-%d %H:%M:%S'))
    forms = FORMS if args.form == 'auto' else (args.form,)
    try:
        pred, held = fit_and_evaluate([r.arch for r in rows], [r.latency_ms for r in rows],
                                      args.batch_size, args.holdout, args.seed, meta, forms,
                                      args.folds, untrusted)
    except ValueError as e:
        raise BadInput(str(e)) from e
    pred.save(out)
    print(f'{"form":8} | {"cross-validated on train":^28} | {"held-out":^28}')
    print(f'{"":8} | {"n":>4} {"MAPE":>7} {"±10%":>7} {"tau":>6} | '
          f'{"n":>4} {"MAPE":>7} {"±10%":>7} {"tau":>6}')
    for form, r in pred.meta['forms'].items():
        cells = ' | '.join(f'{m["n"]:>4} {m["mape"]:>6.2f}% {m["within_10"]:>6.1f}% '
                           f'{m["kendall_tau"]:>6.3f}' for m in (r['cv'], r['heldout']))
        print(f'{form:8} | {cells}{"   <- chosen" if form == pred.form else ""}')
    print(f'saved {out} (form {pred.form}, {pred.meta["chosen_by"]})')
    print(json.dumps(held))


if __name__ == '__main__':
    run_cli(main, BadInput)
