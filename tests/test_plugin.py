"""Downstream configs reach vit_scaled's modules through custom_imports, in each package's scope."""
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.utils import import_modules_from_strings

CONFIGS = osp.join(osp.dirname(__file__), '..', 'configs')


def build_from_config(path):
    cfg = Config.fromfile(path)
    import_modules_from_strings(**cfg.custom_imports)
    init_default_scope(cfg.default_scope)
    registry = {
        'mmdet': 'mmdet.registry', 'mmpose': 'mmpose.registry', 'mmaction': 'mmaction.registry',
    }[cfg.default_scope]
    models = __import__(registry, fromlist=['MODELS']).MODELS
    return cfg, models.build(cfg.model)


@pytest.mark.parametrize('config, default_scope, neck_or_head', [
    ('deformable_detr/deformable-detr_deit-tiny_coco.py', 'mmdet', 'neck'),
    ('vitpose/vitpose_deit-small_coco-256x192.py', 'mmpose', 'head'),
    ('timesformer/tsn_deit-tiny_kinetics400.py', 'mmaction', 'cls_head'),
])
def test_downstream_config_builds_full_model_with_deit_scaled(config, default_scope, neck_or_head):
    from vit_scaled import DeiTScaled
    cfg, model = build_from_config(osp.join(CONFIGS, config))
    assert cfg.default_scope == default_scope
    assert isinstance(model.backbone, DeiTScaled)
    assert getattr(model, neck_or_head) is not None


def test_mmaction_models_import_despite_missing_drn():
    import mmaction.models  # noqa: F401  (fails on a bare mmaction2 1.2.0 without the shim)
    from mmaction.models.localizers import DRN
    with pytest.raises(RuntimeError, match='DRN is missing'):
        DRN()
