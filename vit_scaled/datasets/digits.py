"""The embedded default: scikit-learn's handwritten digits, real data that needs no download."""
import numpy as np
from mmengine.registry import DATASETS
from PIL import Image
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from .base import ClsDataset


@DATASETS.register_module()
class DigitsDataset(ClsDataset):
    """scikit-learn's ``load_digits``: 1,797 real 8x8 grey scans of the digits 0-9 (UCI optdigits).

    The split is stratified and fixed by ``seed``; ``val_fraction`` of each class goes to ``val``.
    Images are the 8x8 scans as RGB uint8 (0..16 stretched to 0..255); the ``transform``
    (``timm.data.create_transform`` arguments, e.g. ``input_size=32``) scales them up.

    Args:
        split: ``train`` or ``val``.
        val_fraction: share of the images held out for ``val``.
        seed: seed of the split.
        transform: keyword arguments of ``timm.data.create_transform``.
    """

    METAINFO = dict(classes=tuple(str(d) for d in range(10)))

    def __init__(self, split: str = 'train', val_fraction: float = 0.2, seed: int = 0,
                 transform=None, **kwargs):
        if split not in ('train', 'val'):
            raise ValueError(f"split={split!r} is invalid: choose 'train' or 'val'")
        self.split, self.val_fraction, self.seed = split, val_fraction, seed
        super().__init__(transform=transform, **kwargs)

    def load_data_list(self) -> list:
        digits = load_digits()
        train, val = train_test_split(np.arange(len(digits.target)), test_size=self.val_fraction,
                                      stratify=digits.target, random_state=self.seed)
        images = np.round(digits.images * (255 / 16)).astype(np.uint8)
        return [dict(img=images[i], gt_label=int(digits.target[i]), digits_index=int(i))
                for i in sorted(train if self.split == 'train' else val)]

    def load_image(self, info: dict) -> Image.Image:
        return Image.fromarray(info['img']).convert('RGB')
