"""A small video set whose classes motion tells apart, written from a seed: real mp4 files
(MPEG-4 Part 2, ``mp4v``, which decord reads through mmaction2's ``DecordInit`` / ``DecordDecode``)
under ``train/`` and ``val/`` and mmaction2's annotation lists ``{train,val}_list.txt``
(``path label`` lines).

Each clip shows one or two bright rectangles moving together at a steady speed over a darker,
mildly textured background that wraps around (a torus: what leaves one side comes back on the
other). A class is an orientation of motion (``horizontal``, ``vertical``, ``diagonal``,
``antidiagonal``), each clip going one way or the other along it at random; the single directions
(``left``, ``right``, ``up``, ``down``) are classes too. Everything else is drawn anew for every
clip, the same way and in the same order in every class (colours, sizes, count, speed, start), so
appearance cannot be memorised, and a single frame says nothing about the class: with the same
draws, every class's clip has the same first frame, and since the start is uniform on the torus,
every later frame is that frame's objects moved to a uniformly distributed place, in every class
alike (docs/video.md: a space-only model, which sees every frame but not their order, reached
0.319 top-1 against 0.25 chance, the divided one 0.875).

Why it is built so (docs/video.md): displacements of 3-4 pixels a frame (about half a patch),
objects always brighter than the background (which pixels are an object is plain in one frame),
no distractors, few tokens (16 a frame), and the two ways of an orientation in one class (with
the four directions as classes, the small models here learnt the axis but not the way along it:
top-1 about 0.5, chance 0.25). An earlier version kept each run inside the frame instead of
wrapping; along the moving axis positions then spread like a trapezoid and across it uniformly,
and a frame-by-frame model read orientation from that (0.375 top-1 against 0.25 chance).

    from vit_scaled.datasets.synthetic.motion_video import write_motion_video
    write_motion_video('data/motion_small', num_train=800, num_val=200, seed=0)
"""
import os
import os.path as osp
from dataclasses import dataclass
from typing import Dict, Tuple

import numpy as np

from ...fileio import atomic_open

# A class is a set of directions (dy, dx); a clip takes one of them at random. The default classes
# are orientations of motion (each either way); the four single directions are there too.
MOTIONS = {
    'horizontal': ((0, 1), (0, -1)), 'vertical': ((1, 0), (-1, 0)),
    'diagonal': ((1, 1), (-1, -1)), 'antidiagonal': ((1, -1), (-1, 1)),
    'left': ((0, -1),), 'right': ((0, 1),), 'up': ((-1, 0),), 'down': ((1, 0),),
}
CLASSES = ('horizontal', 'vertical', 'diagonal', 'antidiagonal')


@dataclass(frozen=True)
class MotionSetSpec:
    """What ``write_motion_video`` draws; every field is validated once here."""
    num_train: int = 800
    num_val: int = 200
    frame_size: int = 32                          # square frames, a multiple of 16 (codec blocks)
    num_frames: int = 8
    classes: Tuple[str, ...] = CLASSES
    objects: Tuple[int, int] = (1, 2)             # min, max rectangles per clip
    object_size: Tuple[float, float] = (0.15, 0.25)  # each side, as a share of the frame side
    speed: Tuple[float, float] = (3.0, 4.0)       # pixels per frame
    texture: float = 0.1                          # background noise amplitude, share of 255
    fps: int = 8
    seed: int = 0

    def __post_init__(self):
        def bad(field, valid):
            return ValueError(f'{field}={getattr(self, field)!r} is invalid: expected {valid}')
        for field in ('num_train', 'num_val', 'num_frames', 'fps'):
            v = getattr(self, field)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise bad(field, 'a positive integer')
        s = self.frame_size
        if isinstance(s, bool) or not isinstance(s, int) or s < 16 or s % 16:
            raise bad('frame_size', 'a multiple of 16 (the codec\'s block size), at least 16')
        classes = tuple(self.classes)
        if len(classes) < 2 or len(set(classes)) != len(classes) \
                or any(c not in MOTIONS for c in classes):
            raise bad('classes', f'two or more distinct names of {tuple(MOTIONS)}')
        object.__setattr__(self, 'classes', classes)
        lo, hi = self.objects
        if not (isinstance(lo, int) and isinstance(hi, int) and 1 <= lo <= hi <= 8):
            raise bad('objects', '(min, max) with 1 <= min <= max <= 8')
        lo, hi = self.object_size
        if not 0.05 <= lo <= hi <= 0.5:
            raise bad('object_size', '(min, max) shares with 0.05 <= min <= max <= 0.5')
        lo, hi = self.speed
        if not 0 < lo <= hi or hi * (self.num_frames - 1) >= s:
            raise bad('speed', f'(min, max) pixels per frame with 0 < min <= max and max * '
                      f'(num_frames - 1) < {s} (a run does not go all the way round the frame)')
        if not 0 <= self.texture <= 0.5:
            raise bad('texture', 'a number in [0, 0.5]')


def _colour(rng: np.random.Generator, low: int, high: int) -> np.ndarray:
    """A random RGB colour whose channels lie in [low, high)."""
    return rng.integers(low, high, 3)


def render_clip(spec: MotionSetSpec, label: int, rng: np.random.Generator) -> np.ndarray:
    """(T, S, S, 3) uint8 RGB frames of one clip of class ``spec.classes[label]``.

    Every clip draws the same things in the same order whatever its class (background, speed,
    objects and their starts, then which way of the class it goes), so with the same draws every
    class gives the same first frame. Positions wrap around the frame (a torus), and a start is
    uniform on it, so each later frame is distributed as the first, whatever the class."""
    S, T = spec.frame_size, spec.num_frames
    # Objects are always brighter than the background (random hues on both sides): which pixels
    # are an object is then plain in any single frame, and only where they go is not.
    background = _colour(rng, 0, 100)
    noise = rng.normal(0, 1, (S // 4 + 1, S // 4 + 1, 1))  # smooth: upsampled 4x
    noise = np.kron(noise, np.ones((4, 4, 1)))[:S, :S] * spec.texture * 255
    base = np.clip(background + noise, 0, 255)
    speed = rng.uniform(*spec.speed)
    shapes = [(tuple(max(2, int(round(rng.uniform(*spec.object_size) * S))) for _ in range(2)),
               _colour(rng, 150, 256), rng.uniform(0, S, 2))
              for _ in range(rng.integers(spec.objects[0], spec.objects[1] + 1))]
    ways = MOTIONS[spec.classes[label]]
    d = np.array(ways[rng.integers(len(ways))], float)
    step = d * speed / np.linalg.norm(d)          # pixels per frame along y and x
    frames = np.empty((T, S, S, 3), np.uint8)
    for t in range(T):
        frame = base.copy()
        for (h, w), colour, start in shapes:
            y, x = (int(round(v)) for v in start + step * t)
            frame[np.ix_((y + np.arange(h)) % S, (x + np.arange(w)) % S)] = colour
        frames[t] = frame
    return frames


def write_mp4(path: str, frames: np.ndarray, fps: int) -> None:
    """(T, H, W, 3) RGB uint8 frames to an mp4 (``mp4v``), written whole or not at all."""
    import cv2

    T, H, W, _ = frames.shape
    tmp = path[:-len('.mp4')] + '.part.mp4'
    writer = cv2.VideoWriter(tmp, cv2.VideoWriter_fourcc(*'mp4v'), fps, (W, H))
    if not writer.isOpened():
        raise RuntimeError(f'OpenCV cannot write mp4v video to {tmp!r} (is its FFmpeg backend '
                           'available?)')
    try:
        for frame in frames:
            writer.write(np.ascontiguousarray(frame[..., ::-1]))  # RGB -> BGR
    finally:
        writer.release()
    os.replace(tmp, path)


def write_motion_video(out_dir: str, num_train: int = 800, num_val: int = 200, seed: int = 0,
                       **options) -> Dict[str, int]:
    """Write the set under ``out_dir`` (``options``: the other fields of ``MotionSetSpec``).
    Returns the clip count of each split. Classes are balanced (clip i has label i mod K) and
    every clip draws from its own generator, so a clip depends on the seed and its index only."""
    spec = MotionSetSpec(num_train=num_train, num_val=num_val, seed=seed, **options)
    counts = {}
    for split_id, (split, n) in enumerate((('train', spec.num_train), ('val', spec.num_val))):
        os.makedirs(osp.join(out_dir, split), exist_ok=True)
        lines = []
        for i in range(n):
            label = i % len(spec.classes)
            rng = np.random.default_rng([spec.seed, split_id, i])
            name = f'{split}/{i:05d}.mp4'
            write_mp4(osp.join(out_dir, name), render_clip(spec, label, rng), spec.fps)
            lines.append(f'{name} {label}\n')
        with atomic_open(osp.join(out_dir, f'{split}_list.txt'), 'w') as f:
            f.writelines(lines)
        counts[split] = n
    with atomic_open(osp.join(out_dir, 'classes.txt'), 'w') as f:
        f.writelines(c + '\n' for c in spec.classes)
    return counts
