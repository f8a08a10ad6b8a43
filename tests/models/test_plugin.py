"""Downstream configs reach vit_scaled's modules through custom_imports, in each package's scope.

What a package imports is checked in a fresh interpreter as well: within the suite an earlier
test's imports can hide a module that a user's first import would miss (mmaction2 1.2.0 imports
``importlib_metadata`` without declaring it)."""
import glob
import os.path as osp
import subprocess
import sys

import pytest


def first_config(configs_dir, folder):
    """A downstream folder's first config (what each folder holds is its own issue's business)."""
    paths = sorted(glob.glob(osp.join(configs_dir, folder, '*.py')))
    assert paths, f'no config in configs/{folder}'
    return paths[0]


@pytest.mark.parametrize('folder, default_scope, neck_or_head', [
    ('deformable_detr', 'mmdet', 'neck'),
    ('vitpose', 'mmpose', 'head'),
    ('timesformer', 'mmaction', 'cls_head'),
])
def test_downstream_config_builds_full_model_with_our_backbone(folder, default_scope, neck_or_head,
                                                               build_from_config, configs_dir):
    cfg, model = build_from_config(first_config(configs_dir, folder))
    assert cfg.default_scope == default_scope
    assert type(model.backbone).__module__.startswith('vit_scaled.models.')
    assert getattr(model, neck_or_head) is not None


def test_mmaction_models_import_despite_missing_drn():
    import mmaction.models  # noqa: F401  (fails on a bare mmaction2 1.2.0 without the shim)
    from mmaction.models.localizers import DRN
    with pytest.raises(RuntimeError, match='DRN is missing'):
        DRN()


def _fresh(root, code):
    proc = subprocess.run([sys.executable, '-c', code], cwd=root, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_mmaction_models_import_and_config_build_in_a_fresh_process(root, configs_dir):
    """``import mmaction.models`` first thing in a new interpreter, then the config's own route:
    custom_imports, mmaction's scope and registry. (One process for both: starting one costs
    tens of seconds on a busy 2-core machine.)"""
    config = first_config(configs_dir, 'timesformer')
    out = _fresh(root, f"""
import vit_scaled, mmaction.models
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.utils import import_modules_from_strings
cfg = Config.fromfile({config!r})
import_modules_from_strings(**cfg.custom_imports)
init_default_scope(cfg.default_scope)
from mmaction.registry import MODELS
print(type(MODELS.build(cfg.model).backbone).__module__)
""")
    assert out.split()[-1].startswith('vit_scaled.models.')
