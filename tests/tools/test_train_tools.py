"""tools/train.py and tools/test.py on a real config: checkpoints save, load and resume under
torch's default ``weights_only=True``, a 2-process (gloo) run works on CPUs, and a bad config,
option or checkpoint ends the tool with one ``error:`` line and status 2."""
import glob
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import load_checkpoint

from vit_scaled import DeiTScaled

# A small member of the family, 2 iterations of 64 images per epoch: fast, and still the real
# config, data set, model, optimizer, schedulers and hooks.
SMALL = [
    'model.backbone.arch.depth=2', 'train_dataloader.dataset.indices=128',
    'val_dataloader.dataset.indices=64', 'test_dataloader.dataset.indices=64',
    'default_hooks.checkpoint.interval=1', 'train_cfg.val_interval=1', 'randomness.seed=0',
]


@pytest.fixture
def run(root):
    """``run('tools/x.py', *args)``: the tool in a fresh process from the repository's root;
    returns its output, and fails the test on a non-zero exit."""
    def run(*args, env=None):
        proc = subprocess.run([sys.executable, *args], cwd=root, capture_output=True, text=True,
                              env={**os.environ, **(env or {})}, timeout=600)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        return proc.stdout + proc.stderr
    return run


@pytest.mark.training
def test_train_checkpoint_load_and_resume(tmp_path, run, digits_config):
    config = digits_config

    def train(work_dir, epochs, *extra):
        return run('tools/train.py', config, '--work-dir', str(work_dir), *extra,
                   '--cfg-options', *SMALL, f'train_cfg.max_epochs={epochs}')

    train(tmp_path, 1)
    ckpt = osp.join(tmp_path, 'epoch_1.pth')
    assert osp.isfile(ckpt)
    # load_checkpoint under torch's default weights_only=True (the message hub, optimizer and
    # scheduler state and numpy values in meta all pass the allow-list).
    raw = torch.load(ckpt)
    assert raw['meta']['iter'] == 2 and 'optimizer' in raw and 'message_hub' in raw
    bb = Config.fromfile(config).model.backbone
    backbone = DeiTScaled(dict(bb.arch, depth=2), img_size=bb.img_size, patch_size=bb.patch_size)
    load_checkpoint(backbone, ckpt, revise_keys=[(r'^backbone\.', '')], strict=False)
    torch.testing.assert_close(backbone.pos_embed, raw['state_dict']['backbone.pos_embed'])

    out = train(tmp_path, 2, '--resume')
    assert 'resumed epoch: 1, iter: 2' in out
    resumed = osp.join(tmp_path, 'epoch_2.pth')
    assert torch.load(resumed)['meta']['iter'] == 4

    out = run('tools/test.py', config, resumed, '--work-dir', str(tmp_path / 'test'),
              '--cfg-options', *SMALL)
    assert 'accuracy/top1' in out


@pytest.mark.skipif(not hasattr(torch.distributed, 'is_gloo_available')
                    or not torch.distributed.is_gloo_available(), reason='needs gloo')
@pytest.mark.training
def test_dist_train_two_cpu_processes_then_test(tmp_path, run, root, digits_config):
    config = digits_config
    run_dist = subprocess.run(
        ['bash', 'tools/dist_train.sh', config, '2', '--work-dir', str(tmp_path), '--cfg-options',
         *SMALL, 'train_cfg.max_epochs=1'],
        cwd=root, capture_output=True, text=True, timeout=600,
        env={**os.environ, 'PYTHON': sys.executable, 'PORT': '29631', 'OMP_NUM_THREADS': '1'})
    log = run_dist.stdout + run_dist.stderr
    assert run_dist.returncode == 0, log[-4000:]
    (train_log,) = glob.glob(osp.join(tmp_path, '*', '*.log'))
    train_log = open(train_log).read()
    # mmengine calls the world size 'GPU number'; 128 images in batches of 64 over 2 processes
    # make 1 iteration per process.
    assert 'Distributed training: True' in train_log and 'GPU number: 2' in train_log
    assert 'Epoch(train) [1][1/1]' in train_log
    (ckpt,) = glob.glob(osp.join(tmp_path, 'epoch_1.pth'))
    out = run('tools/test.py', config, ckpt, '--work-dir', str(tmp_path / 'test'),
              '--cfg-options', *SMALL)
    assert 'accuracy/top1' in out


def test_bad_option_in_a_fresh_process_is_one_error_line_and_status_2(tmp_path, root,
                                                                      digits_config):
    proc = subprocess.run([sys.executable, 'tools/train.py', digits_config, '--work-dir',
                           str(tmp_path), '--cfg-options', 'model.backbone.arch=deit-huge'],
                          cwd=root, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert 'Traceback' not in proc.stderr, proc.stderr
    line = proc.stderr.strip().splitlines()[-1]
    assert line.startswith(f'error: {digits_config}: ') and "arch='deit-huge'" in line, line


@pytest.fixture
def fail(run_script):
    """``fail('tools/x.py', *args)``: the tool (in this process: a new one costs most of a
    minute on a busy machine; the test above runs one) ends with status 2 and an ``error: ...``
    line on stderr, and no traceback; returns that line."""
    def fail(*args):
        code, out, err = run_script(*args)
        assert code == 2, out[-2000:] + err[-3000:]
        lines = err.strip().splitlines()
        assert 'Traceback' not in err and lines[-1].startswith('error: '), err
        return lines[-1]
    return fail


@pytest.mark.parametrize('tool', ['tools/train.py', 'tools/test.py'])
def test_missing_config_is_one_error_line(tmp_path, fail, tool):
    missing = str(tmp_path / 'missing.py')
    checkpoint = [] if tool == 'tools/train.py' else [__file__]  # any file: the config is first
    assert f"config '{missing}' does not exist" in fail(tool, missing, *checkpoint)


@pytest.mark.parametrize('option, says', [
    ('model.backbon.arch=deit-small', "unexpected keyword argument 'backbon'"),  # a mistyped key
    ('train_cfg.max_epochs=abc', "train_cfg or train_dataloader: ValueError: invalid literal for "
                                 "int() with base 10: 'abc'"),  # a value the loop refuses
    ('train_dataloader.dataset.split=tset', "split='tset'"),      # a value the data set refuses
])
def test_bad_cfg_option_is_one_error_line(tmp_path, fail, digits_config, option, says):
    line = fail('tools/train.py', digits_config, '--work-dir', str(tmp_path),
                '--cfg-options', option)
    assert line.startswith(f'error: {digits_config}: ') and says in line, line
    assert not list(tmp_path.glob('*.pth'))  # nothing trained


def test_test_and_resume_from_a_truncated_checkpoint_is_one_error_line(tmp_path, fail,
                                                                       digits_config):
    torch.save({'state_dict': {'w': torch.zeros(1000)}, 'meta': {}}, tmp_path / 'whole.pth')
    data = (tmp_path / 'whole.pth').read_bytes()
    broken = tmp_path / 'epoch_1.pth'
    broken.write_bytes(data[:len(data) // 2])
    line = fail('tools/test.py', digits_config, str(broken), '--work-dir', str(tmp_path / 't'),
                '--cfg-options', *SMALL)
    assert f"checkpoint '{broken}' is not a readable checkpoint" in line
    assert 'weights_only' not in line
    line = fail('tools/train.py', digits_config, '--work-dir', str(tmp_path), '--resume',
                str(broken), '--cfg-options', *SMALL, 'train_cfg.max_epochs=2')
    assert f"checkpoint '{broken}' is not a readable checkpoint" in line
