# Joint space-time attention (one attention over all 8 x 196 patch tokens and the class token).
_base_ = ['./timesformer_divST_deit-tiny_8xb8-8x32x1-15e_kinetics400-rgb.py']
model = dict(backbone=dict(attention_type='joint_space_time'))
