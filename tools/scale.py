"""Scale a config's model with a strategy under a budget and write a ready config for it.

    python tools/scale.py BASE_CONFIG --strategy FILE --budget flops=1.25G [--out NEW_CONFIG.py]
    python tools/scale.py BASE_CONFIG --strategy FILE --budget params=5M
    python tools/scale.py BASE_CONFIG --strategy FILE --budget flops=0.5x   (relative to the base)
    python tools/scale.py BASE_CONFIG --strategy FILE --budget latency=20ms [--device NAME]
        [--predictor FILE.json] [--batch-size N]

A latency budget is checked with ``--device``: ``measured`` (the default: measured on this
machine, PyTorch on the CPU, or the deployment path ``--backend onnxruntime --precision int8``:
exported and quantized by ONNX Runtime, then timed, so that a model is scaled for the way it will
run), or a device model (``v100``, ``jetson-tx2``, ``pixel3-cpu``,
``local``); or with a latency predictor fitted by tools/analysis_tools/fit_predictor.py, for the
deployment path it was fitted on (give the same --backend, --precision and --threads).
FLOPs are multiply-adds, as DeiT and PiT count them.
"""
import argparse
import sys

import vit_scaled  # noqa: F401  (registers the modules)
from vit_scaled.cli import run_cli
from vit_scaled.scaling import BudgetError, StrategyError
from vit_scaled.scaling.apply import scale_config


def parse_args():
    p = argparse.ArgumentParser(description='Scale a model to a budget with a strategy')
    p.add_argument('config', help='the base config (its backbone is DeiTScaled or PiTScaled)')
    p.add_argument('--strategy', required=True, help='strategy file (YAML or JSON)')
    p.add_argument('--budget', required=True, help='flops=1.25G, params=5M or latency=20ms')
    p.add_argument('--device', help='for latency: measured (default), v100, jetson-tx2, '
                   'pixel3-cpu or local')
    p.add_argument('--predictor', help='for latency: a fitted latency predictor (JSON)')
    p.add_argument('--batch-size', type=int, default=1, help='batch of the latency (default 1)')
    p.add_argument('--threads', type=int, help='CPU threads of a measured latency (default: all)')
    p.add_argument('--clock', default='wall', choices=('wall', 'cpu'),
                   help="cpu: time one thread's CPU time (with --threads 1), steady on a shared "
                   'machine')
    p.add_argument('--backend', default='torch', choices=('torch', 'onnxruntime'),
                   help='for a measured latency: the runtime the model is deployed with')
    p.add_argument('--precision', default='fp32', choices=('fp32', 'bf16', 'int8'),
                   help='for a measured latency: the numeric format it is deployed in '
                   '(onnxruntime int8: its dynamic quantization)')
    p.add_argument('--out', help='the new config (default work_dirs/scaled/<name>_<budget>.py)')
    return p.parse_args()


def main():
    args = parse_args()
    _, out, summary = scale_config(args.config, args.strategy, args.budget, out=args.out,
                                   device=args.device, predictor=args.predictor,
                                   batch_size=args.batch_size, threads=args.threads,
                                   clock=args.clock, backend=args.backend,
                                   precision=args.precision, progress=print)
    print(summary)
    for line in summary.splitlines():  # extrapolation warnings also where warnings go
        if line.startswith('warning:'):
            print(line, file=sys.stderr)
    print(f'wrote {out}')


if __name__ == '__main__':
    run_cli(main, BudgetError, StrategyError)
