"""Accuracy of a trained model under simulated low-precision schemes (fake quantization).

    python tools/quantize.py CONFIG CHECKPOINT [--scheme fp32 exp2 int8-tensor int4-vsq16 ...]
        [--calib-batches 4] [--out FILE.json] [--cfg-options key=value ...]

Schemes: ``fp32`` (the model as trained), ``exp2`` (the same weights with the base-2 softmax),
``ort-int8`` (the real deployment path: the exported model quantized by ONNX Runtime's dynamic
int8 quantization and run by ONNX Runtime, ``vit_scaled/cost/precision.py``), and
``int<bits>-<tensor|channel|vsq<V>>[-a<bits>][-s<bits>][-max|-pct]`` (``vit_scaled.models.quant``).
Activation ranges are calibrated on the first batches of the training set, read with the test
pipeline (no augmentation); accuracy is the config's test evaluator on its test set, and the
score error is the relative L2 distance of the class scores to the first scheme's. The table
is printed (markdown) and saved as JSON (default: next to the checkpoint).
"""
import argparse
import copy
import json
import os

import torch
from mmengine.config import DictAction

from vit_scaled.cli import command_line, run_cli
from vit_scaled.cost.config import BadInput, build_model
from vit_scaled.fileio import atomic_open
from vit_scaled.models.quant import SCHEME_HELP, calibrate, parse_scheme, quantize_model

DEFAULT_SCHEMES = ['fp32', 'exp2', 'int8-tensor', 'int8-vsq64', 'int4-tensor', 'int4-channel',
                   'int4-vsq16', 'int4-vsq64']
FLOAT_SCHEMES = {'fp32': {}, 'exp2': {'model.backbone.softmax': 'exp2'}, 'ort-int8': {}}


def parse_args():
    parser = argparse.ArgumentParser(description='Accuracy under simulated quantization')
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--scheme', nargs='+', default=DEFAULT_SCHEMES,
                        help=f'fp32, exp2 or {SCHEME_HELP}')
    parser.add_argument('--calib-batches', type=int, default=4)
    parser.add_argument('--out', help='JSON table (default: CHECKPOINT_DIR/quantize.json)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={})
    return parser.parse_args()


def _loader(cfg, which: str, pipeline_from=None):
    from mmengine.runner import Runner
    loader = copy.deepcopy(cfg[which])
    if pipeline_from is not None:  # the training images through the test pipeline
        loader['sampler'] = dict(type='DefaultSampler', shuffle=False)
        for key in ('transform', 'pipeline'):
            if key in cfg[pipeline_from].dataset:
                loader['dataset'][key] = copy.deepcopy(cfg[pipeline_from].dataset[key])
    return Runner.build_dataloader(loader, seed=0)


def _model(args, scheme_name):
    options = dict(args.cfg_options, **FLOAT_SCHEMES.get(scheme_name, {}))
    cfg, model = build_model(args.config, options)
    from mmengine.runner import load_checkpoint
    load_checkpoint(model, args.checkpoint, map_location='cpu', logger='silent')
    return cfg, model.eval()


@torch.no_grad()
def evaluate(args, name: str) -> dict:
    scheme = None if name in FLOAT_SCHEMES else parse_scheme(name)
    cfg, model = _model(args, name)
    if scheme is not None:
        quantize_model(model, scheme)
        calib = _loader(cfg, 'train_dataloader', 'test_dataloader')
        batches = (b for i, b in zip(range(args.calib_batches), calib))
        calibrate(model, batches, forward=model.test_step)
    from mmengine.evaluator import Evaluator
    evaluator = Evaluator(cfg.test_evaluator)
    loader = _loader(cfg, 'test_dataloader')
    step = _onnx_step(model, loader) if name == 'ort-int8' else model.test_step
    scores = []
    for data in loader:
        outputs = step(data)
        scores += [o.pred_score for o in outputs]
        evaluator.process(outputs, data)
    metrics = evaluator.evaluate(len(loader.dataset))
    top1 = next(v for k, v in metrics.items() if k.endswith('top1'))
    bits = (scheme.bits_per_weight, scheme.a_bits) if scheme else (
        (8, 8) if name == 'ort-int8' else (32, 32))
    return dict(scheme=name, w_bits=bits[0], a_bits=bits[1], top1=round(float(top1), 2),
                scores=torch.stack(scores))


def add_score_error(rows) -> None:
    """Each row's class scores against the first row's: ||p - p_ref|| / ||p_ref|| over the test
    set, a finer measure than top-1 on a small set (where one image is a fraction of a point)."""
    ref = rows[0].pop('scores')
    rows[0]['score_error'] = 0.0
    for r in rows[1:]:
        p = r.pop('scores')
        r['score_error'] = round(float((p - ref).norm() / ref.norm()), 5)


def _onnx_step(model, loader):
    """``test_step`` through ONNX Runtime int8: the classifier's logits from the session made
    for the loader's batch size (a smaller last batch is padded, its padding dropped)."""
    from vit_scaled.cost.precision import deployed
    first = model.data_preprocessor(next(iter(loader)), False)['inputs']
    session, _ = deployed(model, first, 'onnxruntime', 'int8', torch.get_num_threads())
    size = first.shape[0]

    def step(data):
        data = model.data_preprocessor(data, False)
        x, n = data['inputs'], data['inputs'].shape[0]
        if n < size:
            x = torch.cat([x, x.new_zeros(size - n, *x.shape[1:])])
        scores = session(x)[:n].softmax(-1)
        for sample, score in zip(data['data_samples'], scores):
            sample.pred_score, sample.pred_label = score, score.argmax(-1, keepdim=True)
        return data['data_samples']
    return step


def table(rows) -> str:
    ref = rows[0]['top1']
    lines = ['| scheme | bits / weight | activation bits | top-1 (%) | vs first row | '
             'score error vs first row |', '|---|---|---|---|---|---|']
    for r in rows:
        lines.append(f"| {r['scheme']} | {r['w_bits']:g} | {r['a_bits']} | {r['top1']:.2f} | "
                     f"{r['top1'] - ref:+.2f} | {r['score_error']:.4f} |")
    return '\n'.join(lines)


def main():
    args = parse_args()
    for path, what in ((args.config, 'config'), (args.checkpoint, 'checkpoint')):
        if not os.path.isfile(path):
            raise BadInput(f'{what} {path!r} does not exist')
    if args.calib_batches <= 0:
        raise BadInput(f'--calib-batches {args.calib_batches} is invalid: expected a positive integer')
    for name in args.scheme:
        if name not in FLOAT_SCHEMES:
            try:
                parse_scheme(name)
            except ValueError as e:
                raise BadInput(f'--scheme: {e}; or fp32, exp2, ort-int8') from None
    rows = []
    for name in args.scheme:
        rows.append(evaluate(args, name))
        print(f"{name}: top-1 {rows[-1]['top1']:.2f}", flush=True)
    add_score_error(rows)
    print(table(rows))
    out = args.out or os.path.join(os.path.dirname(os.path.abspath(args.checkpoint)),
                                   'quantize.json')
    with atomic_open(out, 'w') as f:
        json.dump(dict(command=command_line(), config=args.config, checkpoint=args.checkpoint,
                       calib_batches=args.calib_batches, rows=rows), f, indent=2)
    print(f'saved {out}')


if __name__ == '__main__':
    run_cli(main, BadInput)
