# DeiT-Tiny for ImageNet-1k with DeiT's regularisation: drop path 0.1, label smoothing 0.1,
# Mixup 0.8 / CutMix 1.0 (switch 0.5, per batch), random erasing 0.25 in per-pixel mode.
model = dict(
    type='ViTClassifier',
    backbone=dict(type='DeiTScaled', arch='deit-tiny', img_size=224, patch_size=16,
                  drop_path_rate=0.1),
    num_classes=1000,
    label_smoothing=0.1,
    mixup=dict(mixup_alpha=0.8, cutmix_alpha=1.0, prob=1.0, switch_prob=0.5, mode='batch'),
    data_preprocessor=dict(
        type='ViTDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        random_erasing=dict(probability=0.25, mode='pixel', max_count=1)),
)
