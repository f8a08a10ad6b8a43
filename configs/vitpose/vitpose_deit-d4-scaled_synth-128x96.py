# DeiT-Scaled at the small-set model's backbone FLOPs (98.07M multiply-adds at 128 x 96), for
# the miniature transfer (docs/pose.md). A strategy moves along a ray through its base, so applied
# to vitpose_deit-d4_synth-128x96.py at 1.0x it returns that model; it starts from the width-0.5x
# config and scales that back up, trading heads for depth, head size and MLP width.
# Scaled by: python tools/scale.py configs/vitpose/vitpose_deit-d4-width-0.5x_synth-128x96.py --strategy configs/scaling/deit_digits_flops.yaml --budget flops=98.07M --out configs/vitpose/vitpose_deit-d4-scaled_synth-128x96.py
# Base: I128x96 d4 h2 e64 r4 (configs/vitpose/vitpose_deit-d4-width-0.5x_synth-128x96.py); strategy: deit-digits-flops (configs/scaling/deit_digits_flops.yaml)
# Scaled: I128x96 d5 h2 e72 r6.5, 95.77M for the budget flops=98.07M (2.34% below; FLOPs (multiply-adds, analytic))
# FLOPs 95.77M (multiply-adds), params 1.892M (0 classes)
_base_ = ['vitpose_deit-d4-width-0.5x_synth-128x96.py']

model = dict(
    backbone=dict(
        arch=dict(_delete_=True, depth=5, num_heads=2, head_dim=72, mlp_ratio=6.5),
        img_size=[128, 96],
        patch_size=16),
    head=dict(in_channels=144))
