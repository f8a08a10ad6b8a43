"""What every classification data set of the package shares: timm's transforms, mmengine's items."""
from typing import Optional

import torch
from mmengine.dataset import BaseDataset
from mmengine.structures import BaseDataElement
from PIL import Image
from timm.data import create_transform


def build_transform(cfg: Optional[dict] = None):
    """``timm.data.create_transform(**cfg)`` in prefetcher mode: PIL image -> uint8 CHW tensor.

    Normalisation and random erasing happen per batch in ``ViTDataPreprocessor``, as timm does them
    in its prefetcher; so erasing options here would be silently ignored, and are refused.
    """
    cfg = dict(cfg or {})
    for key in ('re_prob', 'use_prefetcher', 'normalize'):
        if key in cfg:
            raise ValueError(f'transform option {key!r} is not used here: normalisation and random '
                             "erasing are set in the model's data_preprocessor "
                             "(ViTDataPreprocessor's mean, std and random_erasing)")
    return create_transform(**cfg, use_prefetcher=True)


class ClsDataset(BaseDataset):
    """An mmengine ``BaseDataset`` whose items are ``dict(inputs=uint8 CHW tensor,
    data_samples=BaseDataElement(gt_label=(1,) long tensor))``; both of mmengine's collates
    (``pseudo_collate``, ``default_collate``) batch them.

    Subclasses list the samples (``load_data_list``: dicts with ``gt_label``) and open one
    (``load_image``). ``transform`` holds the keyword arguments of ``timm.data.create_transform``.
    """

    def __init__(self, transform: Optional[dict] = None, **kwargs):
        self.transform = build_transform(transform)
        super().__init__(**kwargs)

    def load_image(self, info: dict) -> Image.Image:
        raise NotImplementedError

    def prepare_data(self, idx: int) -> dict:
        info = self.get_data_info(idx)
        img = self.load_image(info)
        meta = dict(sample_idx=idx, ori_shape=(img.height, img.width))
        if 'img_path' in info:
            meta['img_path'] = info['img_path']
        sample = BaseDataElement(metainfo=meta)
        sample.gt_label = torch.tensor([info['gt_label']], dtype=torch.long)
        return dict(inputs=self.transform(img), data_samples=sample)
