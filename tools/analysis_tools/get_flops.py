"""Multiply-adds ("FLOPs", as DeiT, PiT and fvcore count them) and parameters of a config's model,
with the per-operator-class table of docs/cost.md. For a detector with mmcv's deformable attention
(Deformable DETR) it adds the sampling no tracer sees, counted from the attention's shape, and
prints the whole detector's total and the backbone's share (docs/cost.md, "Detectors").

    python tools/analysis_tools/get_flops.py CONFIG [--shape H W] [--batch-size N]
        [--device-model v100|jetson-tx2|pixel3-cpu|local] [--precision fp32] [--out FILE.json]
"""
import argparse
import json

from mmengine.config import DictAction

from vit_scaled.cost.complexity import model_complexity
from vit_scaled.cli import run_cli
from vit_scaled.cost.config import BadInput, build_model, check_runs, default_shape, model_inputs
from vit_scaled.cost.deformable import detector_flops
from vit_scaled.cost.devices import DEVICE_NAMES, PRECISION_BYTES, get_device
from vit_scaled.fileio import atomic_open


def parse_args():
    parser = argparse.ArgumentParser(description='Count the FLOPs and parameters of a model')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--shape', nargs='+', help='input size: S, H W, or a full shape C H W')
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument('--device-model', help=f'add a roofline latency column: {", ".join(DEVICE_NAMES)}')
    parser.add_argument('--precision', default='fp32', help=f'{", ".join(PRECISION_BYTES)}')
    parser.add_argument('--out', help='also write the figures to this JSON file')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config, key=value')
    return parser.parse_args()


def main():
    args = parse_args()
    if args.batch_size <= 0:
        raise BadInput(f'--batch-size {args.batch_size} is invalid: expected a positive integer')
    if args.precision not in PRECISION_BYTES:
        raise BadInput(f'--precision {args.precision!r} is invalid: choose one of {list(PRECISION_BYTES)}')
    device = get_device(args.device_model) if args.device_model else None  # fail before building
    _, model = build_model(args.config, args.cfg_options)
    x, kwargs = model_inputs(model, default_shape(model, args.shape), args.batch_size)
    check_runs(model, x, kwargs)
    c = model_complexity(model, x, kwargs, device, args.precision)
    split = '=' * 30
    print(f'{split}\nInput shape: {tuple(x.shape)}\nFlops: {c.flops / 1e9:.3f}G\n'
          f'Params: {c.params / 1e6:.3f}M\n{split}')
    print('FLOPs are multiply-adds (one per multiply-add; LayerNorm 5, softmax and GELU 1 per '
          'element), counted on the traced model; "analytic" is the architecture\'s cost model.')
    print(c.table())
    det = detector_flops(model, x, kwargs)
    if det is not None:
        print(det.report())
    if device is not None and c.device_ms is None:
        print(f'(no analytic model for this backbone: no {device.name} estimate)')
    if args.out:
        with atomic_open(args.out, 'w') as f:
            json.dump(dict(c.to_dict(), detector=det.to_dict() if det else None), f, indent=2)


if __name__ == '__main__':
    run_cli(main, BadInput)
