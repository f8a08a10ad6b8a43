"""How precise a keypoint model must be on a COCO-keypoint annotation file for a given OKS AP:
the ground truth, moved by Gaussian noise measured in heatmap pixels of a top-down model, scored
by xtcocotools' COCOeval (OKS AP, COCO's per-joint sigmas, the file's areas).

    python benchmarks/pose_oks_noise.py ANN_FILE [--heatmap-width 24] [--noise 0 0.25 0.5 1 2]

A heatmap pixel is the box's crop (mmpose's ``GetBBoxCenterScale``: 1.25 x the box, widened to
the input's aspect) divided by the heatmap width: at 128 x 96 input and 32 x 24 heatmaps (the
small-set configs) the same fraction of a figure as at COCO's 256 x 192 and 64 x 48 is two.
"""
import argparse
import contextlib
import io
import json

import numpy as np


def noisy_ap(ann_file: str, noise_px: float, heatmap_width: int = 24, aspect: float = 0.75,
             seed: int = 0) -> float:
    from xtcocotools.coco import COCO
    from xtcocotools.cocoeval import COCOeval
    with open(ann_file) as f:
        anns = json.load(f)['annotations']
    rng = np.random.default_rng(seed)
    results = []
    for a in anns:
        k = np.array(a['keypoints'], float).reshape(17, 3)
        _, _, w, h = a['bbox']
        px = max(w, h * aspect) * 1.25 / heatmap_width
        xy = k[:, :2] + rng.normal(0, noise_px * px, (17, 2))
        results.append(dict(image_id=a['image_id'], category_id=a['category_id'], score=1.0,
                            keypoints=np.c_[xy, np.ones(17)].ravel().tolist()))
    with contextlib.redirect_stdout(io.StringIO()):  # COCOeval prints its tables
        gt = COCO(ann_file)
        ev = COCOeval(gt, gt.loadRes(results), 'keypoints', use_area=True)
        ev.params.useSegm = None
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return float(ev.stats[0])


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('ann_file')
    p.add_argument('--heatmap-width', type=int, default=24)
    p.add_argument('--noise', type=float, nargs='+', default=[0, 0.25, 0.5, 1, 2],
                   help='standard deviation per coordinate, in heatmap pixels')
    args = p.parse_args()
    print('| noise (heatmap px, per coordinate) | OKS AP |\n|---|---|')
    for n in args.noise:
        print(f'| {n:g} | {noisy_ap(args.ann_file, n, args.heatmap_width):.3f} |')


if __name__ == '__main__':
    main()
