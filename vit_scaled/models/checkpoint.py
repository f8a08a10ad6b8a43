"""Loading pretrained weights into the backbones: the project's own checkpoints and timm's; and
reading any checkpoint file safely, with errors that say what is wrong with the file."""
import errno
import os
import pickle
import re
from collections import OrderedDict
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

import torch
from mmengine.logging import MMLogger
from mmengine.runner.checkpoint import CheckpointLoader

from .layers import resize_pos_embed

StateDict = Dict[str, torch.Tensor]

# torch's weights-only unpickler names what it refused: "GLOBAL io.open was not an allowed global"
# or "GLOBAL os.system whose module os is blocked".
_REFUSED = re.compile(r'GLOBAL (\S+) (?:was not an allowed global|whose module)')
# What a file that torch.save did not write whole (or at all) raises on the way in.
_BROKEN_ZIP = ('PytorchStreamReader', 'magic number', 'corrupt')


class UnreadableCheckpoint(ValueError):
    """A checkpoint file that is not loaded: corrupt, truncated or not written by ``torch.save``,
    or asking to run code while loading, which torch's weights-only loading refuses."""


def load_file(path: str, map_location: Any = 'cpu') -> Any:
    """``torch.load(path, weights_only=True)``. Its failures become ``UnreadableCheckpoint``
    naming the file and what is wrong with it; torch's own message advises turning the check off
    (``weights_only=False``), which would let a crafted file run code, so it is not passed on."""
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        refused = _REFUSED.search(str(e))
        if refused:
            raise UnreadableCheckpoint(
                f'checkpoint {path!r} is refused: loading it would call {refused.group(1)}, which '
                'is not among what a checkpoint of weights holds (tensors, numbers, containers, '
                "mmengine's training state); a file that needs it is not loaded") from None
        raise UnreadableCheckpoint(_unreadable(path, _unpickler_reason(str(e)))) from None
    except RuntimeError as e:
        if not any(word in str(e) for word in _BROKEN_ZIP):
            raise  # not the file's fault (e.g. a map_location this machine cannot honour)
        raise UnreadableCheckpoint(_unreadable(path, str(e).split('. ')[0])) from None
    except OSError as e:
        if e.errno != errno.EINVAL:
            raise  # the file system's fault (permissions, a missing file), said by the OS
        # What torch's zip reader raises on some truncated files: "[Errno 22] Invalid argument".
        raise UnreadableCheckpoint(_unreadable(path, 'its zip archive cannot be opened')) from None
    except (EOFError, KeyError, ValueError, IndexError, UnicodeDecodeError) as e:
        # What the legacy (non-zip) reader raises on bytes that are not a pickle stream.
        reason = 'the file is empty' if _size(path) == 0 else f'{type(e).__name__}: {e}'
        raise UnreadableCheckpoint(_unreadable(path, reason)) from None


def _unreadable(path: str, reason: str) -> str:
    return (f'checkpoint {path!r} is not a readable checkpoint ({reason}): the file is corrupt, '
            'truncated (a save or a copy that did not finish) or was not written by torch.save; '
            'save or copy it again')


def _unpickler_reason(message: str) -> str:
    """The unpickler's own words, without torch's advice around them."""
    tail = message.split('WeightsUnpickler error:')[-1]
    tail = tail.split('Check the documentation of torch.load')[0].strip()
    return tail.splitlines()[0].strip() if tail else 'not a pickle stream torch can read'


def _size(path: str) -> Optional[int]:
    try:
        return os.path.getsize(path)
    except (OSError, TypeError):
        return None


def fit_prefix_tokens(tokens: torch.Tensor, n: int) -> torch.Tensor:
    """(1, k, C) class/distillation tokens (or their position embeddings) cut or padded to n. A
    token the source lacks (a distillation token for a model trained without) starts as a copy
    of the class token."""
    if tokens.shape[1] < n:
        tokens = torch.cat([tokens, tokens[:, :1].expand(-1, n - tokens.shape[1], -1)], dim=1)
    return tokens[:, :n]


# The token grid of ``pos_embed``, recorded in a checkpoint's metadata by ``record_grid``.
GRID_METADATA = 'pos_embed_grid'


def record_grid(module, state, prefix, local_metadata):
    """State-dict hook: the token grid of ``pos_embed`` goes into the checkpoint's metadata
    (kept by ``torch.save`` and mmengine), so a non-square grid can be resized on load."""
    local_metadata[GRID_METADATA] = list(module.arch.grid)


def saved_grid(state: StateDict) -> Optional[Sequence[int]]:
    """The grid ``record_grid`` wrote into this state dict's metadata, if any."""
    return (getattr(state, '_metadata', None) or {}).get('', {}).get(GRID_METADATA)


def source_grid(pos: torch.Tensor, n: int, own_grid: Tuple[int, int],
                saved: Optional[Sequence[int]]) -> Tuple[int, int]:
    """The token grid a checkpoint's ``pos_embed`` (``n`` grid positions) was made for: the
    model's own when the count matches, else the one the checkpoint records (``saved``), else a
    square; otherwise a ValueError."""
    if n == own_grid[0] * own_grid[1]:
        return tuple(own_grid)
    if saved is not None and saved[0] * saved[1] == n:
        return tuple(saved)
    side = int(round(n ** 0.5))
    if side * side == n:
        return side, side
    raise ValueError(f'pos_embed of shape {tuple(pos.shape)} has {n} grid positions: not this '
                     f'model\'s grid {tuple(own_grid)}, not a square, and the checkpoint does '
                     'not record its grid; cannot infer the source grid')


def fit_pos_embed(pos: torch.Tensor, src_prefix: int, grid: Tuple[int, int], num_prefix_tokens: int,
                  saved: Optional[Sequence[int]], mode: str) -> torch.Tensor:
    """A checkpoint's ``pos_embed`` (``src_prefix`` prefix positions, then a grid: ``source_grid``)
    for a model of ``num_prefix_tokens`` prefix positions on ``grid``: the prefix cut or padded
    (``fit_prefix_tokens``), the grid resized (``resize_pos_embed``, interpolation ``mode``)."""
    src_grid = source_grid(pos, pos.shape[1] - src_prefix, grid, saved)
    prefix = fit_prefix_tokens(pos[:, :src_prefix], num_prefix_tokens)
    return resize_pos_embed(torch.cat([prefix, pos[:, src_prefix:]], dim=1), src_grid, grid,
                            num_prefix_tokens, mode)


def read_state_dict(checkpoint: str, prefix: Optional[str] = None) -> StateDict:
    """The backbone's weights from a file: a bare state dict (``torch.save(model.state_dict())``,
    as timm writes), or an mmengine checkpoint (``state_dict`` / ``model`` / ``module`` entry)."""
    ckpt = CheckpointLoader.load_checkpoint(checkpoint, map_location='cpu')
    if not isinstance(ckpt, dict):
        raise ValueError(f'checkpoint={checkpoint!r} holds a {type(ckpt).__name__}, not a state dict')
    for key in ('state_dict', 'model', 'module'):
        if key in ckpt and isinstance(ckpt[key], dict):
            ckpt = ckpt[key]
            break
    if prefix is None:
        # A whole mmengine model (backbone + neck + head): keep the backbone's part.
        prefix = 'backbone.' if any(k.startswith('backbone.') for k in ckpt) else ''
    elif prefix and not prefix.endswith('.'):
        prefix += '.'
    state = OrderedDict((k[len(prefix):], v) for k, v in ckpt.items() if k.startswith(prefix))
    if not state:
        raise ValueError(f'checkpoint={checkpoint!r} has no weights under prefix={prefix!r}')
    # The modules' own metadata (``state_dict()._metadata``, which torch.save and mmengine keep;
    # DeiTScaled records its position grid there), re-keyed below the prefix like the weights.
    meta = getattr(ckpt, '_metadata', None) or {}
    state._metadata = OrderedDict(
        (k[len(prefix):] if k.startswith(prefix) else '', v) for k, v in meta.items()
        if k.startswith(prefix) or k == prefix[:-1])
    return state


def load_pretrained(module: torch.nn.Module, checkpoint: str, convert: Callable[[StateDict], StateDict],
                    prefix: Optional[str] = None) -> None:
    """Load, convert to ``module``'s layout, and report what did not match."""
    state = convert(read_state_dict(checkpoint, prefix))
    own = module.state_dict()
    mismatched = [k for k, v in state.items() if k in own and own[k].shape != v.shape]
    if mismatched:
        raise ValueError(f'checkpoint={checkpoint!r}: shapes differ from the model for '
                         + ', '.join(f'{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}'
                                     for k in mismatched))
    missing, unexpected = module.load_state_dict(state, strict=False)
    logger = MMLogger.get_current_instance()
    logger.info(f'{type(module).__name__}: loaded {len(state) - len(unexpected)} tensors '
                f'from {checkpoint}')
    if missing:
        logger.warning(f'{type(module).__name__}: missing in checkpoint: {missing}')
    if unexpected:
        logger.warning(f'{type(module).__name__}: not used from checkpoint: {unexpected}')
