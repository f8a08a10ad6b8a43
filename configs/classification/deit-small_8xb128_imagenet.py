# DeiT-Small on ImageNet-1k, DeiT's recipe (300 epochs, 8 GPUs x 128 images, lr 1e-3).
# Published: 79.8 top-1 (Touvron et al., 2021, Table 7). Data layout: docs/classification.md.
_base_ = ['./deit-tiny_8xb128_imagenet.py']

model = dict(backbone=dict(arch='deit-small'))
