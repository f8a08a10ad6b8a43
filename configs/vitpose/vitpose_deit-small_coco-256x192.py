# ViTPose-S (mmpose 1.3.2's top-down heatmap recipe: UDP heatmaps 64 x 48, AdamW 5e-4, weight
# decay 0.1, layer decay 0.8, drop path 0.1, 210 epochs, flip testing) with vit_scaled's DeiT-Small
# as the backbone and the classic decoder (two 4 x 4 stride-2 deconvolutions, then a 1 x 1 conv).
_base_ = ['mmpose::body_2d_keypoint/topdown_heatmap/coco/td-hm_ViTPose-small_8xb64-210e_coco-256x192.py']
custom_imports = dict(imports=['vit_scaled', 'vit_scaled.models.pose'], allow_failed_imports=False)

model = dict(
    # mmpose's TopdownPoseEstimator, checking at build time that the head takes the backbone's width
    type='CheckedTopdownPoseEstimator',
    backbone=dict(
        _delete_=True,
        type='DeiTScaled',
        # 384 = 6 heads x 64 (DeiT-S); ViTPose-S splits the same width into 12 heads x 32, so the
        # attention maps are half as many and the per-head dot products twice as long.
        arch='deit-small',
        img_size=(256, 192),
        patch_size=16,
        qkv_bias=True,
        drop_path_rate=0.1,
        with_cls_token=False,
        out_type='featmap'))

# ViTPose's layer-wise lr decay (0.8 over 12 layers) for this backbone's block names; mmpose's
# constructor only recognises mmpretrain's and would leave every block at the full rate.
optim_wrapper = dict(constructor='ViTLayerDecayOptimWrapperConstructor',
                     paramwise_cfg=dict(_delete_=True, layer_decay_rate=0.8))
