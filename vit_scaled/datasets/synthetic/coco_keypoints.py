"""A small, seeded COCO-keypoint set of articulated figures, read by mmpose's ``CocoDataset``.

Each image is a JPEG with one to four person-like figures on a textured, cluttered background.
A figure is drawn from the 17 COCO joints (nose, eyes, ears, shoulders, elbows, wrists, hips,
knees, ankles): a filled torso between shoulders and hips, thick limbs between the joints, a head
with eyes, nose and ears. Pose (lean, arm and leg angles, bends, head tilt and turn), size,
aspect, colours and position vary; figures overlap one another, occluders cover parts, and some
run off the image border.

Figures face the viewer, so a person's left side is on the image's right: left and right are
told apart by the figure's structure, which survives a horizontal flip with mmpose's swapped
labels (flip augmentation and flip testing keep their meaning).

Annotations follow COCO's person_keypoints files:
- ``keypoints``: x, y, v per joint; v=2 visible, v=1 inside the image but covered (by an occluder
  or a figure drawn later), v=0 outside the image (then x = y = 0, as COCO writes unlabelled
  joints); ``num_keypoints`` counts v > 0.
- ``bbox``: the extent of the figure as drawn on its own, clipped to the image (so it includes the
  parts others cover); ``area``: that figure's pixel count inside the image (COCO's is the mask
  area), the scale OKS uses.
- one category, ``person`` (id 1), with COCO's keypoint names and skeleton; ``iscrowd`` is 0.
Figures with no joint inside the image are not annotated (and not drawn).

    from vit_scaled.datasets.synthetic.coco_keypoints import write_coco_keypoints
    write_coco_keypoints('data/coco_kpts_small', num_train=300, num_val=60, seed=0)
    # -> train/*.jpg, val/*.jpg, annotations/person_keypoints_{train,val}.json

The same arguments write byte-identical files (numpy's seeded generator, OpenCV's JPEG encoder).
"""
import json
import os
import os.path as osp
from typing import Dict, List, Sequence, Tuple

import cv2
import numpy as np

from ...fileio import atomic_open, write_atomically

KEYPOINT_NAMES = (
    'nose', 'left_eye', 'right_eye', 'left_ear', 'right_ear', 'left_shoulder', 'right_shoulder',
    'left_elbow', 'right_elbow', 'left_wrist', 'right_wrist', 'left_hip', 'right_hip',
    'left_knee', 'right_knee', 'left_ankle', 'right_ankle')
# COCO's person skeleton (1-based joint indices, as in person_keypoints_*.json).
SKELETON = [[16, 14], [14, 12], [17, 15], [15, 13], [12, 13], [6, 12], [7, 13], [6, 7], [6, 8],
            [7, 9], [8, 10], [9, 11], [2, 3], [1, 2], [1, 3], [2, 4], [3, 5], [4, 6], [5, 7]]
CATEGORY = dict(id=1, name='person', supercategory='person', keypoints=list(KEYPOINT_NAMES),
                skeleton=SKELETON)
OCCLUDER = 255  # label of occluders in the owner map (figures are 1, 2, ...)

_J = {n: i for i, n in enumerate(KEYPOINT_NAMES)}
# Limbs drawn as thick segments: (joint, joint, thickness as a fraction of figure height, part).
_LIMBS = [('left_hip', 'left_knee', .075, 'legs'), ('left_knee', 'left_ankle', .06, 'legs'),
          ('right_hip', 'right_knee', .075, 'legs'), ('right_knee', 'right_ankle', .06, 'legs'),
          ('left_shoulder', 'left_elbow', .055, 'top'), ('left_elbow', 'left_wrist', .045, 'skin'),
          ('right_shoulder', 'right_elbow', .055, 'top'),
          ('right_elbow', 'right_wrist', .045, 'skin')]


def _unit(angle: float) -> np.ndarray:
    """Direction at ``angle`` radians from straight down (image y grows downwards)."""
    return np.array([np.sin(angle), np.cos(angle)])


def random_pose(rng: np.random.Generator, height: float, center: Sequence[float],
                pose_range: float = 1.0) -> np.ndarray:
    """17 x 2 joint positions (image pixels) of a figure ``height`` pixels tall whose pelvis is
    at ``center``, in a random pose. ``pose_range`` scales every angle's spread about a standing
    pose (arms slightly out, limbs straight): 1 the full range, smaller values nearer that pose
    (the same random draws, so the same figure, less articulated)."""
    h = height
    j = np.zeros((17, 2))
    pelvis = np.asarray(center, float)

    def spread(neutral, draw):
        return neutral + pose_range * (draw - neutral)

    lean = spread(0, rng.normal(0, 0.15))               # torso from vertical
    turn = rng.uniform(0.55, 1.0)                       # shoulder / hip width seen (body turned)
    up = -_unit(lean)                                   # pelvis -> neck
    side = np.array([-up[1], up[0]])                    # the person's left: the image's right
    neck = pelvis + up * 0.30 * h
    j[_J['left_shoulder']] = neck + side * 0.11 * h * turn
    j[_J['right_shoulder']] = neck - side * 0.11 * h * turn
    j[_J['left_hip']] = pelvis + side * 0.075 * h * turn
    j[_J['right_hip']] = pelvis - side * 0.075 * h * turn
    for s, sign in (('left', 1), ('right', -1)):        # sign: outwards is +x for the left side
        upper = lean + sign * spread(0.2, rng.uniform(-0.3, 1.9))  # arm: down (0) to raised
        elbow = j[_J[f'{s}_shoulder']] + _unit(upper) * 0.17 * h
        fore = upper + rng.choice([-1, 1]) * spread(0, rng.uniform(0, 1.6))
        j[_J[f'{s}_elbow']] = elbow
        j[_J[f'{s}_wrist']] = elbow + _unit(fore) * 0.15 * h
        thigh = lean + sign * spread(0.1, rng.uniform(-0.15, 0.6))
        if rng.random() < 0.1:                           # a raised knee (walking, sitting)
            thigh += sign * spread(0, rng.uniform(0.3, 0.8))
        knee = j[_J[f'{s}_hip']] + _unit(thigh) * 0.24 * h
        shin = thigh - sign * spread(0, rng.uniform(0, 1.2))
        j[_J[f'{s}_knee']] = knee
        j[_J[f'{s}_ankle']] = knee + _unit(shin) * 0.22 * h
    tilt = lean + spread(0, rng.normal(0, 0.2))
    head = neck - _unit(tilt) * 0.12 * h
    yaw = spread(0, rng.uniform(-0.4, 0.4))  # head turned: the face shifts sideways
    hside = np.array([np.cos(tilt), np.sin(tilt)])       # the head's own left-to-right (image)
    hup = -_unit(tilt)
    j[_J['nose']] = head + hside * yaw * 0.05 * h - hup * 0.01 * h
    for s, sign in (('left', 1), ('right', -1)):
        j[_J[f'{s}_eye']] = head + hside * (yaw * 0.04 + sign * 0.025) * h + hup * 0.02 * h
        j[_J[f'{s}_ear']] = head + hside * sign * 0.062 * h * (1 - sign * yaw * 0.3) + hup * 0.01 * h
    return j


def _colour(rng) -> Tuple[int, int, int]:
    return tuple(int(c) for c in rng.integers(0, 256, 3))


def draw_figure(canvas: np.ndarray, owner: np.ndarray, label: int, joints: np.ndarray,
                height: float, rng: np.random.Generator) -> np.ndarray:
    """Draw one figure on ``canvas`` (BGR) and ``label`` on ``owner``; returns its own mask."""
    mask = np.zeros(owner.shape, np.uint8)
    colours = dict(top=_colour(rng), legs=_colour(rng),
                   skin=tuple(int(c) for c in np.array([150, 180, 225]) * rng.uniform(0.4, 1.1)))
    S = 16  # drawing at 1/16 pixel (cv2's shift=4) keeps sub-pixel joint positions

    def pts(*names):
        return [tuple(int(round(v * S)) for v in joints[_J[n]]) for n in names]

    def thick(f):
        return max(1, int(round(f * height)))

    layers = [(canvas, None), (owner, label), (mask, 1)]
    torso = np.array(pts('left_shoulder', 'right_shoulder', 'right_hip', 'left_hip'), np.int32)
    for img, value in layers:
        cv2.fillPoly(img, [torso], colours['top'] if value is None else value, cv2.LINE_8, 4)
    for a, b, t, part in _LIMBS:
        pa, pb = pts(a, b)
        for img, value in layers:
            c = colours[part] if value is None else value
            cv2.line(img, pa, pb, c, thick(t), cv2.LINE_AA if value is None else cv2.LINE_8, 4)
            cv2.circle(img, pb, int(thick(t) * S / 2), c, -1, cv2.LINE_8, 4)
    # Head: the skin disc, ears on its sides, then eyes and nose as dark and reddish dots.
    ears = (joints[_J['left_ear']] + joints[_J['right_ear']]) / 2
    centre = tuple(int(round(v * S)) for v in ears)
    for img, value in layers:
        c = colours['skin'] if value is None else value
        cv2.circle(img, centre, int(0.07 * height * S), c, -1, cv2.LINE_8, 4)
        for ear in pts('left_ear', 'right_ear'):
            cv2.circle(img, ear, int(0.022 * height * S), c, -1, cv2.LINE_8, 4)
    dark = tuple(int(c * 0.55) for c in colours['skin'])
    for ear in pts('left_ear', 'right_ear'):
        cv2.circle(canvas, ear, int(0.012 * height * S), dark, -1, cv2.LINE_AA, 4)
    for eye in pts('left_eye', 'right_eye'):
        cv2.circle(canvas, eye, max(S, int(0.012 * height * S)), (20, 20, 20), -1, cv2.LINE_AA, 4)
    cv2.circle(canvas, pts('nose')[0], max(S, int(0.011 * height * S)), (40, 40, 160), -1,
               cv2.LINE_AA, 4)
    return mask


def _texture(rng, h: int, w: int, texture: float = 1.0) -> np.ndarray:
    """A background: a colour gradient, low-frequency noise, stripes or checks, and clutter
    strokes (segments and blobs like limbs and heads, so that figures are not found by edges).
    ``texture`` scales the noise and pattern amplitudes and the number of strokes (0: a plain
    gradient)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    c0, c1 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    t = (xx * rng.uniform(-1, 1) + yy * rng.uniform(-1, 1)) / max(h, w)
    img = c0 + (c1 - c0) * (t[..., None] - t.min()) / (np.ptp(t) + 1e-6)
    noise = cv2.resize(rng.normal(0, 30, (h // 16 + 1, w // 16 + 1, 3)).astype(np.float32), (w, h),
                       interpolation=cv2.INTER_CUBIC)
    img = img + texture * noise
    kind = rng.integers(3)
    if kind == 0:    # stripes
        period, ang = rng.uniform(6, 30), rng.uniform(0, np.pi)
        img += texture * 25 * np.sign(np.sin((xx * np.cos(ang) + yy * np.sin(ang)) * 2 * np.pi / period))[..., None]
    elif kind == 1:  # checks
        p = int(rng.integers(8, 32))
        img += texture * 20 * (((xx // p + yy // p) % 2) * 2 - 1)[..., None]
    img = np.clip(img + texture * rng.normal(0, 6, img.shape), 0, 255).astype(np.uint8)
    for _ in range(int(round(rng.integers(2, 8) * texture))):
        p0 = rng.uniform(0, 1, 2) * (w, h)
        p1 = p0 + rng.normal(0, 0.15, 2) * (w, h)
        if rng.random() < 0.7:
            cv2.line(img, tuple(int(v) for v in p0), tuple(int(v) for v in p1), _colour(rng),
                     int(rng.integers(2, 6)), cv2.LINE_AA)
        else:
            cv2.circle(img, tuple(int(v) for v in p0), int(rng.integers(3, 14)), _colour(rng), -1,
                       cv2.LINE_AA)
    return img


def _occluder(rng, canvas, owner, joints: np.ndarray, height: float):
    """A box or an ellipse over part of a figure (near one of its joints)."""
    h, w = owner.shape
    c = joints[rng.integers(17)] + rng.normal(0, 0.05, 2) * height
    size = rng.uniform(0.08, 0.25, 2) * height
    colour = _colour(rng)
    if rng.random() < 0.5:
        p0 = tuple(int(v) for v in c - size / 2)
        p1 = tuple(int(v) for v in c + size / 2)
        for img, value in ((canvas, colour), (owner, OCCLUDER)):
            cv2.rectangle(img, p0, p1, value, -1)
    else:
        axes = tuple(int(v / 2) for v in size)
        angle = float(rng.uniform(0, 180))
        for img, value in ((canvas, colour), (owner, OCCLUDER)):
            cv2.ellipse(img, tuple(int(v) for v in c), axes, angle, 0, 360, value, -1)


def render_image(rng: np.random.Generator, width: int, height: int, max_figures: int = 4,
                 texture: float = 1.0, occlusion: float = 0.35,
                 pose_range: float = 1.0) -> Tuple[np.ndarray, List[dict]]:
    """One image (BGR) and the annotations (COCO fields, without ids) of its figures;
    ``occlusion`` is each figure's chance of an occluder."""
    canvas = _texture(rng, height, width, texture)
    owner = np.zeros((height, width), np.uint8)
    figures = []
    n = int(rng.integers(1, max_figures + 1))
    for label in range(1, n + 1):
        fig_h = rng.uniform(0.3, 0.85) * height * rng.uniform(0.9, 1.1)
        for _ in range(20):  # keep pelvises apart: two figures on one spot would be one target
            centre = rng.uniform([0.02 * width, 0.35 * height], [0.98 * width, 0.95 * height])
            if all(np.linalg.norm(centre - f['centre']) > 0.3 * min(fig_h, f['height'])
                   for f in figures):
                break
        else:
            continue
        joints = random_pose(rng, fig_h, centre, pose_range)
        inside = (joints[:, 0] >= 0) & (joints[:, 0] < width) & (joints[:, 1] >= 0) & \
            (joints[:, 1] < height)
        if not inside.any():
            continue
        mask = draw_figure(canvas, owner, label, joints, fig_h, rng)
        figures.append(dict(label=label, joints=joints, inside=inside, mask=mask, height=fig_h,
                            centre=centre))
        if rng.random() < occlusion:
            _occluder(rng, canvas, owner, joints, fig_h)
    anns = []
    for f in figures:
        ys, xs = np.nonzero(f['mask'])
        if not len(xs):
            continue
        kpts = []
        for (x, y), inside in zip(f['joints'], f['inside']):
            if not inside:
                kpts += [0, 0, 0]
                continue
            seen = owner[int(y), int(x)] == f['label']
            kpts += [round(float(x), 2), round(float(y), 2), 2 if seen else 1]
        x0, y0, x1, y1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
        anns.append(dict(category_id=1, iscrowd=0, keypoints=kpts,
                         num_keypoints=int(sum(v > 0 for v in kpts[2::3])),
                         bbox=[float(x0), float(y0), float(x1 - x0), float(y1 - y0)],
                         area=float(len(xs))))
    return canvas, anns


def write_split(root: str, split: str, num_images: int, seed: int,
                sizes: Sequence[Tuple[int, int]] = ((256, 192), (320, 240), (240, 320)),
                max_figures: int = 4, quality: int = 90, **draw) -> Dict[str, object]:
    """``num_images`` JPEGs in ``root/split/`` and ``root/annotations/person_keypoints_<split>.json``;
    returns the annotation file's path and the numbers of images and annotated figures.
    ``draw``: ``texture``, ``occlusion``, ``pose_range`` of ``render_image``."""
    rng = np.random.default_rng(seed)
    os.makedirs(osp.join(root, split), exist_ok=True)
    images, annotations = [], []
    for i in range(num_images):
        w, h = sizes[int(rng.integers(len(sizes)))]
        img, anns = render_image(rng, w, h, max_figures, **draw)
        name = f'{i:06d}.jpg'
        ok, buf = cv2.imencode('.jpg', img, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise RuntimeError(f'OpenCV could not encode {name}')
        write_atomically(osp.join(root, split, name), buf.tobytes())
        images.append(dict(id=i + 1, file_name=name, width=w, height=h))
        for a in anns:
            annotations.append(dict(id=len(annotations) + 1, image_id=i + 1, **a))
    path = osp.join(root, 'annotations', f'person_keypoints_{split}.json')
    with atomic_open(path, 'w') as f:
        json.dump(dict(info=dict(description=f'vit_scaled synthetic keypoints, {split}, seed {seed}'),
                       images=images, annotations=annotations, categories=[CATEGORY]), f)
    return dict(ann_file=path, images=len(images), figures=len(annotations))


def write_coco_keypoints(root: str, num_train: int = 300, num_val: int = 60, seed: int = 0,
                         max_figures: int = 4, texture: float = 1.0, occlusion: float = 0.35,
                         pose_range: float = 1.0, **kwargs) -> Dict[str, dict]:
    """Both splits (the validation split from its own seed); returns, per split, what
    ``write_split`` does. The defaults draw the full set; ``max_figures=1``, a fainter
    ``texture`` (0..1), fewer occluders (``occlusion``, a probability) and a narrower
    ``pose_range`` (0..1] draw a lighter one."""
    for name, n in (('num_train', num_train), ('num_val', num_val), ('max_figures', max_figures)):
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f'{name}={n!r} is invalid: expected a positive integer')
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f'seed={seed!r} is invalid: expected a non-negative integer')
    for name, v, lo_open in (('texture', texture, False), ('occlusion', occlusion, False),
                             ('pose_range', pose_range, True)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not \
                ((0 < v if lo_open else 0 <= v) and v <= 1):
            raise ValueError(f'{name}={v!r} is invalid: expected a number in '
                             f'{"(0, 1]" if lo_open else "[0, 1]"}')
    kwargs.update(max_figures=max_figures, texture=texture, occlusion=occlusion,
                  pose_range=pose_range)
    return {'train': write_split(root, 'train', num_train, seed, **kwargs),
            'val': write_split(root, 'val', num_val, seed + 1_000_003, **kwargs)}
