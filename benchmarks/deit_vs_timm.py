"""DeiTScaled against timm's DeiT of the same configuration, CPU throughput at batch 1 and 32.

    .venv/bin/python benchmarks/deit_vs_timm.py [--threads 2] [--rounds 15] [--quick] [--stable-malloc]
"""
import os
import sys

import timm
import torch

sys.path.insert(0, os.path.dirname(__file__))
from side_by_side import compare, parse_args, report  # noqa: E402

from vit_scaled import DeiTScaled  # noqa: E402


def main():
    args = parse_args(__doc__)
    for timm_name, arch in [('deit_tiny_patch16_224', 'deit-tiny'),
                            ('deit_small_patch16_224', 'deit-small')]:
        ref = timm.create_model(timm_name, pretrained=False, num_classes=0)
        ours = DeiTScaled(arch)
        ours.load_state_dict({k: v for k, v in ref.state_dict().items()})
        results = compare({'DeiTScaled': ours, 'timm': ref},
                          lambda bs: torch.randn(bs, 3, 224, 224), rounds=args.rounds)
        report(f'{arch} vs timm {timm_name}', results, 'DeiTScaled', 'timm')


if __name__ == '__main__':
    main()
