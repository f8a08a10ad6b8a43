"""vit_scaled: hardware-aware scaling of Vision Transformers on OpenMMLab.

``custom_imports=dict(imports=['vit_scaled'])`` in any mmdet / mmpose / mmaction2 config registers
the backbones (and the classifier, data sets and metric) in mmengine's root registries, which
every package's default scope searches. ``vit_scaled.cost`` and ``vit_scaled.scaling`` are
imported on use.
"""
from . import compat  # noqa: F401  (must run before anything loads a checkpoint)
from . import datasets, evaluation, optim  # noqa: F401  (registers data sets, metric, optimizer)
from .arch import DeiTArch, PiTArch, deit_arch, pit_arch
from .models import DeiTScaled, PiTScaled, ViTClassifier

__version__ = '0.1.0'
__all__ = ['DeiTArch', 'PiTArch', 'deit_arch', 'pit_arch', 'DeiTScaled', 'PiTScaled',
           'ViTClassifier']
