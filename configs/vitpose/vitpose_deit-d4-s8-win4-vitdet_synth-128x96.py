# The small set at stride 8 with ViTDet's layout (vitpose_deit-small-s8-win8-vitdet): 4 x 4
# windows in every block but the last of the four (every fourth block global, as 3, 7, 11 of 12).
_base_ = ['./vitpose_deit-d4-s8_synth-128x96.py']

model = dict(backbone=dict(window_size=(4, 4), window_block_indexes=[0, 1, 2]))
