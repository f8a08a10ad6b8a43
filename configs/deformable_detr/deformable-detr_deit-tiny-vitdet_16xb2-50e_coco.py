# DeiT-Tiny as ViTDet runs a plain ViT in a detector: windows of 14 x 14 tokens in every block but
# four evenly spaced global ones (2, 5, 8, 11), and decomposed relative position in every block.
# Same neck, transformer and schedule as the global DeiT-Tiny config.
_base_ = ['./deformable-detr_deit-tiny_16xb2-50e_coco.py']

model = dict(
    backbone=dict(
        window_size=14,
        window_block_indexes=[0, 1, 3, 4, 6, 7, 9, 10],
        use_rel_pos=True))
