# Scaled by: python tools/scale.py configs/deformable_detr/deformable-detr-refine-twostage_deit-width-0.5x_1xb8-24e_small.py --strategy configs/scaling/deit_digits_flops.yaml --budget flops=210.4M --out configs/deformable_detr/deformable-detr-refine-twostage_deit-scaled_1xb8-24e_small.py
# Base: I160 d4 h2 e64 r4 (configs/deformable_detr/deformable-detr-refine-twostage_deit-width-0.5x_1xb8-24e_small.py); strategy: deit-digits-flops (configs/scaling/deit_digits_flops.yaml)
# Scaled: I160 d5 h2 e72 r6.5, 205.1M for the budget flops=210.4M (2.50% below; FLOPs (multiply-adds, analytic))
# FLOPs 205.1M (multiply-adds), params 1.899M (0 classes)
_base_ = ['deformable-detr-refine-twostage_deit-width-0.5x_1xb8-24e_small.py']

model = dict(
    backbone=dict(
        arch=dict(_delete_=True, depth=5, num_heads=2, head_dim=72, mlp_ratio=6.5),
        img_size=160,
        patch_size=16,
        out_indices=[4]),
    neck=dict(in_channels=144))

# Its own backbone weights, pretrained on the shapes as the DeiT-Tiny-like one's are:
#     python tools/analysis_tools/pretrain_shapes_backbone.py configs/deformable_detr/deformable-detr-refine-twostage_deit-scaled_1xb8-24e_small.py work_dirs/shapes_backbones/deit-scaled_small.pth
model['backbone']['init_cfg'] = dict(   # _delete_: the base sets None (weights of its shape)
    _delete_=True, type='Pretrained', checkpoint='work_dirs/shapes_backbones/deit-scaled_small.pth')
