# Deformable DETR with iterative box refinement on DeiT-Scaled: what mmdet's
# deformable-detr-refine_r50_16xb2-50e_coco.py changes from its base, applied to the DeiT-Scaled
# config (a config cannot inherit both: mmengine refuses keys defined in two bases).
_base_ = ['./deformable-detr_deit-scaled_16xb2-50e_coco.py']
model = dict(with_box_refine=True)
