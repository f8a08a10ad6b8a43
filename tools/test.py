"""Evaluate a checkpoint on a config's test set with mmengine's Runner.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--cfg-options k=v ...]
"""
import argparse
import os
import os.path as osp

from mmengine.config import DictAction

import vit_scaled  # noqa: F401  (registers the modules; checkpoint shims before any load)
from vit_scaled.cli import run_cli
from vit_scaled.launch import LAUNCHERS, BadConfig, build_runner, load_config
from vit_scaled.models.checkpoint import UnreadableCheckpoint


def parse_args():
    parser = argparse.ArgumentParser(description='Test (and evaluate) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save logs and metrics')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config, key=value')
    parser.add_argument('--launcher', choices=LAUNCHERS, default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main():
    args = parse_args()
    if not osp.isfile(args.checkpoint):
        raise BadConfig(f'checkpoint {args.checkpoint!r} does not exist')
    cfg = load_config(args.config, args.work_dir, args.cfg_options, args.launcher)
    cfg.load_from = args.checkpoint
    build_runner(cfg, loops=('test',)).test()


if __name__ == '__main__':
    # A bad config or checkpoint: one line and status 2; a failure while testing: a traceback.
    run_cli(main, BadConfig, UnreadableCheckpoint)
