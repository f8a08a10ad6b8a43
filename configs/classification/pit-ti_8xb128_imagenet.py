# PiT-Ti on ImageNet-1k with DeiT's recipe (300 epochs, 8 GPUs x 128 images, lr 1e-3), as PiT
# was trained. Published: 73.0 top-1 (Heo et al., "Rethinking Spatial Dimensions of Vision
# Transformers", ICCV 2021; naver-ai/pit README, pretrained-weights table).
_base_ = ['./deit-tiny_8xb128_imagenet.py']

model = dict(backbone=dict(_delete_=True, type='PiTScaled', arch='pit-ti', img_size=224,
                           drop_path_rate=0.1))
