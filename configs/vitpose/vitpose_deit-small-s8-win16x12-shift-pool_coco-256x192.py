# Stride 8 with shifted pooling windows of 16 x 12 tokens (2 x 2 windows): the paper's best
# windowed setting, 77.1 AP at 26.8 GB (ViTPose-B, Table 5).
_base_ = ['./vitpose_deit-small-s8-win8-shift-pool_coco-256x192.py']

model = dict(backbone=dict(window_size=(16, 12)))
