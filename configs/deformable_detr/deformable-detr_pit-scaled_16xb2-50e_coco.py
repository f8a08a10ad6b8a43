# Deformable DETR on PiT-Scaled (PiT-Ti's shape): its three stages already give strides 8, 16
# and 32, so they go through mmdet's ChannelMapper as ResNet's C3-C5 do, and ChannelMapper's
# extra stride-2 convolution adds the fourth, stride-64 level.
#
# ImageNet weights: a timm / NAVER PiT-Ti state dict (timm's pit_ti_224), at the path below or
#     --cfg-options model.backbone.init_cfg.checkpoint=/path/to/pit_ti.pth
_base_ = ['mmdet::deformable_detr/deformable-detr_r50_16xb2-50e_coco.py']
custom_imports = dict(imports=['vit_scaled', 'vit_scaled.models.detectors'],
                      allow_failed_imports=False)

model = dict(
    type='CheckedDeformableDETR',
    backbone=dict(
        _delete_=True,
        type='PiTScaled',
        arch='pit-ti',
        img_size=224,
        out_type='featmap',
        out_indices=(0, 1, 2),
        drop_path_rate=0.1,
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/pit_ti_224.pth')),
    neck=dict(in_channels=[64, 128, 256]))
