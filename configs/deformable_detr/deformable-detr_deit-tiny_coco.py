# Deformable DETR (mmdet 3.3.0's recipe) on a DeiT-Tiny backbone from vit_scaled.
# Everything but the backbone and the neck's input comes from mmdet's own config.
_base_ = ['mmdet::deformable_detr/deformable-detr_r50_16xb2-50e_coco.py']
custom_imports = dict(imports=['vit_scaled'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='DeiTScaled',
        arch='deit-tiny',
        img_size=224,
        out_type='featmap',
        # Three depths of the one stride-16 map; ChannelMapper adds the fourth, stride-32 level.
        out_indices=(3, 7, 11),
        drop_path_rate=0.1),
    neck=dict(in_channels=[192, 192, 192]))
