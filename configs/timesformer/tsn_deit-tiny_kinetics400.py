# Frame-wise video classification on Kinetics-400 (mmaction2 1.2.0's TSN recipe, 3 segments)
# with vit_scaled's DeiT-Tiny as the 2D backbone; the divided space-time model comes later.
_base_ = ['mmaction::recognition/tsn/tsn_imagenet-pretrained-r50_8xb32-1x1x3-100e_kinetics400-rgb.py']
custom_imports = dict(imports=['vit_scaled'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='DeiTScaled',
        arch='deit-tiny',
        img_size=224,
        out_type='featmap',
        drop_path_rate=0.1),
    cls_head=dict(in_channels=192))
