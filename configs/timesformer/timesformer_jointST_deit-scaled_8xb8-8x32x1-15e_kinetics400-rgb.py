# The DeiT-Scaled backbone (the divided config's shape) with joint space-time attention; its FLOPs per
# clip against the DeiT-Tiny-wide jointST config's are in docs/video.md.
_base_ = ['./timesformer_divST_deit-scaled_8xb8-8x32x1-15e_kinetics400-rgb.py']
model = dict(backbone=dict(attention_type='joint_space_time'))
