"""What ``tools/train.py`` and ``tools/test.py`` share: a config made ready for mmengine's Runner,
whichever OpenMMLab package the config belongs to, and a config error told in one line."""
import os.path as osp
from typing import Optional, Sequence

import torch
import torch.distributed as dist
from mmengine.config import Config
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

LAUNCHERS = ('none', 'pytorch', 'slurm', 'mpi')
# What building modules from a config raises on a value they refuse (mmengine's registry re-raises
# it with the class it was building in front), on a key no module takes, or on a missing file.
CONFIG_ERRORS = (FileNotFoundError, ValueError, TypeError, KeyError)


class BadConfig(ValueError):
    """A config, or a ``--cfg-options`` override, that does not make a Runner: the message names
    the config and what refused it."""


def load_config(config: str, work_dir: Optional[str] = None, cfg_options: Optional[dict] = None,
                launcher: str = 'none') -> Config:
    if not osp.isfile(config):
        raise BadConfig(f'config {config!r} does not exist')
    if launcher not in LAUNCHERS:
        raise BadConfig(f'launcher={launcher!r} is invalid: choose one of {LAUNCHERS}')
    try:
        cfg = Config.fromfile(config)
        if cfg_options:
            cfg.merge_from_dict(cfg_options)
    except Exception as e:  # a config is Python: a syntax error, a bad import, a bad _base_
        raise BadConfig(f'config {config!r} cannot be read: {type(e).__name__}: {_one_line(e)}') from e
    cfg.launcher = launcher
    # Like OpenMMLab's tools: the command line wins, then the config, then ./work_dirs/<name>.
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(config))[0])
    if launcher != 'none' and not torch.cuda.is_available():
        _prepare_cpu_distributed(cfg)
    return cfg


def _prepare_cpu_distributed(cfg: Config) -> None:
    """Multi-process training on CPUs (gloo). mmengine 0.10.7 assumes a GPU per process: it calls
    ``torch.cuda.set_device`` before ``init_process_group`` and gives DDP ``device_ids``; both
    fail on a CPU-only machine. We open the gloo group ourselves (the Runner then skips its own
    ``init_dist``) and tell the DDP wrapper that the module lives on the CPU."""
    cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})['backend'] = 'gloo'
    wrapper = cfg.get('model_wrapper_cfg') or dict(type='MMDistributedDataParallel',
                                                    broadcast_buffers=False)
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper
    if cfg.launcher == 'pytorch' and not dist.is_initialized():
        dist.init_process_group(backend='gloo')


def build_runner(cfg: Config, loops: Sequence[str] = ()) -> Runner:
    """The Runner of ``cfg``, with its ``loops`` (``'train'``, ``'val'``, ``'test'``) built too:
    those build the data sets and read the loop settings, so that a bad value anywhere in the
    config shows here as a ``BadConfig`` naming it, before any training, not as a traceback.
    (``Runner.train`` and ``Runner.test`` keep a loop that is built already.)"""
    name = cfg.filename or 'the config'
    load_from = cfg.get('load_from')
    if load_from and '://' not in load_from and not osp.isfile(load_from):
        raise BadConfig(f'{name}: load_from={load_from!r} does not exist')
    try:
        runner = RUNNERS.build(cfg) if 'runner_type' in cfg else Runner.from_cfg(cfg)
    except CONFIG_ERRORS as e:
        raise BadConfig(f'{name}: {type(e).__name__}: {_one_line(e)}') from e
    for loop in loops:
        attr = f'_{loop}_loop'
        if getattr(runner, attr) is None:
            continue
        try:  # the loop's settings (``train_cfg``...) and its data loader (``train_dataloader``...)
            setattr(runner, attr, getattr(runner, f'build_{loop}_loop')(getattr(runner, attr)))
        except CONFIG_ERRORS as e:
            raise BadConfig(f'{name}: {loop}_cfg or {loop}_dataloader: {type(e).__name__}: '
                            f'{_one_line(e)}') from e
    return runner


def _one_line(e: Exception) -> str:
    text = e.args[0] if isinstance(e, KeyError) and e.args else str(e)  # KeyError quotes itself
    return ' '.join(str(text).split())


def set_resume(cfg: Config, resume: Optional[str]) -> None:
    """``--resume`` alone resumes from the latest checkpoint in the work dir; with a path, from it."""
    if resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif resume is not None:
        if not osp.isfile(resume):
            raise BadConfig(f'--resume {resume!r}: no such checkpoint')
        cfg.resume, cfg.load_from = True, resume
