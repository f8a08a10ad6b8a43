# Scaled by: python tools/scale.py configs/timesformer/timesformer_divST_deit-micro_1xb16-motion-small.py --strategy configs/scaling/deit_width.yaml --budget flops=0.5x --out configs/timesformer/timesformer_divST_deit-micro-width-0.5x_1xb16-motion-small.py
# Base: I32 d2 h2 e32 r4 (configs/timesformer/timesformer_divST_deit-micro_1xb16-motion-small.py); strategy: deit-width-only (configs/scaling/deit_width.yaml)
# Scaled: I32 d2 h1 e32 r4, 5.938M for the budget flops=10.48M (43.32% below; FLOPs (multiply-adds, analytic))
# FLOPs 5.938M (multiply-adds), params 43.3K (4 classes)
# note: strategy found on deit, applied to video-deit (transfer)
_base_ = ['timesformer_divST_deit-micro_1xb16-motion-small.py']

model = dict(
    backbone=dict(
        arch=dict(_delete_=True, depth=2, num_heads=1, head_dim=32, mlp_ratio=4.0),
        img_size=32,
        patch_size=8,
        num_frames=8,
        attention_type='divided_space_time'),
    cls_head=dict(in_channels=32))
