# ViTPose-B with the simple decoder on DeiT-Base (12 heads x 64, as ViTPose-B).
_base_ = ['mmpose::body_2d_keypoint/topdown_heatmap/coco/td-hm_ViTPose-base-simple_8xb64-210e_coco-256x192.py']
custom_imports = dict(imports=['vit_scaled', 'vit_scaled.models.pose'], allow_failed_imports=False)

model = dict(
    type='CheckedTopdownPoseEstimator',
    backbone=dict(
        _delete_=True,
        type='DeiTScaled',
        arch='deit-base',
        img_size=(256, 192),
        patch_size=16,
        qkv_bias=True,
        drop_path_rate=0.3,
        with_cls_token=False,
        out_type='featmap'))

optim_wrapper = dict(constructor='ViTLayerDecayOptimWrapperConstructor',
                     paramwise_cfg=dict(_delete_=True, layer_decay_rate=0.75))
