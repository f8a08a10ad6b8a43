"""PiTScaled against timm's PiT of the same configuration, CPU throughput at batch 1 and 32.

Both hold the same weights and return the normed class token (timm's with ``num_classes=0``);
the script checks that they agree before timing them.

    .venv/bin/python benchmarks/pit_vs_timm.py [--threads 2] [--rounds 15] [--quick]
"""
import os
import sys

import timm
import torch

sys.path.insert(0, os.path.dirname(__file__))
from side_by_side import compare, parse_args, report  # noqa: E402

from vit_scaled import PiTScaled  # noqa: E402


def main():
    args = parse_args(__doc__)
    for timm_name, arch in [('pit_ti_224', 'pit-ti'), ('pit_xs_224', 'pit-xs'), ('pit_s_224', 'pit-s')]:
        ref = timm.create_model(timm_name, pretrained=False, num_classes=0).eval()
        ours = PiTScaled(arch).eval()
        ours.load_state_dict(ours.convert_state_dict(ref.state_dict()))
        with torch.inference_mode():
            x = torch.randn(2, 3, 224, 224)
            torch.testing.assert_close(ours(x)[0], ref(x), rtol=0, atol=1e-5)
        results = compare({'PiTScaled': ours, 'timm': ref},
                          lambda bs: torch.randn(bs, 3, 224, 224), rounds=args.rounds)
        report(f'{arch} vs timm {timm_name}', results, 'PiTScaled', 'timm')


if __name__ == '__main__':
    main()
