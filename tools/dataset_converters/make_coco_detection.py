"""Write the small, seeded COCO-format detection set the Deformable DETR small-set configs train on.

    python tools/dataset_converters/make_coco_detection.py data/coco_det_small \
        [--num-train 400] [--num-val 100] [--img-size 160] [--seed 0]

Real JPEG files under OUT/train and OUT/val, and OUT/annotations/instances_{train,val}.json.
"""
import argparse

from vit_scaled.cli import run_cli
from vit_scaled.datasets.synthetic.coco_detection import write_coco_detection


def parse_args():
    parser = argparse.ArgumentParser(description='Write the small synthetic COCO detection set')
    parser.add_argument('out', help='folder to write (created if missing)')
    parser.add_argument('--num-train', type=int, default=400)
    parser.add_argument('--num-val', type=int, default=100)
    parser.add_argument('--img-size', type=int, nargs='+', default=[160], help='S or H W')
    parser.add_argument('--objects', type=int, nargs=2, default=[1, 4], help='min and max per image')
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args()


def main():
    args = parse_args()
    size = args.img_size * 2 if len(args.img_size) == 1 else args.img_size
    counts = write_coco_detection(args.out, args.num_train, args.num_val, size, args.seed,
                                  objects=args.objects)
    print(f'wrote {args.out}: ' + ', '.join(f'{k} {v}' for k, v in counts.items()))


if __name__ == '__main__':
    run_cli(main, ValueError)
