"""What ``tools/train.py`` and ``tools/test.py`` share: a config made ready for mmengine's Runner,
whichever OpenMMLab package the config belongs to."""
import os.path as osp
from typing import Optional

import torch
import torch.distributed as dist
from mmengine.config import Config
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

LAUNCHERS = ('none', 'pytorch', 'slurm', 'mpi')


def load_config(config: str, work_dir: Optional[str] = None, cfg_options: Optional[dict] = None,
                launcher: str = 'none') -> Config:
    if not osp.isfile(config):
        raise FileNotFoundError(f'config={config!r} does not exist')
    if launcher not in LAUNCHERS:
        raise ValueError(f'launcher={launcher!r} is invalid: choose one of {LAUNCHERS}')
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
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


def build_runner(cfg: Config) -> Runner:
    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)


def set_resume(cfg: Config, resume: Optional[str]) -> None:
    """``--resume`` alone resumes from the latest checkpoint in the work dir; with a path, from it."""
    if resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif resume is not None:
        if not osp.isfile(resume):
            raise FileNotFoundError(f'--resume {resume!r}: no such checkpoint')
        cfg.resume, cfg.load_from = True, resume
