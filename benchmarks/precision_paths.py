"""Deployment paths side by side: timm's DeiT at fp32 eager against ours at fp32 eager, bf16, ONNX
Runtime fp32 and ONNX Runtime int8 (its own dynamic quantization), DeiT-Tiny and DeiT-Small at
batch 1 and 32, all taking turns in every round; with each path's relative output error against
timm fp32 (same weights, random here: latency does not depend on them).

    .venv/bin/python benchmarks/precision_paths.py [--threads 2] [--rounds 15] [--quick] [--stable-malloc]
"""
import os
import statistics
import sys

import timm
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(__file__))
from side_by_side import compare, malloc_mode, parse_args  # noqa: E402

from vit_scaled import DeiTScaled  # noqa: E402
from vit_scaled.cost.precision import deployed, output_error  # noqa: E402


class _Cast(nn.Module):
    """A path taking fp32 images, as a deployed model receives them (the cast is timed too)."""

    def __init__(self, model, dtype):
        super().__init__()
        self.model, self.dtype = model, dtype

    def forward(self, x):
        return self.model(x.to(self.dtype))


def paths(ours: nn.Module, x: torch.Tensor, threads: int) -> dict:
    out = {'ours fp32': ours}
    bf16, _ = deployed(ours, x, 'torch', 'bf16')
    out['ours bf16'] = _Cast(bf16, torch.bfloat16)
    for precision in ('fp32', 'int8'):  # ONNX Runtime sessions are made for one batch size
        out[f'ORT {precision}'] = deployed(ours, x, 'onnxruntime', precision, threads)[0]
    return out


def main():
    args = parse_args(__doc__)
    print(f'precision paths  (torch {torch.__version__}, threads={torch.get_num_threads()}, '
          f'{malloc_mode()}, {args.rounds} interleaved rounds)')
    for timm_name, arch in [('deit_tiny_patch16_224', 'deit-tiny'),
                            ('deit_small_patch16_224', 'deit-small')]:
        ref = timm.create_model(timm_name, pretrained=False, num_classes=0).eval()
        ours = DeiTScaled(arch).eval()
        ours.load_state_dict(ref.state_dict())
        for bs in (1, 32):
            x = torch.randn(bs, 3, 224, 224)
            models = {'timm fp32': ref, **paths(ours, x, args.threads)}
            with torch.inference_mode():
                want = ref(x)
                errors = {name: output_error(want, m(x)) for name, m in models.items()}
            r = compare(models, lambda b: x, batch_sizes=(bs,), rounds=args.rounds)[bs]
            s = r['_samples']
            print(f'\n{arch} batch {bs}')
            print(f'{"path":>10}  {"img/s":>9}  {"vs timm":>7}  {"rounds min..max":>15}  '
                  f'{"rel. error":>10}')
            for name in models:
                each = [a / b for a, b in zip(s[name], s['timm fp32'])]
                print(f'{name:>10}  {r[name]:>9.1f}  {statistics.median(each):>7.3f}  '
                      f'{min(each):>7.3f}..{max(each):<6.3f}  {errors[name]:>10.2e}')


if __name__ == '__main__':
    main()
