# The embedded default: a DeiT-Tiny-like model on scikit-learn's handwritten digits (1,797 real 8x8
# scans, shipped with scikit-learn), trained on CPU in a few minutes; see docs/classification.md.
# DeiT-Tiny's width and depth (3 heads x 64, MLP ratio 4, 12 blocks) on the scans at their own 8x8
# resolution in 4x4 patches; light augmentation, drop path 0.1, a 25-epoch form of DeiT's schedule.
_base_ = ['../_base_/schedules/deit_adamw_cosine.py', '../_base_/default_runtime.py']

img_size = 8  # the scans' own resolution: no invented pixels, 2x2 patch tokens
batch_size = 64
max_epochs = 25
warmup_epochs = 2

model = dict(
    type='ViTClassifier',
    backbone=dict(type='DeiTScaled',
                  arch=dict(depth=12, num_heads=3, head_dim=64, mlp_ratio=4.0),
                  img_size=img_size, patch_size=4, drop_path_rate=0.1),
    num_classes=10,
    label_smoothing=0.1,
    mixup=None,  # DeiT's Mixup / CutMix regularise 300 epochs; this schedule is 25 (not tuned)
    data_preprocessor=dict(type='ViTDataPreprocessor', mean=[127.5] * 3, std=[127.5] * 3),
)

# Digits are not mirror symmetric (no flip) and grey (no colour jitter); crops of 60-100% area.
train_transform = dict(input_size=img_size, is_training=True, scale=(0.6, 1.0), ratio=(0.9, 1.1),
                       hflip=0.0, color_jitter=0.0, interpolation='bicubic')
val_transform = dict(input_size=img_size, crop_pct=1.0, interpolation='bicubic')
train_dataloader = dict(
    batch_size=batch_size,
    num_workers=0,  # a few KB of images: worker processes would cost more than they save
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='DigitsDataset', split='train', transform=train_transform),
)
val_dataloader = dict(
    batch_size=120,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='DigitsDataset', split='val', transform=val_transform),
)
val_evaluator = dict(type='TopKAccuracy', topk=(1, 5))
test_dataloader = val_dataloader
test_evaluator = val_evaluator

optim_wrapper = dict(optimizer=dict(lr=1e-3))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=warmup_epochs,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=warmup_epochs,
         end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=5)
auto_scale_lr = dict(base_batch_size=batch_size)

default_hooks = dict(
    logger=dict(interval=10),
    # One checkpoint at the end (a 12-block model with AdamW's state is ~65 MB).
    checkpoint=dict(interval=max_epochs, max_keep_ckpts=1, save_best=None),
)
