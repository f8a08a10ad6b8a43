# Stride 8 with ViTDet's layout: 8 x 8-token windows in every block but every fourth (3, 7, 11),
# which attends globally; no shift, no pooling. The paper's Table 5 (ViTPose-B): 76.9 AP at
# 28.6 GB training memory.
_base_ = ['./vitpose_deit-small-s8_coco-256x192.py']

model = dict(backbone=dict(window_size=(8, 8),
                           window_block_indexes=[0, 1, 2, 4, 5, 6, 8, 9, 10]))
