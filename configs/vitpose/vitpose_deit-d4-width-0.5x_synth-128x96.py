# The small-set model shrunk DeiT's way (width only, to half its backbone FLOPs): the start of the
# DeiT-Scaled config below, which scales it back up to the same FLOPs with the study's strategy.
# Scaled by: python tools/scale.py configs/vitpose/vitpose_deit-d4_synth-128x96.py --strategy configs/scaling/deit_width.yaml --budget flops=0.5x --out configs/vitpose/vitpose_deit-d4-width-0.5x_synth-128x96.py
# Base: I128x96 d4 h3 e64 r4 (configs/vitpose/vitpose_deit-d4_synth-128x96.py); strategy: deit-width-only (configs/scaling/deit_width.yaml)
# Scaled: I128x96 d4 h2 e64 r4, 46.11M for the budget flops=49.04M (5.96% below; FLOPs (multiply-adds, analytic))
# FLOPs 46.11M (multiply-adds), params 898.2K (0 classes)
_base_ = ['vitpose_deit-d4_synth-128x96.py']

model = dict(
    backbone=dict(
        arch=dict(_delete_=True, depth=4, num_heads=2, head_dim=64, mlp_ratio=4.0),
        img_size=[128, 96],
        patch_size=16),
    head=dict(in_channels=128))
