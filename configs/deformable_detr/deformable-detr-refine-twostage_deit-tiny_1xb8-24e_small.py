# The DeiT-Tiny detector scaled down to train on CPU, on the small synthetic COCO-format set:
#     python tools/dataset_converters/make_coco_detection.py data/coco_det_small
#     python tools/analysis_tools/pretrain_shapes_backbone.py configs/deformable_detr/deformable-detr-refine-twostage_deit-tiny_1xb8-24e_small.py work_dirs/shapes_backbones/deit-tiny_small.pth
#     python tools/train.py configs/deformable_detr/deformable-detr-refine-twostage_deit-tiny_1xb8-24e_small.py
# A 4-block DeiT of DeiT-Tiny's width at 160 x 160, pretrained on separately drawn shapes (the
# second command: what ImageNet weights are to the COCO recipe; nothing can be downloaded here),
# at the COCO recipe's backbone lr x0.1; two levels (strides 8 and 16), two encoder and two
# decoder layers (width 256, which mmdet 3.3's two-stage proposal embedding requires; FFN 512),
# 100 queries, two-stage with box refinement, batch 8, AdamW 1e-3. Three two-stage options of
# CheckedDeformableDETR / OneToManyProposalDETRHead make it learn in hundreds of steps, not
# thousands (docs/detection.md, "What made the small detector learn"): proposals sized for
# objects of a fifth of the image and more (proposal_size), taken after an NMS so that the
# decoder's queries are distinct (distinct_queries), and matched one-to-many (proposal_repeats).
_base_ = ['./deformable-detr_deit-tiny_16xb2-50e_coco.py']

data_root = 'data/coco_det_small/'
metainfo = dict(classes=('circle', 'square', 'triangle'))
img_size = 160
embed_dims = 256
levels = 2

model = dict(
    num_queries=100,
    num_feature_levels=levels,
    with_box_refine=True,
    as_two_stage=True,
    proposal_size=0.2,
    distinct_queries=0.7,
    backbone=dict(
        arch=dict(_delete_=True, depth=4, num_heads=3, head_dim=64, mlp_ratio=4.0),
        img_size=img_size,
        out_indices=(3, ),
        drop_path_rate=0.0,
        init_cfg=dict(checkpoint='work_dirs/shapes_backbones/deit-tiny_small.pth')),
    neck=dict(out_channels=embed_dims, scale_factors=(2.0, 1.0)),
    encoder=dict(
        num_layers=2,
        layer_cfg=dict(
            self_attn_cfg=dict(embed_dims=embed_dims, num_levels=levels),
            ffn_cfg=dict(embed_dims=embed_dims, feedforward_channels=2 * embed_dims,
                         ffn_drop=0.0))),
    decoder=dict(
        num_layers=2,
        layer_cfg=dict(
            self_attn_cfg=dict(embed_dims=embed_dims, dropout=0.0),
            cross_attn_cfg=dict(embed_dims=embed_dims, num_levels=levels),
            ffn_cfg=dict(embed_dims=embed_dims, feedforward_channels=2 * embed_dims,
                         ffn_drop=0.0))),
    positional_encoding=dict(num_feats=embed_dims // 2),
    bbox_head=dict(type='OneToManyProposalDETRHead', proposal_repeats=4,
                   num_classes=len(metainfo['classes']), embed_dims=embed_dims),
    test_cfg=dict(max_per_img=100))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='Resize', scale=(img_size, img_size), keep_ratio=True),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(img_size, img_size), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
]
train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, metainfo=metainfo, ann_file='annotations/instances_train.json',
                 data_prefix=dict(img='train/'), pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, metainfo=metainfo, ann_file='annotations/instances_val.json',
                 data_prefix=dict(img='val/'), pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json')
test_evaluator = val_evaluator

optim_wrapper = dict(optimizer=dict(lr=1e-3))   # mmdet's backbone lr x0.1 is kept
max_epochs = 24
train_cfg = dict(max_epochs=max_epochs, val_interval=4)
param_scheduler = [
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[20], gamma=0.1)
]
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=max_epochs))
auto_scale_lr = dict(base_batch_size=8)
