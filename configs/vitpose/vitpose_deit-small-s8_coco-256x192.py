# ViTPose's higher-resolution setting (the paper's "1/8 feature size", its Table 5): overlapping
# 16 x 16 patches at stride 8 (padding 4), a 32 x 24 token grid, global attention in every block.
# The paper studies it on ViTPose-B; here on DeiT-Small (6 heads x 64; ViTPose-S has 12 x 32),
# the size the repo's other pose configs use. The stride-8 map needs one 2x deconvolution to
# reach the 64 x 48 heatmaps (the stride-16 decoder has two).
_base_ = ['./vitpose_deit-small_coco-256x192.py']

model = dict(
    backbone=dict(patch_stride=8),
    head=dict(deconv_out_channels=(256, ), deconv_kernel_sizes=(4, )))
