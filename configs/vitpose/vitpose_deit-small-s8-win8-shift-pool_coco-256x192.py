# Stride 8 (32 x 24 tokens) with windowed attention in every block: 8 x 8-token windows (4 x 3 of
# them), Swin's shift in every second block and ViTPose's pooling windows (each window also
# attends to every window's pooled tokens). The paper's Table 5 (ViTPose-B): 76.8 AP at 22.9 GB
# training memory, against 77.4 AP at 36.1 GB for global attention.
_base_ = ['./vitpose_deit-small-s8_coco-256x192.py']

model = dict(backbone=dict(window_size=(8, 8), shift_window=True, pool_window=True))
