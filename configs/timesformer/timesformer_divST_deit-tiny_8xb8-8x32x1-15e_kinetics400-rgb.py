# TimeSformer (divided space-time attention) on Kinetics-400 with a DeiT-Tiny-wide VideoDeiTScaled:
# mmaction2 1.2.0's recipe (8 frames sampled 8 x 32 x 1, 224 input, TimeSformerHead, SGD 0.005
# nesterov, 15 epochs) with the backbone replaced. Start from image weights by adding
#     init_cfg=dict(type='Pretrained', checkpoint='deit_tiny.pth')   # timm or DeiTScaled
# to the backbone: the temporal attention starts as a copy of the spatial one, its output
# projection at zero. Parameter names keep cls_token / pos_embed / time_embed, so the base's
# no-weight-decay keys still apply.
_base_ = ['mmaction::recognition/timesformer/timesformer_divST_8xb8-8x32x1-15e_kinetics400-rgb.py']
custom_imports = dict(imports=['vit_scaled'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='VideoDeiTScaled',
        arch='deit-tiny',
        num_frames=8,
        img_size=224,
        patch_size=16,
        attention_type='divided_space_time',
        drop_path_rate=0.1),  # mmaction2's TimeSformer: stochastic depth 0 .. 0.1
    cls_head=dict(in_channels=192))
