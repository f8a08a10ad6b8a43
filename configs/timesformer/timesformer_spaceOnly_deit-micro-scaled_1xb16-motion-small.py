# The DeiT-Scaled small-set model with space-only attention (the control; no order of frames).
# Its FLOPs per clip (18.23M) are not matched to the DeiT-Tiny-like space-only model's (15.83M):
# the shape is the divided model's, scaled at the divided model's budget.
_base_ = ['./timesformer_divST_deit-micro-scaled_1xb16-motion-small.py']
model = dict(backbone=dict(attention_type='space_only'))
