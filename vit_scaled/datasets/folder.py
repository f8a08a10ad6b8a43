"""ImageNet-style folder data sets: ``root/<split>/<class>/<image>``, or a ``path label`` list."""
import os
from typing import Optional, Sequence

from mmengine.fileio import list_from_file
from mmengine.registry import DATASETS
from PIL import Image

from .base import ClsDataset

# torchvision's ImageFolder extensions, compared case-insensitively (ImageNet's are '.JPEG').
IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif', '.tiff', '.webp')


@DATASETS.register_module()
class ImageFolderDataset(ClsDataset):
    """Images under ``data_root/split``, labelled like torchvision's ``ImageFolder``.

    Without ``ann_file``, each sub-folder of ``data_root/split`` is a class, classes sorted by
    name, label = index; images are found recursively, in sorted order. With ``ann_file``
    (relative to ``data_root``), each line is ``relative/path.JPEG label`` with the path relative to
    ``data_root/split``, as mmpretrain's ImageNet reads ``meta/train.txt`` and ``meta/val.txt``.

    Args:
        data_root: the data set's root, e.g. ``data/imagenet``.
        split: the sub-folder of one split, e.g. ``train`` or ``val``.
        ann_file: optional list file, e.g. ``meta/val.txt``.
        classes: class names in label order, or a text file of them (one per line, relative to
            ``data_root``). Needed with an ``ann_file`` for names (otherwise
            ``'0'..'N-1'``); with folders, it selects and orders the class folders.
        transform: keyword arguments of ``timm.data.create_transform``.
        **kwargs: the rest of mmengine's ``BaseDataset`` (``indices``, ``lazy_init``, ...).
    """

    def __init__(self, data_root: str = '', split: str = '', ann_file: str = '',
                 classes: Optional[Sequence[str]] = None, transform: Optional[dict] = None,
                 **kwargs):
        if isinstance(classes, str):  # a text file, one name per line
            classes = list_from_file(os.path.join(data_root, classes))
        metainfo = dict(classes=tuple(classes)) if classes is not None else None
        super().__init__(transform=transform, data_root=data_root, ann_file=ann_file,
                         data_prefix=dict(img_path=split), metainfo=metainfo, **kwargs)

    def load_data_list(self) -> list:
        img_dir = self.data_prefix['img_path']
        classes = self._metainfo.get('classes')
        if self.ann_file:
            samples = self._read_ann_file()
            if classes is None:
                classes = [str(i) for i in range(max(label for _, label in samples) + 1)]
            for path, label in samples:
                if not 0 <= label < len(classes):
                    raise ValueError(f'{self.ann_file}: label {label} of {path} is outside the '
                                     f'{len(classes)} classes')
        else:
            if not os.path.isdir(img_dir):
                raise FileNotFoundError(f'{img_dir} is not a folder: expected <data_root>/<split>/'
                                        '<class>/<image>, see docs/classification.md')
            if classes is None:
                classes = sorted(e.name for e in os.scandir(img_dir) if e.is_dir())
            samples = self._scan(img_dir, classes)
        self._metainfo['classes'] = tuple(classes)
        return [dict(img_path=os.path.join(img_dir, path), gt_label=label)
                for path, label in samples]

    def _read_ann_file(self) -> list:
        samples = []
        with open(self.ann_file) as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                parts = line.rsplit(maxsplit=1)
                if len(parts) != 2 or not parts[1].lstrip('-').isdigit():
                    raise ValueError(f'{self.ann_file}:{n}: expected "path label", got {line!r}')
                samples.append((parts[0], int(parts[1])))
        if not samples:
            raise ValueError(f'{self.ann_file} lists no images')
        return samples

    @staticmethod
    def _scan(img_dir: str, classes: Sequence[str]) -> list:
        samples, empty = [], []
        for label, name in enumerate(classes):
            walk = sorted(os.walk(os.path.join(img_dir, name), followlinks=True))
            found = [os.path.relpath(os.path.join(root, f), img_dir)
                     for root, _, files in walk
                     for f in sorted(files) if f.lower().endswith(IMG_EXTENSIONS)]
            if not found:
                empty.append(name)
            samples += [(path, label) for path in found]
        if empty or not classes:  # as torchvision's ImageFolder: an empty class is a mistake
            raise FileNotFoundError(f'{img_dir}: no images ({", ".join(IMG_EXTENSIONS)}) for '
                                    f'classes {empty or "(there are no class folders)"}')
        return samples

    def load_image(self, info: dict) -> Image.Image:
        with Image.open(info['img_path']) as img:
            return img.convert('RGB')
