# Scaled by: python tools/scale.py configs/deformable_detr/deformable-detr-refine-twostage_deit-tiny_1xb8-24e_small.py --strategy configs/scaling/deit_width.yaml --budget flops=0.5x --out configs/deformable_detr/deformable-detr-refine-twostage_deit-width-0.5x_1xb8-24e_small.py
# Base: I160 d4 h3 e64 r4 (configs/deformable_detr/deformable-detr-refine-twostage_deit-tiny_1xb8-24e_small.py); strategy: deit-width-only (configs/scaling/deit_width.yaml)
# Scaled: I160 d4 h2 e64 r4, 100.6M for the budget flops=105.2M (4.41% below; FLOPs (multiply-adds, analytic))
# FLOPs 100.6M (multiply-adds), params 904.8K (0 classes)
# note: the base backbone's pretrained weights (work_dirs/shapes_backbones/deit-tiny_small.pth) have another shape: this config starts from random weights (init_cfg=None); give it weights of its own shape with model.backbone.init_cfg=dict(type='Pretrained', checkpoint=...)
_base_ = ['deformable-detr-refine-twostage_deit-tiny_1xb8-24e_small.py']

model = dict(
    backbone=dict(
        arch=dict(_delete_=True, depth=4, num_heads=2, head_dim=64, mlp_ratio=4.0),
        img_size=160,
        patch_size=16,
        init_cfg=None),
    neck=dict(in_channels=128))
