# DeiT-Tiny shrunk DeiT's way (heads only, to half its FLOPs): the base that
# deformable-detr_deit-scaled_16xb2-50e_coco.py scales up with the study's strategy.
# Scaled by: python tools/scale.py configs/deformable_detr/deformable-detr_deit-tiny_16xb2-50e_coco.py --strategy configs/scaling/deit_width.yaml --budget flops=0.5x --out configs/deformable_detr/deformable-detr_deit-width-0.5x_16xb2-50e_coco.py
# Base: I224 d12 h3 e64 r4 (configs/deformable_detr/deformable-detr_deit-tiny_16xb2-50e_coco.py); strategy: deit-width-only (configs/scaling/deit_width.yaml)
# Scaled: I224 d12 h2 e64 r4, 608.6M for the budget flops=630.7M (3.51% below; FLOPs (multiply-adds, analytic))
# FLOPs 608.6M (multiply-adds), params 2.503M (0 classes)
_base_ = ['deformable-detr_deit-tiny_16xb2-50e_coco.py']

model = dict(
    backbone=dict(
        arch=dict(_delete_=True, depth=12, num_heads=2, head_dim=64, mlp_ratio=4.0),
        img_size=224,
        patch_size=16),
    neck=dict(in_channels=128))

model['backbone']['init_cfg'] = dict(
    type='Pretrained', checkpoint='checkpoints/deit-width-0.5x_d12-h2-e64-r4_imagenet.pth')
