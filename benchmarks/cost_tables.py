"""The numbers of docs/cost.md: published vs analytic vs traced FLOPs and params, the device
models against published and local measurements, and the analytic model's speed.

    python benchmarks/cost_tables.py [--skip-local] [--skip-traced] [--threads N] [--clock cpu]
"""
import argparse
import time
import warnings

import torch
from scipy.stats import kendalltau

import vit_scaled  # noqa: F401
from vit_scaled.arch import DeiTArch, deit_arch, pit_arch
from vit_scaled.cost import (NoisyMeasurementWarning, analytic_cost, get_device, local_device,
                             measure, traced_flops)
from vit_scaled.models.classifier import ViTClassifier

# name, resolution, published GFLOPs, published M params, V100 img/s at batch 128
# DeiT: Touvron et al. 2021, Tables 1 and 7 (FLOPs, params). PiT: Heo et al. 2021, Table 3 and the
# naver-ai/pit README, which also gives the V100 batch-128 throughputs of all seven.
MODELS = [
    ('deit-tiny', 224, 1.3, 5.7, 2564), ('deit-small', 224, 4.6, 22.1, 980),
    ('deit-base', 224, 17.6, 86.6, 303), ('deit-base', 384, 55.5, None, None),
    ('pit-ti', 224, 0.71, 4.9, 3030), ('pit-xs', 224, 1.4, 10.6, 2128),
    ('pit-s', 224, 2.9, 23.5, 1266), ('pit-b', 224, 12.5, 73.8, 348),
]


def arch_of(name, img):
    return deit_arch(name, img_size=img) if name.startswith('deit') else pit_arch(name, img_size=img)


def classifier(name, img):
    backbone = (dict(type='DeiTScaled', arch=name, img_size=img) if name.startswith('deit')
                else dict(type='PiTScaled', arch=name, img_size=img))
    return ViTClassifier(backbone=backbone, num_classes=1000).eval()


def published_table(traced: bool):
    print('| model | res | published GFLOPs | analytic GFLOPs | traced GFLOPs | error vs published '
          '| published M params | analytic M params | module M params |')
    print('|---|---|---|---|---|---|---|---|---|')
    for name, img, gf, mp, _ in MODELS:
        cost = analytic_cost(arch_of(name, img), num_classes=1000)
        t = p = '-'
        if traced:
            model = classifier(name, img)
            t = f'{sum(traced_flops(model, torch.randn(1, 3, img, img)).values()) / 1e9:.3f}'
            p = f'{sum(x.numel() for x in model.parameters()) / 1e6:.3f}'
            del model
        print(f'| {name} | {img} | {gf} | {cost.flops / 1e9:.3f} | {t} | '
              f'{100 * (cost.flops / 1e9 / gf - 1):+.1f}% | {mp or "-"} | {cost.params / 1e6:.3f} | {p} |')


def device_table(device, batch, rows):
    est = {}
    print(f'| model | measured img/s | {device.name} estimate img/s | error |')
    print('|---|---|---|---|')
    for name, img, measured in rows:
        e = batch / device.latency(analytic_cost(arch_of(name, img), batch, 1000))
        est[name] = e
        print(f'| {name} | {measured:.1f} | {e:.1f} | {100 * (e / measured - 1):+.1f}% |')
    names = [r[0] for r in rows]
    errs = [abs(est[n] / m - 1) for n, _, m in rows]
    tau = kendalltau([est[n] for n in names], [m for _, _, m in rows]).statistic
    print(f'\nmean absolute error {100 * sum(errs) / len(errs):.1f}%, Kendall tau {tau:.3f}\n')


def local_rows(batch, threads, clock):
    rows = []
    for name, img, *_ in MODELS:
        if img != 224:
            continue
        model = classifier(name, img)
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', NoisyMeasurementWarning)
            m = measure(model, torch.randn(batch, 3, img, img), threads=threads, clock=clock,
                        rounds=3)
        print(f'  measured {name}: {m.summary()}', flush=True)
        rows.append((name, img, m.throughput))
    return rows


def speed():
    archs = [DeiTArch(depth=d, num_heads=h, head_dim=e, mlp_ratio=r)
             for d in range(4, 20) for h in range(2, 13) for e in (32, 48, 64) for r in (2.0, 3.0, 4.0)]
    t = time.perf_counter()
    for a in archs:
        analytic_cost(a)
    rate = len(archs) / (time.perf_counter() - t)
    print(f'analytic_cost: {rate:,.0f} DeiT configurations per second ({len(archs)} scored)')


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--skip-local', action='store_true')
    parser.add_argument('--skip-traced', action='store_true')
    parser.add_argument('--threads', type=int, help='threads for the local measurements')
    parser.add_argument('--clock', default='wall', help='wall, or cpu (with --threads 1)')
    args = parser.parse_args()
    speed()
    published_table(not args.skip_traced)
    print('\nV100, batch 128, fp32 (published throughputs):')
    device_table(get_device('v100'), 128, [(n, i, v) for n, i, _, _, v in MODELS if v])
    if not args.skip_local:
        local = local_device(threads=args.threads)
        print(f'local device model: {local}\n')
        for batch in (1, 8):
            print(f'local, batch {batch}, fp32 (measured here with PyTorch):')
            device_table(local, batch, local_rows(batch, args.threads, args.clock))


if __name__ == '__main__':
    main()
