# The divided space-time model scaled down to train on CPU in minutes, on the small motion set
# (four orientations of motion, each either way; chance is 25%; docs/video.md):
#     python tools/dataset_converters/make_motion_video.py data/motion_small \
#         --num-train 480 --num-val 160
#     python tools/train.py configs/timesformer/timesformer_divST_deit-micro_1xb16-motion-small.py
# A 2-block DeiT of width 64 (2 heads of 32) from scratch on the 8 frames of 32 x 32 of each clip
# in 8-pixel patches (16 tokens a frame), AdamW 1e-3 with a one-epoch warm-up, then cosine over
# 20 epochs (with 15 the rate falls before the model has left chance for long: 0.475 here).
# No flips or rotations: they would turn a diagonal motion into an antidiagonal one.
_base_ = ['./timesformer_divST_deit-tiny_8xb8-8x32x1-15e_kinetics400-rgb.py']

data_root = 'data/motion_small'
clip_len = 8
img_size = 32
epochs = 20

model = dict(
    backbone=dict(
        arch=dict(_delete_=True, depth=2, num_heads=2, head_dim=32, mlp_ratio=4.0),
        num_frames=clip_len,
        img_size=img_size,
        patch_size=8,
        drop_path_rate=0.0),
    cls_head=dict(num_classes=4, in_channels=64))

train_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=clip_len, frame_interval=1, num_clips=1),
    dict(type='DecordDecode'),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
val_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=clip_len, frame_interval=1, num_clips=1, test_mode=True),
    dict(type='DecordDecode'),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]


def _split(split, pipeline, batch_size, shuffle):
    return dict(
        batch_size=batch_size,
        num_workers=0,
        persistent_workers=False,
        sampler=dict(type='DefaultSampler', shuffle=shuffle),
        dataset=dict(
            ann_file=f'{data_root}/{split}_list.txt',
            data_prefix=dict(video=data_root),
            pipeline=pipeline))


train_dataloader = _split('train', train_pipeline, 16, True)
val_dataloader = _split('val', val_pipeline, 32, False)
test_dataloader = _split('val', val_pipeline, 32, False)

train_cfg = dict(max_epochs=epochs, val_interval=1)
optim_wrapper = dict(optimizer=dict(_delete_=True, type='AdamW', lr=1e-3, weight_decay=0.05))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=epochs - 1, by_epoch=True, begin=1, end=epochs)
]
default_hooks = dict(checkpoint=dict(interval=epochs, save_best=None), logger=dict(interval=10))
