"""Windowed against global attention in DeiTScaled: latency at batch 1 (interleaved rounds) and
the peak memory of one training step (forward + backward, batch 1, each in a fresh process).

    .venv/bin/python benchmarks/window_attention.py [--threads 2] [--rounds 5] [--kernel fused]
        [--sizes 256x192 512x384 1024x768] [--archs deit-tiny deit-small]

``--kernel math`` runs every attention on PyTorch's math path (the score matrix stored for
backward, as where no fused kernel exists) instead of the default fused CPU kernel, whose memory
is linear in the tokens for global and windowed attention alike.

Kinds: ``global`` (every block global), ``window`` (every block in 14 x 14 windows), ``vitdet``
(14 x 14 windows with blocks 2, 5, 8, 11 global, ViTDet's layout). Same weight shapes throughout.
"""
import argparse
import contextlib
import os
import subprocess
import sys

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

sys.path.insert(0, os.path.dirname(__file__))
from side_by_side import compare  # noqa: E402

from vit_scaled import DeiTScaled  # noqa: E402
from vit_scaled.report import MALLOC_ENV, proc_kb, reset_peak_rss  # noqa: E402

KINDS = {
    'global': {},
    'window': dict(window_size=14),
    'vitdet': dict(window_size=14, window_block_indexes=[0, 1, 3, 4, 6, 7, 9, 10]),
}


def build(arch: str, size, kind: str) -> DeiTScaled:
    return DeiTScaled(arch=arch, img_size=size, with_cls_token=False, out_type='featmap',
                      **KINDS[kind])


def probe(arch: str, size, kind: str) -> float:
    """MB above the resident memory before the step that one training step peaks at."""
    model = build(arch, size, kind).train()
    x = torch.randn(1, 3, *size)
    model(x)[0].mean().backward()  # a first step: lazily allocated buffers, thread pools
    model.zero_grad(set_to_none=False)
    before = proc_kb('VmRSS')
    reset_peak_rss()
    model(x)[0].mean().backward()
    return (proc_kb('VmHWM') - before) / 1024


def kernel(name: str):
    """``fused``: PyTorch's own choice (its fused CPU kernel here); ``math``: the math path."""
    return sdpa_kernel([SDPBackend.MATH]) if name == 'math' else contextlib.nullcontext()


def peak_mb(arch: str, size, kind: str, threads: int, kernel_name: str) -> float:
    """``probe`` in a fresh process, with glibc's mmap threshold fixed as ``train_step_memory``
    has it: freed tensors go back to the system, so the peak is the tensors' and repeats agree
    (with the default, the heap keeps freed blocks and repeated probes differed by 20%)."""
    out = subprocess.run([sys.executable, __file__, '--probe', arch, f'{size[0]}x{size[1]}', kind,
                          '--threads', str(threads), '--kernel', kernel_name],
                         capture_output=True, text=True, check=True,
                         env=dict(os.environ, **MALLOC_ENV))
    return float(out.stdout.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--rounds', type=int, default=5)
    p.add_argument('--sizes', nargs='+', default=['256x192', '512x384', '1024x768'])
    p.add_argument('--archs', nargs='+', default=['deit-tiny', 'deit-small'])
    p.add_argument('--kernel', choices=('fused', 'math'), default='fused',
                   help="SDPA backend: PyTorch's fused CPU kernel or the math path")
    p.add_argument('--probe', nargs=3, help=argparse.SUPPRESS)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if args.probe:
        arch, size, kind = args.probe
        with kernel(args.kernel):
            print(probe(arch, tuple(int(v) for v in size.split('x')), kind))
        return
    print(f'torch {torch.__version__}, {args.threads} threads, {args.kernel} attention kernel, '
          f'batch 1; latency: median of '
          f'{args.rounds} interleaved rounds; ratio: median of the rounds\' own global/other ratios')
    print(f'{"arch":<11} {"input":<9} {"kind":<7} {"latency ms":>10} {"speed-up":>8} '
          f'{"train-step peak MB":>18} {"memory ratio":>12}')
    for arch in args.archs:
        for s in args.sizes:
            size = tuple(int(v) for v in s.split('x'))
            models = {k: build(arch, size, k).eval() for k in KINDS}
            with kernel(args.kernel):
                r = compare(models, lambda bs: torch.randn(bs, 3, *size), batch_sizes=(1,),
                            rounds=args.rounds, min_time=0.3)[1]
            mem = {k: peak_mb(arch, size, k, args.threads, args.kernel) for k in KINDS}
            for k in KINDS:
                each = [g / o for g, o in zip(r['_samples'][k], r['_samples']['global'])]
                speed = sorted(each)[len(each) // 2]
                print(f'{arch:<11} {s:<9} {k:<7} {1000 / r[k]:>10.1f} {speed:>8.2f} '
                      f'{mem[k]:>18.0f} {mem[k] / mem["global"]:>12.2f}', flush=True)


if __name__ == '__main__':
    main()
