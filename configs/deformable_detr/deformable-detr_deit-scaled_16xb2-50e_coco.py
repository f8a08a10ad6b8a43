# DeiT-Scaled at DeiT-Tiny's backbone FLOPs (1.261G multiply-adds at 224), scaled by the study's
# strategy. A strategy moves along a ray through its base, so applied to DeiT-Tiny itself at 1.0x
# it returns DeiT-Tiny; it starts here from DeiT-Tiny shrunk DeiT's way (width only, to half the
# FLOPs: deformable-detr_deit-width-0.5x_16xb2-50e_coco.py) and scales that back up to DeiT-Tiny's
# FLOPs, trading heads for depth, head size and MLP width.
# ImageNet weights: no published checkpoint has this shape; train one with the same two
# tools/scale.py commands on configs/classification/deit-tiny_8xb128_imagenet.py, then pass
#     --cfg-options model.backbone.init_cfg.checkpoint=/path/to/deit-scaled_imagenet.pth
# Scaled by: python tools/scale.py configs/deformable_detr/deformable-detr_deit-width-0.5x_16xb2-50e_coco.py --strategy configs/scaling/deit_digits_flops.yaml --budget flops=1.2614G --out configs/deformable_detr/deformable-detr_deit-scaled_16xb2-50e_coco.py
# Base: I224 d12 h2 e64 r4 (configs/deformable_detr/deformable-detr_deit-width-0.5x_16xb2-50e_coco.py); strategy: deit-digits-flops (configs/scaling/deit_digits_flops.yaml)
# Scaled: I224 d15 h2 e72 r6.5, 1.239G for the budget flops=1.261G (1.75% below; FLOPs (multiply-adds, analytic))
# FLOPs 1.239G (multiply-adds), params 5.461M (0 classes)
_base_ = ['deformable-detr_deit-width-0.5x_16xb2-50e_coco.py']

model = dict(
    backbone=dict(
        arch=dict(_delete_=True, depth=15, num_heads=2, head_dim=72, mlp_ratio=6.5),
        img_size=224,
        patch_size=16,
        out_indices=[14]),
    neck=dict(in_channels=144))

# (its own ImageNet weights, see above)
model['backbone']['init_cfg'] = dict(
    type='Pretrained', checkpoint='checkpoints/deit-scaled_d15-h2-e72-r6.5_imagenet.pth')
