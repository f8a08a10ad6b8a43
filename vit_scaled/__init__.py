"""vit_scaled: hardware-aware scaling of Vision Transformers on OpenMMLab.

``custom_imports=dict(imports=['vit_scaled'])`` in any mmdet / mmpose / mmaction2 config registers
the backbones in mmengine's root registries, which every package's default scope searches.
"""
from . import compat  # noqa: F401  (must run before anything loads a checkpoint)
from .arch import DeiTArch, deit_arch
from .arch import PiTArch, pit_arch
from .models import DeiTScaled
from .models import PiTScaled
from . import datasets, evaluation  # noqa: F401  (register the classification data sets, metric)

__version__ = '0.1.0'
__all__ = ['DeiTArch', 'deit_arch', 'DeiTScaled']
__all__ += ['PiTArch', 'pit_arch', 'PiTScaled']
