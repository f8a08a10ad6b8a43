"""Loading pretrained weights into the backbones: the project's own checkpoints and timm's."""
from typing import Callable, Dict, Optional

import torch
from mmengine.logging import MMLogger
from mmengine.runner.checkpoint import CheckpointLoader

StateDict = Dict[str, torch.Tensor]


def fit_prefix_tokens(tokens: torch.Tensor, n: int) -> torch.Tensor:
    """(1, k, C) class/distillation tokens (or their position embeddings) cut or padded to n. A
    token the source lacks (a distillation token for a model trained without) starts as a copy
    of the class token."""
    if tokens.shape[1] < n:
        tokens = torch.cat([tokens, tokens[:, :1].expand(-1, n - tokens.shape[1], -1)], dim=1)
    return tokens[:, :n]


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
    state = {k[len(prefix):]: v for k, v in ckpt.items() if k.startswith(prefix)}
    if not state:
        raise ValueError(f'checkpoint={checkpoint!r} has no weights under prefix={prefix!r}')
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
