"""Train one architecture briefly through mmengine's Runner, from a classification config.

The base config gives the data, the recipe and the runtime; the architecture (and the input size
of the data pipelines) is overridden as ``tools/scale.py`` would write it, the schedule is squeezed
into ``epochs`` (every scheduler's begin/end rescaled, counted in iterations), validation runs once
at the end, and no checkpoint is written unless asked. mmengine's own logs and ``scalars.json``
land in ``work_dir/<timestamp>/`` as for any run, so ``tools/report.py`` can collect them.
"""
import json
import os.path as osp
import time
from typing import Callable, Optional

from ..fileio import write_atomically

from . import configs


def _hook_class():
    from mmengine.hooks import Hook

    class ProgressHook(Hook):
        """Keeps the validation metrics and reports each finished epoch."""
        priority = 'VERY_LOW'

        def __init__(self, report: Callable[[str], None], epochs: int):
            self.report, self.epochs, self.metrics = report, epochs, {}
            self.t0 = time.perf_counter()

        def after_train_epoch(self, runner):
            loss = runner.message_hub.get_scalar('train/loss').current()
            self.report(f'epoch {runner.epoch + 1}/{self.epochs} loss {loss:.3f} '
                        f'({time.perf_counter() - self.t0:.0f}s)')

        def after_val_epoch(self, runner, metrics=None):
            self.metrics = dict(metrics or {})

    return ProgressHook


def _iters_per_epoch(cfg, n: Optional[int] = None) -> int:
    """Training iterations per epoch; ``n``, the training set's size, if already known."""
    from mmengine.registry import DATASETS
    loader = cfg.train_dataloader
    if n is None:
        n = len(DATASETS.build(dict(loader.dataset, serialize_data=False)))
    b = loader.batch_size
    return max(1, n // b if loader.get('drop_last') else -(-n // b))


def _squeeze_schedule(cfg, epochs: int):
    """Fit every scheduler into ``epochs``, in whole iterations: a warm-up squeezed below one
    iteration is dropped instead of tripping mmengine's ``end > begin`` check."""
    total = cfg.train_cfg.get('max_epochs') or epochs
    cfg.train_cfg.update(max_epochs=epochs, val_interval=epochs)
    schedulers = cfg.get('param_scheduler') or []
    if isinstance(schedulers, dict):
        schedulers = [schedulers]
    per_epoch = _iters_per_epoch(cfg)
    scale = epochs / total * per_epoch  # old epochs -> new iterations
    kept = []
    for s in schedulers:
        s = dict(s)
        if s.pop('by_epoch', True):
            s.pop('convert_to_iter_based', None)
            s['begin'] = round(s.get('begin', 0) * scale)
            s['end'] = round(s['end'] * scale) if s.get('end') is not None else epochs * per_epoch
            s['by_epoch'] = False
            if s['end'] <= s['begin']:
                continue
            if 'T_max' in s:  # a cosine's length follows its (rescaled) span
                s['T_max'] = s['end'] - s['begin']
        kept.append(s)
    cfg.param_scheduler = kept


def train_arch(base_config: str, arch, work_dir: str, epochs: int,
               report: Callable[[str], None] = lambda msg: None, seed: int = 0,
               checkpoint: bool = False, cfg_options: Optional[dict] = None) -> dict:
    """Train ``arch`` on ``base_config``'s data and recipe for ``epochs``; returns
    ``dict(metrics=..., seconds=..., work_dir=...)`` and writes it to ``work_dir/result.json``."""
    from mmengine.runner import Runner

    import vit_scaled  # noqa: F401  (registers the modules)

    cfg = configs.load_scaled(base_config, arch)
    for loader in ('train_dataloader', 'val_dataloader'):
        # mmengine serialises a data set for worker processes with a full gc.collect() (seconds
        # in a big process); these loaders run in the main process.
        if cfg[loader].get('num_workers', 0) == 0:
            cfg[loader].dataset.setdefault('serialize_data', False)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    _squeeze_schedule(cfg, epochs)
    cfg.work_dir = work_dir
    cfg.randomness = dict(seed=seed, deterministic=False)
    cfg.log_level = 'WARNING'  # progress comes from the hook; mmengine's INFO lines go to files
    hooks = cfg.setdefault('default_hooks', {})
    hooks['checkpoint'] = (dict(type='CheckpointHook', interval=epochs, save_last=True)
                           if checkpoint else None)
    if 'logger' in hooks and hooks['logger']:
        hooks['logger']['interval'] = 10
    runner = Runner.from_cfg(cfg)
    hook = _hook_class()(report, epochs)
    runner.register_hook(hook)
    t0 = time.perf_counter()
    runner.train()
    seconds = time.perf_counter() - t0
    result = dict(metrics=hook.metrics, seconds=seconds, epochs=epochs, work_dir=work_dir,
                  log_dir=runner.log_dir, arch=arch.to_dict(), arch_type=type(arch).__name__)
    write_atomically(osp.join(work_dir, 'result.json'), json.dumps(result, indent=2))
    return result


class ProxyTrainer:
    """``(arch, key) -> top-1 %``: a short training of ``arch`` on ``base_config`` in
    ``root/<key>``; ``proxy`` describes it (a candidate's cache key includes it)."""

    def __init__(self, base_config: str, epochs: int, root: str, seed: int = 0,
                 report: Callable[[str], None] = lambda msg: None):
        self.base_config, self.epochs, self.root, self.seed = base_config, epochs, root, seed
        self.report = report
        self.proxy = dict(config=osp.basename(base_config), epochs=epochs, seed=seed)

    def __call__(self, arch, key: str) -> float:
        result = train_arch(self.base_config, arch, osp.join(self.root, key), self.epochs,
                            report=lambda msg: self.report(f'  {key}: {msg}'), seed=self.seed)
        return top1_of(result['metrics'])


def top1_of(metrics: dict) -> float:
    for k in ('accuracy/top1', 'top1'):
        if k in metrics:
            return float(metrics[k])
    raise KeyError(f'no top-1 accuracy among the validation metrics {sorted(metrics)}')


def epoch_seconds(base_config: str, arch, iters: int = 2) -> float:
    """Seconds one training epoch of ``arch`` should take here: a few timed iterations (data,
    forward, backward, AdamW step) after a warm-up one, times the iterations per epoch."""
    import torch
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import DATASETS, MODELS

    import vit_scaled  # noqa: F401

    cfg = configs.load_scaled(base_config, arch)
    loader = cfg.train_dataloader
    dataset = DATASETS.build(dict(loader.dataset, serialize_data=False))
    model = MODELS.build(cfg.model).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    b = loader.batch_size

    def step(i):
        batch = pseudo_collate([dataset[(i * b + j) % len(dataset)] for j in range(b)])
        data = model.data_preprocessor(batch, True)
        loss = model(**data, mode='loss')['loss']
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    step(0)
    t = time.perf_counter()
    for i in range(iters):
        step(i + 1)
    return (time.perf_counter() - t) / iters * _iters_per_epoch(cfg, len(dataset))
