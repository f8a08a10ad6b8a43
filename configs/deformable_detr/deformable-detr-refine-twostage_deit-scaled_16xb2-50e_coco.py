# Two-stage Deformable DETR with box refinement on DeiT-Scaled (mmdet's
# deformable-detr-refine-twostage_r50_16xb2-50e_coco.py adds exactly this to the refine config).
_base_ = ['./deformable-detr-refine_deit-scaled_16xb2-50e_coco.py']
model = dict(as_two_stage=True)
