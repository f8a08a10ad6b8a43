"""Batch preprocessing for classification: normalise, then timm's random erasing while training."""
from typing import Optional, Sequence

from mmengine.model import ImgDataPreprocessor
from mmengine.registry import MODELS
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from timm.data.random_erasing import RandomErasing

IMAGENET_MEAN_255 = tuple(255 * m for m in IMAGENET_DEFAULT_MEAN)
IMAGENET_STD_255 = tuple(255 * s for s in IMAGENET_DEFAULT_STD)


@MODELS.register_module()
class ViTDataPreprocessor(ImgDataPreprocessor):
    """mmengine's ``ImgDataPreprocessor`` followed, in training only, by timm's ``RandomErasing``.

    The data sets yield uint8 images (timm's transforms in prefetcher mode); timm erases after
    normalisation, with noise drawn for normalised pixels (its ``PrefetchLoader``), so the first
    place where erasing is correct is here, right after this class normalises the batch.

    Args:
        mean, std: per-channel statistics on the 0-255 scale (ImageNet's by default).
        random_erasing: keyword arguments of ``timm.data.RandomErasing`` (DeiT:
            ``dict(probability=0.25, mode='pixel', max_count=1)``), or None for none.
    """

    def __init__(self,
                 mean: Sequence[float] = IMAGENET_MEAN_255,
                 std: Sequence[float] = IMAGENET_STD_255,
                 random_erasing: Optional[dict] = None,
                 **kwargs):
        super().__init__(mean=mean, std=std, **kwargs)
        self.random_erasing = RandomErasing(**random_erasing) if random_erasing else None

    def forward(self, data: dict, training: bool = False) -> dict:
        data = super().forward(data, training)
        if training and self.random_erasing is not None:
            inputs = data['inputs']
            self.random_erasing.device = inputs.device  # its noise must be drawn where the batch is
            data['inputs'] = self.random_erasing(inputs)
        return data
