# ViTPose-S (mmpose 1.3.2's top-down heatmap recipe) with vit_scaled's DeiT-Small as the backbone.
_base_ = ['mmpose::body_2d_keypoint/topdown_heatmap/coco/td-hm_ViTPose-small_8xb64-210e_coco-256x192.py']
custom_imports = dict(imports=['vit_scaled'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='DeiTScaled',
        arch='deit-small',  # 384 = 6 heads x 64; ViTPose-S itself uses 12 heads x 32
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
