# ViTPose-S with the simple decoder (mmpose's -simple recipe: bilinear x4 of the stride-16 map,
# ReLU, one 3 x 3 conv to the 17 heatmaps) on DeiT-Small. Same backbone lines as
# vitpose_deit-small_coco-256x192.py: a config cannot inherit both (mmengine refuses a key
# defined in two bases).
_base_ = ['mmpose::body_2d_keypoint/topdown_heatmap/coco/td-hm_ViTPose-small-simple_8xb64-210e_coco-256x192.py']
custom_imports = dict(imports=['vit_scaled', 'vit_scaled.models.pose'], allow_failed_imports=False)

model = dict(
    type='CheckedTopdownPoseEstimator',
    backbone=dict(
        _delete_=True,
        type='DeiTScaled',
        arch='deit-small',  # 6 heads x 64; ViTPose-S: 12 heads x 32 (same width 384)
        img_size=(256, 192),
        patch_size=16,
        qkv_bias=True,
        drop_path_rate=0.1,
        with_cls_token=False,
        out_type='featmap'))

optim_wrapper = dict(constructor='ViTLayerDecayOptimWrapperConstructor',
                     paramwise_cfg=dict(_delete_=True, layer_decay_rate=0.8))
