"""Latency and throughput of a config's model, through PyTorch or ONNX Runtime.

    python tools/analysis_tools/benchmark.py CONFIG [--backend torch|onnxruntime]
        [--precision fp32|bf16|int8]
        [--batch-size N] [--shape H W] [--threads N] [--device cpu|cuda]
        [--warmup N] [--rounds N] [--iters N] [--clock wall|cpu] [--out FILE.json]

Weights stay as initialised: latency does not depend on their values. ``--precision``: bf16
(torch) or int8 (torch's dynamic quantization, or ONNX Runtime's own dynamic quantization of
the exported model), see ``vit_scaled/cost/precision.py``; the output's relative error against
fp32 is printed too.
"""
import argparse
import json
import warnings

import torch
from mmengine.config import DictAction

from vit_scaled.cli import run_cli
from vit_scaled.cost.config import BadInput, build_model, check_runs, default_shape, model_inputs
from vit_scaled.cost.measure import BACKENDS, CLOCKS, NoisyMeasurementWarning, measure
from vit_scaled.cost.precision import check_path, deployed, output_error
from vit_scaled.fileio import atomic_open


def parse_args():
    parser = argparse.ArgumentParser(description='Measure the latency and throughput of a model')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--backend', default='torch', help=f'one of {", ".join(BACKENDS)}')
    parser.add_argument('--precision', default='fp32', help='fp32, bf16 (torch) or int8')
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument('--shape', nargs='+', help='input size: S, H W, or a full shape C H W')
    parser.add_argument('--threads', type=int, help='CPU threads (default: the CPUs available)')
    parser.add_argument('--device', default='cpu', help='torch device, e.g. cpu or cuda')
    parser.add_argument('--warmup', type=int, default=10)
    parser.add_argument('--rounds', type=int, default=5, help='repeated measurements')
    parser.add_argument('--iters', type=int, help='calls per round (default: about 0.5 s worth)')
    parser.add_argument('--clock', default='wall',
                        help="wall, or cpu: one thread's CPU time (needs --threads 1), repeatable "
                        'on a busy machine')
    parser.add_argument('--onnx-file', help='keep the exported ONNX model here')
    parser.add_argument('--out', help='also write the measurement to this JSON file')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config, key=value')
    return parser.parse_args()


def check_args(args):
    if args.backend not in BACKENDS:
        raise BadInput(f'--backend {args.backend!r} is invalid: choose one of {", ".join(BACKENDS)}')
    for name in ('batch_size', 'threads', 'rounds', 'iters'):
        v = getattr(args, name)
        if v is not None and v <= 0:
            raise BadInput(f'--{name.replace("_", "-")} {v} is invalid: expected a positive integer')
    if args.clock not in CLOCKS:
        raise BadInput(f'--clock {args.clock!r} is invalid: choose one of {", ".join(CLOCKS)}')
    if args.clock == 'cpu' and (args.threads != 1 or args.device != 'cpu'):
        raise BadInput('--clock cpu times one CPU thread: add --threads 1 (and --device cpu)')
    if args.warmup < 0:
        raise BadInput(f'--warmup {args.warmup} is invalid: expected 0 or more')
    try:
        device = torch.device(args.device)
    except RuntimeError:
        raise BadInput(f'--device {args.device!r} is not a torch device') from None
    if device.type == 'cuda' and not torch.cuda.is_available():
        raise BadInput(f'--device {args.device!r}: no CUDA device is available here')
    if device.type not in ('cpu', 'cuda'):
        raise BadInput(f'--device {args.device!r} is not supported: use cpu or cuda')
    if args.backend == 'onnxruntime' and device.type != 'cpu':
        raise BadInput('--backend onnxruntime runs on the CPU here: use --device cpu')
    check_path(args.backend, args.precision)
    if args.precision != 'fp32' and device.type != 'cpu':
        raise BadInput(f'--precision {args.precision} is measured on the CPU here: use --device cpu')
    return device


def main():
    args = parse_args()
    device = check_args(args)
    _, model = build_model(args.config, args.cfg_options)
    model.to(device)
    x, kwargs = model_inputs(model, default_shape(model, args.shape), args.batch_size, device)
    check_runs(model, x, kwargs)
    print(f'measuring {type(model).__name__} on input {tuple(x.shape)} with {args.backend} '
          f'({args.rounds} rounds)...', flush=True)
    error = None
    if args.precision != 'fp32':  # the deployed path as a module, timed like any torch model
        path, px = deployed(model, x, args.backend, args.precision, args.threads or 1,
                            args.onnx_file)
        with torch.inference_mode():
            error = output_error(model(x, **kwargs), path(px))
        model, x, backend, kwargs = path, px, 'torch', {}
    else:
        backend = args.backend
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', NoisyMeasurementWarning)  # the summary says it
        m = measure(model, x, backend=backend, kwargs=kwargs, threads=args.threads,
                    warmup=args.warmup, rounds=args.rounds, iters=args.iters,
                    onnx_path=args.onnx_file if backend == args.backend else None,
                    clock=args.clock)
    m.backend = f'{args.backend} {args.precision}'
    print(f'path: {args.backend} {args.precision}' + (
        f', output error vs fp32 {error:.2e} (relative L2)' if error is not None else ''))
    print(m.summary())
    if args.out:
        with atomic_open(args.out, 'w') as f:
            json.dump(dict(m.to_dict(), backend=args.backend, precision=args.precision,
                           output_error=error), f, indent=2)


if __name__ == '__main__':
    run_cli(main, BadInput)
