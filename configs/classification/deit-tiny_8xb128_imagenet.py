# DeiT-Tiny on ImageNet-1k, DeiT's recipe (300 epochs, 8 GPUs x 128 images, lr 1e-3).
# Published: 72.2 top-1 (Touvron et al., 2021, Table 7). Data layout: docs/classification.md.
_base_ = [
    '../_base_/models/deit-tiny_cls.py',
    '../_base_/datasets/imagenet_deit.py',
    '../_base_/schedules/deit_adamw_cosine.py',
    '../_base_/default_runtime.py',
]
