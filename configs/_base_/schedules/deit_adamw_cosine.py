# DeiT's schedule (Touvron et al., 2021): AdamW, lr 5e-4 x batch / 512, weight decay 0.05 except on
# norms, biases and the position / class / distillation tokens (timm's no_weight_decay), 5 warm-up
# epochs from 1e-6, then cosine down to 1e-5, 300 epochs in all.
base_lr = 5e-4 * 1024 / 512  # the 8 x 128 batch of the configs here
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=base_lr, weight_decay=0.05, betas=(0.9, 0.999), eps=1e-8),
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        custom_keys={
            '.pos_embed': dict(decay_mult=0.0),
            '.cls_token': dict(decay_mult=0.0),
            '.dist_token': dict(decay_mult=0.0),
        }),
)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=5, end=300),
]
train_cfg = dict(by_epoch=True, max_epochs=300, val_interval=1)
val_cfg = dict()
test_cfg = dict()
# `tools/train.py --auto-scale-lr` rescales base_lr when the real total batch differs from this.
auto_scale_lr = dict(base_batch_size=1024)
