# PiT-XS on ImageNet-1k with DeiT's recipe. Published: 78.1 top-1 (Heo et al., ICCV 2021;
# naver-ai/pit README, pretrained-weights table).
_base_ = ['./pit-ti_8xb128_imagenet.py']

model = dict(backbone=dict(arch='pit-xs'))
