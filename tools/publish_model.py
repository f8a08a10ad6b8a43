"""Strip a training checkpoint for release and name it by its sha256, as OpenMMLab does.

    python tools/publish_model.py IN.pth OUT[.pth]   ->  OUT-<sha256[:8]>.pth

Drops the optimiser, scheduler and message-hub states (only resuming needs them); keeps the
weights and the metadata. Written atomically: a temporary file, then a rename.
"""
import argparse

from vit_scaled.publish import publish


def main():
    p = argparse.ArgumentParser(description='Publish a checkpoint')
    p.add_argument('in_file', help='the training checkpoint')
    p.add_argument('out_file', help='the name of the published file, without the hash')
    args = p.parse_args()
    print(publish(args.in_file, args.out_file))


if __name__ == '__main__':
    main()
