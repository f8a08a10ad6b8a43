# The small set at stride 8 with shifted pooling windows (vitpose_deit-small-s8-win8-shift-pool):
# 4 x 4-token windows on the 16 x 12 grid, 4 x 3 of them as 8 x 8 windows make on COCO's 32 x 24.
_base_ = ['./vitpose_deit-d4-s8_synth-128x96.py']

model = dict(backbone=dict(window_size=(4, 4), shift_window=True, pool_window=True))
