# The small set at stride 8 (vitpose_deit-small-s8_coco-256x192.py's change): overlapping
# patches give a 16 x 12 grid at 128 x 96, and one deconvolution reaches the 32 x 24 heatmaps.
# Global attention.
_base_ = ['./vitpose_deit-d4_synth-128x96.py']

model = dict(
    backbone=dict(patch_stride=8),
    head=dict(deconv_out_channels=(64, ), deconv_kernel_sizes=(4, )))
