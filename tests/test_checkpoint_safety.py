"""A checkpoint with a pickled callable is refused, and the callable never runs."""
import os

import pytest
import torch
from mmengine.runner import load_checkpoint

from vit_scaled import DeiTScaled


class _TouchFile:
    """Unpickling this calls open(path, 'w'): evidence if a loader ever runs it."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, 'w'))


def test_checkpoint_with_callable_is_refused_and_payload_does_not_run(tmp_path):
    model = DeiTScaled(dict(depth=1, num_heads=1, head_dim=8, mlp_ratio=1), img_size=16)
    evidence = tmp_path / 'payload_ran'
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {'x': _TouchFile(str(evidence))}}, path)
    with pytest.raises(Exception, match='Weights only load failed'):
        load_checkpoint(model, str(path))
    with pytest.raises(Exception, match='Weights only load failed'):
        DeiTScaled(dict(depth=1, num_heads=1, head_dim=8, mlp_ratio=1), img_size=16,
                   init_cfg=dict(type='Pretrained', checkpoint=str(path))).init_weights()
    assert not os.path.exists(evidence)
