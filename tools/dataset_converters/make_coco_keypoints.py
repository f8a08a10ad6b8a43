"""Write the small, seeded COCO-keypoint set the ViTPose small-set configs train on.

    python tools/dataset_converters/make_coco_keypoints.py data/synth_coco_keypoints \
        [--num-train 300] [--num-val 60] [--max-figures 4] [--seed 0] \
        [--texture 1] [--occlusion 0.35] [--pose-range 1]

The defaults write the full set the small-set configs document; the test suite trains on a lighter
draw of it (--max-figures 1 --texture 0.3 --occlusion 0 --pose-range 0.5).

Real JPEG files under OUT/train and OUT/val, and OUT/annotations/person_keypoints_{train,val}.json
(boxes, 17 keypoints with visibility 0/1/2, num_keypoints, area, the COCO person category).
"""
import argparse

from vit_scaled.cli import run_cli
from vit_scaled.datasets.synthetic.coco_keypoints import write_coco_keypoints


def parse_args():
    parser = argparse.ArgumentParser(description='Write the small synthetic COCO-keypoint set')
    parser.add_argument('out', help='folder to write (created if missing)')
    parser.add_argument('--num-train', type=int, default=300)
    parser.add_argument('--num-val', type=int, default=60)
    parser.add_argument('--max-figures', type=int, default=4, help='figures per image, at most')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--texture', type=float, default=1.0,
                        help='background pattern and clutter strength, 0 (plain) to 1')
    parser.add_argument('--occlusion', type=float, default=0.35,
                        help="each figure's chance of an occluder")
    parser.add_argument('--pose-range', type=float, default=1.0,
                        help='spread of the joint angles about a standing pose, (0, 1]')
    return parser.parse_args()


def main():
    args = parse_args()
    splits = write_coco_keypoints(args.out, args.num_train, args.num_val, args.seed,
                                  max_figures=args.max_figures, texture=args.texture,
                                  occlusion=args.occlusion, pose_range=args.pose_range)
    for name, s in splits.items():
        print(f'{name}: {s["images"]} images, {s["figures"]} figures, {s["ann_file"]}')


if __name__ == '__main__':
    run_cli(main, ValueError)
