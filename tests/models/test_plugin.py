"""Downstream configs reach vit_scaled's modules through custom_imports, in each package's scope."""
import os.path as osp

import pytest

from vit_scaled import DeiTScaled


@pytest.mark.parametrize('config, default_scope, neck_or_head', [
    ('deformable_detr/deformable-detr_deit-tiny_coco.py', 'mmdet', 'neck'),
    ('vitpose/vitpose_deit-small_coco-256x192.py', 'mmpose', 'head'),
    ('timesformer/tsn_deit-tiny_kinetics400.py', 'mmaction', 'cls_head'),
])
def test_downstream_config_builds_full_model_with_deit_scaled(config, default_scope, neck_or_head,
                                                              build_from_config, configs_dir):
    cfg, model = build_from_config(osp.join(configs_dir, config))
    assert cfg.default_scope == default_scope
    assert isinstance(model.backbone, DeiTScaled)
    assert getattr(model, neck_or_head) is not None


def test_mmaction_models_import_despite_missing_drn():
    import mmaction.models  # noqa: F401  (fails on a bare mmaction2 1.2.0 without the shim)
    from mmaction.models.localizers import DRN
    with pytest.raises(RuntimeError, match='DRN is missing'):
        DRN()
