# The small-set model with space-only attention: the same recipe, but frames are seen apart and
# their tokens averaged, so it cannot see the order of frames (the control for the divided model).
_base_ = ['./timesformer_divST_deit-micro_1xb16-motion-small.py']
model = dict(backbone=dict(attention_type='space_only'))
