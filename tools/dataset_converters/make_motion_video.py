"""Write the small, seeded video set whose classes motion tells apart (the TimeSformer
small-set configs train on it).

    python tools/dataset_converters/make_motion_video.py data/motion_small \
        [--num-train 800] [--num-val 200] [--frame-size 32] [--num-frames 8] [--seed 0]

Real mp4 files under OUT/train and OUT/val, mmaction2's annotation lists OUT/{train,val}_list.txt
and the class names in OUT/classes.txt.
"""
import argparse

from vit_scaled.cli import run_cli
from vit_scaled.datasets.synthetic.motion_video import CLASSES, write_motion_video


def parse_args():
    parser = argparse.ArgumentParser(description='Write the small synthetic motion video set')
    parser.add_argument('out', help='folder to write (created if missing)')
    parser.add_argument('--num-train', type=int, default=800)
    parser.add_argument('--num-val', type=int, default=200)
    parser.add_argument('--frame-size', type=int, default=32, help='square frames, multiple of 16')
    parser.add_argument('--num-frames', type=int, default=8)
    parser.add_argument('--classes', nargs='+', default=list(CLASSES), help=f'of {CLASSES}')
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args()


def main():
    args = parse_args()
    counts = write_motion_video(args.out, args.num_train, args.num_val, args.seed,
                                frame_size=args.frame_size, num_frames=args.num_frames,
                                classes=tuple(args.classes))
    print(f'wrote {args.out}: ' + ', '.join(f'{k} {v} clips' for k, v in counts.items()))


if __name__ == '__main__':
    run_cli(main, ValueError)
