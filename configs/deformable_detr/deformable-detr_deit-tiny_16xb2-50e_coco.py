# Deformable DETR (mmdet 3.3's recipe: AdamW 2e-4, backbone lr x0.1, 50 epochs, 4 levels) on a
# DeiT-Tiny backbone with global attention, through ViTDet's simple feature pyramid: the one
# stride-16 map of the last block, upsampled and pooled into strides 8, 16, 32 and 64.
#
# ImageNet weights: the backbone loads a timm / DeiT state dict (DeiT's release
# deit_tiny_patch16_224-a1311bcf.pth, or torch.save(timm's deit_tiny_patch16_224.state_dict()));
# put it at the path below or pass
#     --cfg-options model.backbone.init_cfg.checkpoint=/path/to/deit_tiny.pth
# The class token is dropped and the position embedding resized to each input's grid.
_base_ = ['mmdet::deformable_detr/deformable-detr_r50_16xb2-50e_coco.py']
custom_imports = dict(imports=['vit_scaled', 'vit_scaled.models.detectors'],
                      allow_failed_imports=False)

model = dict(
    # mmdet's DeformableDETR, checking at build time that backbone, neck and levels agree
    type='CheckedDeformableDETR',
    backbone=dict(
        _delete_=True,
        type='DeiTScaled',
        arch='deit-tiny',
        img_size=224,
        out_type='featmap',
        out_indices=(11, ),
        with_cls_token=False,
        drop_path_rate=0.1,
        init_cfg=dict(type='Pretrained',
                      checkpoint='checkpoints/deit_tiny_patch16_224-a1311bcf.pth')),
    neck=dict(
        _delete_=True,
        type='SimpleFeaturePyramid',
        in_channels=192,
        out_channels=256,
        scale_factors=(2.0, 1.0, 0.5, 0.25),
        norm_cfg=dict(type='GN', num_groups=32)))
