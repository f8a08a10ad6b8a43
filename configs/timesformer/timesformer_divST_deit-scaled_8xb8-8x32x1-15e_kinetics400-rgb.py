# DeiT-Scaled at the DeiT-Tiny-wide model's backbone FLOPs per clip (divided space-time, 8 x 224 x
# 224: 13.611G multiply-adds), scaled by the study's strategy. A strategy moves along a ray through
# its base, so it starts from DeiT-Tiny shrunk DeiT's way (width only, to half the FLOPs:
# timesformer_divST_deit-width-0.5x_...) and scales that back up, trading heads for depth, head
# size and MLP width. The frame count is not scaled (the pipeline's SampleFrames sets it).
# No image checkpoint of this shape is published; train one with the same two tools/scale.py
# commands on configs/classification/deit-tiny_8xb128_imagenet.py and pass it as init_cfg.
# Scaled by: python tools/scale.py configs/timesformer/timesformer_divST_deit-width-0.5x_8xb8-8x32x1-15e_kinetics400-rgb.py --strategy configs/scaling/deit_digits_flops.yaml --budget flops=13.611G --out configs/timesformer/timesformer_divST_deit-scaled_8xb8-8x32x1-15e_kinetics400-rgb.py
# Base: I224 d12 h2 e64 r4 (configs/timesformer/timesformer_divST_deit-width-0.5x_8xb8-8x32x1-15e_kinetics400-rgb.py); strategy: deit-digits-flops (configs/scaling/deit_digits_flops.yaml)
# Scaled: I224 d14 h2 e80 r6, 13.54G for the budget flops=13.61G (0.51% below; FLOPs (multiply-adds, analytic))
# FLOPs 13.54G (multiply-adds), params 7.796M (400 classes)
# note: strategy found on deit, applied to video-deit (transfer)
_base_ = ['timesformer_divST_deit-width-0.5x_8xb8-8x32x1-15e_kinetics400-rgb.py']

model = dict(
    backbone=dict(
        arch=dict(_delete_=True, depth=14, num_heads=2, head_dim=80, mlp_ratio=6.0),
        img_size=224,
        patch_size=16,
        num_frames=8,
        attention_type='divided_space_time'),
    cls_head=dict(in_channels=160))
