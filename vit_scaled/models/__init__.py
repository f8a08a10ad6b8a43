from .classifier import ViTClassifier
from .data_preprocessor import ViTDataPreprocessor
from .deit import DeiTScaled
from .pit import PiTScaled

__all__ = ['DeiTScaled', 'PiTScaled', 'ViTClassifier', 'ViTDataPreprocessor']
