from .classifier import ViTClassifier
from .data_preprocessor import ViTDataPreprocessor
from .deit import DeiTScaled
from .necks import SimpleFeaturePyramid  # noqa: F401  (registers the ViTDet-style neck)
from .pit import PiTScaled
from .video import VideoDeiTScaled

__all__ = ['DeiTScaled', 'PiTScaled', 'ViTClassifier', 'ViTDataPreprocessor',
           'VideoDeiTScaled']
