from .base import ClsDataset, build_transform
from .digits import DigitsDataset
from .folder import ImageFolderDataset

__all__ = ['ClsDataset', 'build_transform', 'DigitsDataset', 'ImageFolderDataset']
