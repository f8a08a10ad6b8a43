"""Issue 11's acceptance in one command: fit_predictor.py at its defaults (all threads, wall clock,
median round) for torch and ONNX Runtime, two seeds of 100 configurations each, then a table of
the four held-out results against the bar (>= 90 % within +-10 % and Kendall tau >= 0.95).
Run it on a quiet machine: nothing else running (measured: 11 min on 2 cores).

    .venv/bin/python benchmarks/predictor_acceptance.py [--seeds 1 2] [--num 100]
        [--out-dir work_dirs/predictor/acceptance] [--summary-only]

Each fit's own output (every form side by side, re-measured and untrusted configurations) is
printed as it runs; the predictors and their measurement tables are kept in ``--out-dir``.
``--summary-only`` prints the table again from the files there.
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
BACKENDS = ('torch', 'onnxruntime')
WITHIN, TAU = 90.0, 0.95


def run_fit(backend, seed, num, out):
    cmd = [sys.executable, osp.join(ROOT, 'tools', 'analysis_tools', 'fit_predictor.py'),
           '--num', str(num), '--seed', str(seed), '--backend', backend, '--out', out]
    print('$ ' + ' '.join(cmd[1:]), flush=True)
    return subprocess.run(cmd, cwd=ROOT).returncode


def row(backend, seed, out, seconds=None):
    took = f'{seconds / 60:.1f} min' if seconds is not None else '-'
    if not osp.isfile(out):
        return (f'| {backend} | {seed} | no predictor (too noisy, or not run) | | | | | | | '
                f'FAIL | {took} |')
    with open(out) as f:
        pred = json.load(f)
    meta, m = pred['meta'], pred['meta']['heldout_metrics']
    ok = m['within_10'] >= WITHIN and m['kendall_tau'] >= TAU
    return (f'| {backend} | {seed} | {meta["threads"]} | {pred["form"]} | {m["n"]} | '
            f'{m["mape"]:.2f} % | {m["within_10"]:.1f} % | {m["kendall_tau"]:.3f} | '
            f'{len(meta["untrusted"])} | {"pass" if ok else "FAIL"} | {took} |')


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--seeds', type=int, nargs='+', default=[1, 2])
    p.add_argument('--num', type=int, default=100)
    p.add_argument('--out-dir', default=osp.join('work_dirs', 'predictor', 'acceptance'))
    p.add_argument('--summary-only', action='store_true')
    args = p.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    runs = [(b, s, osp.abspath(osp.join(args.out_dir, f'{b}-seed{s}.json')))
            for b in BACKENDS for s in args.seeds]
    took = {}
    if not args.summary_only:
        print(f'load average at the start: {os.getloadavg()[0]:.2f}', flush=True)
        for backend, seed, out in runs:
            t0 = time.time()
            if osp.isfile(out):
                os.remove(out)  # a stale predictor must not pass for this run's
            run_fit(backend, seed, args.num, out)
            took[out] = time.time() - t0
        print(f'load average at the end: {os.getloadavg()[0]:.2f}')
    print(f'\n| backend | seed | threads | form | held-out n | MAPE | within ±10 % | Kendall τ | '
          f'untrusted | bar (>= {WITHIN:g} %, τ >= {TAU}) | time |')
    print('|---|---|---|---|---|---|---|---|---|---|---|')
    for backend, seed, out in runs:
        print(row(backend, seed, out, took.get(out)))


if __name__ == '__main__':
    main()
