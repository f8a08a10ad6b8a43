# Scaled by: python tools/scale.py configs/timesformer/timesformer_divST_deit-tiny_8xb8-8x32x1-15e_kinetics400-rgb.py --strategy configs/scaling/deit_width.yaml --budget flops=0.5x --out configs/timesformer/timesformer_divST_deit-width-0.5x_8xb8-8x32x1-15e_kinetics400-rgb.py
# Base: I224 d12 h3 e64 r4 (configs/timesformer/timesformer_divST_deit-tiny_8xb8-8x32x1-15e_kinetics400-rgb.py); strategy: deit-width-only (configs/scaling/deit_width.yaml)
# Scaled: I224 d12 h2 e64 r4, 6.45G for the budget flops=6.806G (5.23% below; FLOPs (multiply-adds, analytic))
# FLOPs 6.45G (multiply-adds), params 3.55M (400 classes)
# note: strategy found on deit, applied to video-deit (transfer)
_base_ = ['timesformer_divST_deit-tiny_8xb8-8x32x1-15e_kinetics400-rgb.py']

model = dict(
    backbone=dict(
        arch=dict(_delete_=True, depth=12, num_heads=2, head_dim=64, mlp_ratio=4.0),
        img_size=224,
        patch_size=16,
        num_frames=8,
        attention_type='divided_space_time'),
    cls_head=dict(in_channels=128))
