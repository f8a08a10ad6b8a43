# Scaled by: python tools/scale.py configs/classification/deit-tiny_digits.py --strategy configs/scaling/deit_digits_flops.yaml --budget flops=0.5x --out configs/classification/deit-scaled-flops-0.5x_digits.py
# Base: I8 d12 h3 e64 r4 (configs/classification/deit-tiny_digits.py); strategy: deit-digits-flops (configs/scaling/deit_digits_flops.yaml)
# Scaled: I8 d10 h3 e56 r2.5, 12.93M for the budget flops=13.43M (3.74% below; FLOPs (multiply-adds, analytic))
# FLOPs 12.93M (multiply-adds), params 2.571M (10 classes)
_base_ = ['deit-tiny_digits.py']

model = dict(
    backbone=dict(
        arch=dict(_delete_=True, depth=10, num_heads=3, head_dim=56, mlp_ratio=2.5),
        img_size=8,
        patch_size=4))
