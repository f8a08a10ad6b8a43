# Space-only attention: the image model on each frame, the frames' tokens averaged (no time
# embedding, no temporal attention: it cannot see the order of frames).
_base_ = ['./timesformer_divST_deit-tiny_8xb8-8x32x1-15e_kinetics400-rgb.py']
model = dict(backbone=dict(attention_type='space_only'))
