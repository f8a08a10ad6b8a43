# ImageNet-1k in the folder layout of docs/classification.md, with DeiT's data recipe through timm's
# create_transform: random-resized crop, flip, colour jitter 0.4, RandAugment rand-m9-mstd0.5-inc1,
# bicubic; eval resizes to 256 and crops 224. Normalisation, random erasing (0.25, per-pixel noise)
# and Mixup / CutMix act on whole batches in the model (see ../models/deit-tiny_cls.py).
dataset_type = 'ImageFolderDataset'
data_root = 'data/imagenet'
img_size = 224
train_transform = dict(input_size=img_size, is_training=True, color_jitter=0.4,
                       auto_augment='rand-m9-mstd0.5-inc1', interpolation='bicubic')
val_transform = dict(input_size=img_size, crop_pct=0.875, interpolation='bicubic')

train_dataloader = dict(
    batch_size=128,
    num_workers=8,
    persistent_workers=True,
    drop_last=True,  # Mixup pairs samples: batches must be even
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, split='train', transform=train_transform),
)
val_dataloader = dict(
    batch_size=128,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, split='val', transform=val_transform),
)
val_evaluator = dict(type='TopKAccuracy', topk=(1, 5))
test_dataloader = val_dataloader
test_evaluator = val_evaluator
