"""Measured time per operator class (MLP, LayerNorm, MSA-MatMul, MSA-Softmax,
MSA-Reshape&Transpose, MSA-Gather, others) of a config's model, with torch.profiler.

    python tools/analysis_tools/op_breakdown.py CONFIG [--out-dir DIR] [--shape H W]
        [--batch-size N] [--iters N] [--threads N] [--attention math|default]

Prints the table (ms and %) and writes breakdown.csv and breakdown.json to the output folder
(default: work_dirs/op_breakdown/<config name>).
"""
import argparse
import os
import os.path as osp

from mmengine.config import DictAction

from vit_scaled.cli import run_cli
from vit_scaled.cost.config import BadInput, build_model, check_runs, default_shape, model_inputs
from vit_scaled.cost.profile import ATTENTION_MODES, op_breakdown


def parse_args():
    parser = argparse.ArgumentParser(description='Per-operator-class time breakdown of a model')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--out-dir', help='folder for breakdown.csv and breakdown.json')
    parser.add_argument('--shape', nargs='+', help='input size: S, H W, or a full shape C H W')
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument('--iters', type=int, default=10, help='profiled forward passes')
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--threads', type=int, help='CPU threads (default: the CPUs available)')
    parser.add_argument('--attention', default='math',
                        help=f'{" or ".join(ATTENTION_MODES)}: math separates MatMul and Softmax')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config, key=value')
    return parser.parse_args()


def main():
    args = parse_args()
    if args.attention not in ATTENTION_MODES:
        raise BadInput(f'--attention {args.attention!r} is invalid: choose one of {ATTENTION_MODES}')
    for name in ('batch_size', 'iters', 'threads'):
        v = getattr(args, name)
        if v is not None and v <= 0:
            raise BadInput(f'--{name.replace("_", "-")} {v} is invalid: expected a positive integer')
    _, model = build_model(args.config, args.cfg_options)
    x, kwargs = model_inputs(model, default_shape(model, args.shape), args.batch_size)
    check_runs(model, x, kwargs)
    print(f'profiling {args.iters} passes of {type(model).__name__} on input {tuple(x.shape)}...',
          flush=True)
    b = op_breakdown(model, x, kwargs, iters=args.iters, warmup=args.warmup, threads=args.threads,
                     attention=args.attention)
    b.meta.update(config=args.config, model=type(model).__name__, input_shape=list(x.shape))
    print(b.table())
    out = args.out_dir or osp.join('work_dirs', 'op_breakdown',
                                   osp.splitext(osp.basename(args.config))[0])
    os.makedirs(out, exist_ok=True)
    b.save(osp.join(out, 'breakdown.csv'), osp.join(out, 'breakdown.json'))
    print(f'saved {osp.join(out, "breakdown.csv")} and {osp.join(out, "breakdown.json")}')


if __name__ == '__main__':
    run_cli(main, BadInput)
