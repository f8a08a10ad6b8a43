# The small set: a DeiT-Tiny-like backbone cut to 4 blocks (3 heads x 64 = 192) at 128 x 96
# input (8 x 6 tokens), the classic decoder narrowed to 64 channels, heatmaps 32 x 24, trained
# from scratch on the synthetic COCO-keypoint set on a CPU in minutes. Everything else (UDP,
# pipelines, flip testing, AdamW, layer decay, clipping) is the ViTPose-S recipe it inherits.
#
#     python tools/dataset_converters/make_coco_keypoints.py data/synth_coco_keypoints
#     python tools/train.py configs/vitpose/vitpose_deit-d4_synth-128x96.py
_base_ = ['./vitpose_deit-small_coco-256x192.py']

codec = dict(type='UDPHeatmap', input_size=(96, 128), heatmap_size=(24, 32), sigma=2)
model = dict(
    backbone=dict(
        arch=dict(_delete_=True, depth=4, num_heads=3, head_dim=64, mlp_ratio=4.0),
        img_size=(128, 96),
        drop_path_rate=0.0),
    head=dict(in_channels=192, deconv_out_channels=(64, 64), decoder=codec))

optim_wrapper = dict(optimizer=dict(lr=1e-3))
train_cfg = dict(max_epochs=30, val_interval=10)
# the recipe's shape (warm-up, then x0.1 at 170/210 and 200/210 of the epochs), scaled down
param_scheduler = [
    dict(type='LinearLR', begin=0, end=20, start_factor=0.001, by_epoch=False),
    dict(type='MultiStepLR', begin=0, end=30, milestones=[24, 28], gamma=0.1, by_epoch=True),
]
randomness = dict(seed=0)
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=10))

data_root = 'data/synth_coco_keypoints/'
# lighter augmentation than COCO's 210 epochs need: no half-body crops, rotations up to 30 degrees
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomBBoxTransform', rotate_factor=30.0, scale_factor=(0.8, 1.2)),
    dict(type='TopdownAffine', input_size=codec['input_size'], use_udp=True),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs')
]
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=codec['input_size'], use_udp=True),
    dict(type='PackPoseInputs')
]
train_dataloader = dict(
    batch_size=16, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, ann_file='annotations/person_keypoints_train.json',
                 data_prefix=dict(img='train/'), pipeline=train_pipeline))
# ground-truth boxes (no person detector here)
val_dataloader = dict(
    batch_size=64, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, ann_file='annotations/person_keypoints_val.json',
                 bbox_file=None, data_prefix=dict(img='val/'), pipeline=val_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/person_keypoints_val.json')
test_evaluator = val_evaluator
