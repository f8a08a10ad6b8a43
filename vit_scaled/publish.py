"""Prepare a checkpoint for release, as OpenMMLab's ``publish_model`` does: keep the weights and
the metadata, drop what only resuming needs, and name the file by its content's sha256."""
import hashlib
import io
import os
import os.path as osp
from typing import Iterable

import torch

from . import compat  # noqa: F401  (allow-lists the types mmengine checkpoints hold)
from .fileio import write_atomically
from .models.checkpoint import load_file

# What a training checkpoint carries only to resume: optimiser and scheduler states, mmengine's
# message hub (logged history) and the automatic loss scaler.
RESUME_ONLY = ('optimizer', 'param_schedulers', 'message_hub', 'loss_scaler', 'ema_state_dict')


def strip(checkpoint: dict, drop: Iterable[str] = RESUME_ONLY) -> dict:
    if 'state_dict' not in checkpoint:
        raise ValueError('not an mmengine checkpoint: it has no state_dict '
                         f'(keys: {sorted(checkpoint)[:8]})')
    out = {k: v for k, v in checkpoint.items() if k not in set(drop)}
    meta = dict(out.get('meta') or {})
    meta.pop('hook_msgs', None)  # CheckpointHook's record of the best / last checkpoint paths
    out['meta'] = meta
    return out


def sha256_of(path: str) -> str:
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            h.update(block)
    return h.hexdigest()


def publish(src: str, out: str) -> str:
    """Write ``<out stem>-<sha256[:8]>.pth`` from checkpoint ``src``; returns its path. The file
    is written under a temporary name and renamed, so a failure never leaves a partial file
    under the final name."""
    if not osp.isfile(src):
        raise FileNotFoundError(f'checkpoint {src!r} does not exist')
    stem = out[:-4] if out.endswith('.pth') else out
    checkpoint = load_file(src)  # a corrupt or unsafe file: UnreadableCheckpoint naming it
    os.makedirs(osp.dirname(osp.abspath(stem)), exist_ok=True)
    buffer = io.BytesIO()
    torch.save(strip(checkpoint), buffer)
    data = buffer.getvalue()
    final = f'{stem}-{hashlib.sha256(data).hexdigest()[:8]}.pth'
    write_atomically(final, data)
    return final
