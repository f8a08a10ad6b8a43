"""The divided space-time model trained with tools/train.py on the small motion set (classes that
motion tells apart) learns it: validation top-1 at least 25 points above chance, and
tools/test.py on the saved checkpoint reproduces the figure. tools/dist_train.sh runs the same
config in two CPU processes."""
import glob
import json
import os
import os.path as osp
import re
import subprocess
import sys

import pytest
import torch

from vit_scaled.datasets.synthetic.motion_video import write_motion_video

CONFIG = 'configs/timesformer/timesformer_divST_deit-micro_1xb16-motion-small.py'
CHANCE = 0.25  # four orientations of motion


@pytest.fixture(scope='module')
def motion_set(tmp_path_factory):
    root = tmp_path_factory.mktemp('motion')
    write_motion_video(str(root), num_train=480, num_val=160, seed=0)
    return str(root)


def _data_options(root):
    opts = []
    for loader, split in (('train', 'train'), ('val', 'val'), ('test', 'val')):
        opts += [f'{loader}_dataloader.dataset.ann_file={root}/{split}_list.txt',
                 f'{loader}_dataloader.dataset.data_prefix.video={root}']
    return opts


def _run(root, *args, env=None):
    proc = subprocess.run([sys.executable, *args], cwd=root, capture_output=True, text=True,
                          env={**os.environ, 'OMP_NUM_THREADS': '1', **(env or {})}, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def _val_top1(work_dir):
    (scalars,) = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    rows = [json.loads(line) for line in open(scalars)]
    return [r['acc/top1'] for r in rows if 'acc/top1' in r]


@pytest.mark.training
def test_divided_model_learns_motion_and_test_reproduces_it(tmp_path, root, motion_set):
    opts = _data_options(motion_set) + ['randomness.seed=0']
    _run(root, 'tools/train.py', CONFIG, '--work-dir', str(tmp_path), '--cfg-options', *opts,
         'train_cfg.val_interval=5')  # validating every epoch would cost ~15% more
    top1 = _val_top1(tmp_path)
    assert top1[-1] >= CHANCE + 0.25, top1
    (ckpt,) = glob.glob(osp.join(tmp_path, 'epoch_*.pth'))
    out = _run(root, 'tools/test.py', CONFIG, ckpt, '--work-dir', str(tmp_path / 'test'),
               '--cfg-options', *opts)
    tested = float(re.search(r'acc/top1: ([0-9.]+)', out)[1])
    assert tested == pytest.approx(top1[-1], abs=1e-4)


@pytest.mark.skipif(not hasattr(torch.distributed, 'is_gloo_available')
                    or not torch.distributed.is_gloo_available(), reason='needs gloo')
@pytest.mark.training
def test_dist_train_two_cpu_processes_one_epoch(tmp_path, root, motion_set):
    opts = _data_options(motion_set) + ['train_cfg.max_epochs=1', 'randomness.seed=0',
                                        'default_hooks.checkpoint.interval=1']
    proc = subprocess.run(['bash', 'tools/dist_train.sh', CONFIG, '2', '--work-dir', str(tmp_path),
                           '--cfg-options', *opts],
                          cwd=root, capture_output=True, text=True, timeout=900,
                          env={**os.environ, 'PYTHON': sys.executable, 'PORT': '29641',
                               'OMP_NUM_THREADS': '1'})
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    (train_log,) = glob.glob(osp.join(tmp_path, '*', '*.log'))
    train_log = open(train_log).read()
    # 480 clips in batches of 16 over 2 processes: 15 iterations each
    assert 'Distributed training: True' in train_log and 'GPU number: 2' in train_log
    assert 'Epoch(train) [1][15/15]' in train_log
    assert osp.isfile(osp.join(tmp_path, 'epoch_1.pth'))
    assert 'acc/top1' in train_log
