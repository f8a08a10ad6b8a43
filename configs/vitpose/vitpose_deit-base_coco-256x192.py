# ViTPose-B (mmpose's recipe: layer decay 0.75, drop path 0.3) with DeiT-Base and the classic
# decoder. DeiT-B has ViT-B's shape, 12 heads x 64 = 768, so the head count is ViTPose-B's.
_base_ = ['mmpose::body_2d_keypoint/topdown_heatmap/coco/td-hm_ViTPose-base_8xb64-210e_coco-256x192.py']
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
