from .deit import DeiTScaled
from .pit import PiTScaled

__all__ = ['DeiTScaled']
__all__ += ['PiTScaled']
from .classifier import ViTClassifier
from .data_preprocessor import ViTDataPreprocessor
__all__ += ['ViTClassifier', 'ViTDataPreprocessor']
