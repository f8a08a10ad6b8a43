"""Train a model from a config of this repo (or any OpenMMLab 2.x config) with mmengine's Runner.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--cfg-options k=v ...]
"""
import argparse
import os

from mmengine.config import DictAction

import vit_scaled  # noqa: F401  (registers the modules; checkpoint shims before any load)
from vit_scaled.cli import run_cli
from vit_scaled.launch import LAUNCHERS, BadConfig, build_runner, load_config, set_resume
from vit_scaled.models.checkpoint import UnreadableCheckpoint


def parse_args():
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from this checkpoint, or, with no path, from the latest '
                        'checkpoint in the work dir')
    parser.add_argument('--amp', action='store_true', help='enable automatic mixed precision')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config, key=value')
    parser.add_argument('--launcher', choices=LAUNCHERS, default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main():
    args = parse_args()
    cfg = load_config(args.config, args.work_dir, args.cfg_options, args.launcher)
    set_resume(cfg, args.resume)
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    build_runner(cfg, loops=('train', 'val')).train()


if __name__ == '__main__':
    # A bad config or checkpoint: one line and status 2; a failure while training: a traceback.
    run_cli(main, BadConfig, UnreadableCheckpoint)
