"""A small COCO-format detection set, written from a seed: real JPEG files under ``train/`` and
``val/`` and ``annotations/instances_{train,val}.json``, read by mmdet's ``CocoDataset`` and
evaluated by pycocotools like COCO itself.

Each image is a textured background (coloured sine gratings over smooth noise) with a few filled
shapes of ``CLASSES``, each of a random size, position, rotation and colour. Shapes may overlap;
a new shape is placed only where it leaves every earlier one at least ``min_visible`` of its
pixels. Boxes, areas and RLE masks describe the visible part, as COCO's do.

    from vit_scaled.datasets.synthetic.coco_detection import write_coco_detection
    write_coco_detection('data/coco_det_small', num_train=400, num_val=100, seed=0)
"""
import json
import os
import os.path as osp
from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

import numpy as np
from PIL import Image, ImageDraw

from ...fileio import atomic_open

CLASSES = ('circle', 'square', 'triangle')


@dataclass(frozen=True)
class DetectionSetSpec:
    """What ``write_coco_detection`` draws; every field is validated once here."""
    num_train: int = 400
    num_val: int = 100
    img_size: Tuple[int, int] = (160, 160)   # (H, W)
    objects: Tuple[int, int] = (1, 4)        # min, max objects per image
    size_range: Tuple[float, float] = (0.15, 0.5)  # object size as a share of the shorter side
    min_visible: float = 0.5                 # occluded objects keep at least this share
    texture: float = 1.0                     # 0 = flat grey background, 1 = full texture
    seed: int = 0
    jpeg_quality: int = 90

    def __post_init__(self):
        def bad(field, valid):
            return ValueError(f'{field}={getattr(self, field)!r} is invalid: expected {valid}')
        for field in ('num_train', 'num_val'):
            v = getattr(self, field)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise bad(field, 'a positive integer')
        if len(self.img_size) != 2 or any(not isinstance(s, int) or s < 32 for s in self.img_size):
            raise bad('img_size', '(H, W), integers of at least 32')
        lo, hi = self.objects
        if not (isinstance(lo, int) and isinstance(hi, int) and 1 <= lo <= hi <= 20):
            raise bad('objects', '(min, max) with 1 <= min <= max <= 20')
        lo, hi = self.size_range
        if not 0.05 <= lo <= hi <= 1:
            raise bad('size_range', '(min, max) shares with 0.05 <= min <= max <= 1')
        if not 0 < self.min_visible <= 1:
            raise bad('min_visible', 'a share in (0, 1]')
        if not 0 <= self.texture <= 1:
            raise bad('texture', 'a number in [0, 1]')
        if not 1 <= self.jpeg_quality <= 100:
            raise bad('jpeg_quality', 'an integer in 1..100')


def _background(rng: np.random.Generator, h: int, w: int, texture: float) -> np.ndarray:
    """Float RGB in [0, 255]: a base colour, two sine gratings in other colours, smooth noise."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.broadcast_to(rng.uniform(40, 215, 3), (h, w, 3)).copy()
    for _ in range(2):
        angle, period = rng.uniform(0, np.pi), rng.uniform(6, 40)
        phase = (xx * np.cos(angle) + yy * np.sin(angle)) * 2 * np.pi / period
        img += texture * np.sin(phase)[..., None] * rng.uniform(-45, 45, 3)
    coarse = rng.normal(0, 25, (h // 16 + 2, w // 16 + 2, 3)).astype(np.float32)
    noise = np.asarray(Image.fromarray(((coarse + 128).clip(0, 255)).astype(np.uint8))
                       .resize((w, h), Image.BICUBIC), dtype=np.float32) - 128
    img += texture * noise + texture * rng.normal(0, 6, (h, w, 3))
    return img.clip(0, 255)


def _shape_mask(rng: np.random.Generator, label: int, h: int, w: int, size: float) -> np.ndarray:
    """A boolean (h, w) mask of one shape of class ``label`` with a side of ``size`` pixels."""
    cx, cy = rng.uniform(size / 2, w - size / 2), rng.uniform(size / 2, h - size / 2)
    canvas = Image.new('L', (w, h), 0)
    draw = ImageDraw.Draw(canvas)
    r = size / 2
    name = CLASSES[label]
    if name == 'circle':
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=1)
    else:
        corners = 4 if name == 'square' else 3
        # a square's corners are at r*sqrt(2) from the centre; keep its side close to ``size``
        radius = r * (np.sqrt(2) if corners == 4 else 1.15)
        theta = rng.uniform(0, 2 * np.pi) + np.arange(corners) * 2 * np.pi / corners
        draw.polygon(list(zip(cx + radius * np.cos(theta), cy + radius * np.sin(theta))), fill=1)
    return np.asarray(canvas, dtype=bool)


def draw_image(rng: np.random.Generator, spec: DetectionSetSpec):
    """One image (uint8 RGB, before JPEG) and its objects: ``(label, visible mask)`` each; the
    next image of ``rng``'s stream, as ``write_coco_detection`` draws them."""
    h, w = spec.img_size
    img = _background(rng, h, w, spec.texture)
    owner = np.full((h, w), -1, dtype=np.int64)   # which object each pixel shows
    full_area: List[int] = []
    labels: List[int] = []
    for _ in range(int(rng.integers(spec.objects[0], spec.objects[1] + 1))):
        for _attempt in range(20):
            label = int(rng.integers(len(CLASSES)))
            size = rng.uniform(*spec.size_range) * min(h, w)
            mask = _shape_mask(rng, label, h, w, size)
            kept = owner.copy()
            kept[mask] = len(labels)
            if all((kept == i).sum() >= spec.min_visible * a for i, a in enumerate(full_area)):
                break
        else:
            continue   # no place that keeps the others visible: fewer objects in this image
        owner = kept
        full_area.append(int(mask.sum()))
        labels.append(label)
        colour = rng.uniform(0, 255, 3)
        shade = colour + rng.normal(0, 8, (h, w, 3))  # a little grain so flat colours do not give it away
        img[mask] = shade[mask]
    img = img.clip(0, 255).astype(np.uint8)
    return img, [(labels[i], owner == i) for i in range(len(labels))]


def _rle(mask: np.ndarray) -> dict:
    from pycocotools import mask as mask_util
    rle = mask_util.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle['counts'] = rle['counts'].decode('ascii')
    return rle


def _write_split(root: str, split: str, num: int, spec: DetectionSetSpec,
                 rng: np.random.Generator) -> Dict:
    os.makedirs(osp.join(root, split), exist_ok=True)
    images, annotations = [], []
    for image_id in range(1, num + 1):
        img, objects = draw_image(rng, spec)
        file_name = f'{image_id:06d}.jpg'
        Image.fromarray(img).save(osp.join(root, split, file_name), quality=spec.jpeg_quality)
        images.append(dict(id=image_id, file_name=file_name, height=img.shape[0], width=img.shape[1]))
        for label, mask in objects:
            ys, xs = np.nonzero(mask)
            x0, y0 = int(xs.min()), int(ys.min())
            annotations.append(dict(
                id=len(annotations) + 1, image_id=image_id, category_id=label + 1, iscrowd=0,
                bbox=[x0, y0, int(xs.max()) - x0 + 1, int(ys.max()) - y0 + 1],
                area=int(mask.sum()), segmentation=_rle(mask)))
    coco = dict(images=images, annotations=annotations,
                categories=[dict(id=i + 1, name=n, supercategory='shape') for i, n in enumerate(CLASSES)],
                info=dict(description=f'vit_scaled synthetic shapes, {split}', seed=spec.seed))
    with atomic_open(osp.join(root, 'annotations', f'instances_{split}.json'), 'w') as f:
        json.dump(coco, f)
    return coco


def write_coco_detection(root: str, num_train: int = 400, num_val: int = 100,
                         img_size: Sequence[int] = (160, 160), seed: int = 0,
                         **options) -> Dict[str, int]:
    """Write the set under ``root``; returns the number of images and objects per split.

    ``options`` are the other fields of ``DetectionSetSpec`` (``objects``, ``size_range``,
    ``min_visible``, ``texture``, ``jpeg_quality``). The same arguments write the same files.
    """
    if isinstance(img_size, int):
        img_size = (img_size, img_size)
    spec = DetectionSetSpec(num_train=num_train, num_val=num_val, img_size=tuple(img_size),
                            seed=seed, **{k: tuple(v) if isinstance(v, list) else v
                                          for k, v in options.items()})
    # one stream per split, so that val does not change when num_train does
    train_rng, val_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    counts = {}
    for split, num, rng in (('train', num_train, train_rng), ('val', num_val, val_rng)):
        coco = _write_split(root, split, num, spec, rng)
        counts[f'{split}_images'] = len(coco['images'])
        counts[f'{split}_objects'] = len(coco['annotations'])
    return counts
