"""A checkpoint with a pickled callable is refused, and the callable never runs; a corrupt or
truncated one is named as such; neither error advises turning torch's weights-only check off."""
import os
import pickle

import pytest
import torch
from mmengine.runner import load_checkpoint

from vit_scaled import DeiTScaled
from vit_scaled.models.checkpoint import UnreadableCheckpoint, read_state_dict


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
    with pytest.raises(UnreadableCheckpoint, match='is refused: loading it would call io.open') as e:
        load_checkpoint(model, str(path))
    assert str(path) in str(e.value) and 'weights_only' not in str(e.value)
    with pytest.raises(UnreadableCheckpoint, match='is refused'):
        DeiTScaled(dict(depth=1, num_heads=1, head_dim=8, mlp_ratio=1), img_size=16,
                   init_cfg=dict(type='Pretrained', checkpoint=str(path))).init_weights()
    assert not os.path.exists(evidence)


def _broken(tmp_path, kind):
    """A checkpoint cut short, an empty file, a text file, a pickle that torch.save did not write."""
    model = DeiTScaled(dict(depth=1, num_heads=1, head_dim=8, mlp_ratio=1), img_size=16)
    good = tmp_path / 'good.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {'epoch': 1}}, good)
    data = good.read_bytes()
    path = tmp_path / f'{kind}.pth'
    path.write_bytes({'truncated': data[:len(data) // 2], 'empty': b'',
                      'text': b'not a checkpoint\n', 'pickle': pickle.dumps({'a': 1})}[kind])
    return model, str(path)


@pytest.mark.parametrize('kind', ['truncated', 'empty', 'text', 'pickle'])
def test_unreadable_checkpoint_is_named_and_the_check_stays_on(tmp_path, kind):
    model, path = _broken(tmp_path, kind)
    for load in (lambda: load_checkpoint(model, path),
                 lambda: read_state_dict(path),
                 lambda: DeiTScaled(dict(depth=1, num_heads=1, head_dim=8, mlp_ratio=1),
                                    img_size=16,
                                    init_cfg=dict(type='Pretrained', checkpoint=path)).init_weights()):
        with pytest.raises(UnreadableCheckpoint) as e:
            load()
        message = str(e.value)
        assert f"checkpoint '{path}' is not a readable checkpoint" in message
        assert 'corrupt, truncated' in message
        assert 'weights_only' not in message and 'trust' not in message


def test_failed_checkpoint_save_leaves_the_previous_one_whole(tmp_path, monkeypatch):
    """mmengine's save_checkpoint writes through LocalBackend.put, made atomic in compat: a save
    that fails half-way (here: the flush to disk) leaves the earlier file as it was, and no
    temporary file behind."""
    from mmengine.runner import save_checkpoint
    model = DeiTScaled(dict(depth=1, num_heads=1, head_dim=8, mlp_ratio=1), img_size=16)
    path = tmp_path / 'epoch_1.pth'
    save_checkpoint({'state_dict': model.state_dict(), 'meta': {'epoch': 1}}, str(path))
    good = path.read_bytes()
    (tmp_path / 'plain').write_bytes(b'')  # the permissions open() gives
    assert path.stat().st_mode == (tmp_path / 'plain').stat().st_mode
    (tmp_path / 'plain').unlink()

    def disk_full(fd):
        raise OSError(28, 'No space left on device')
    monkeypatch.setattr(os, 'fsync', disk_full)
    with pytest.raises(OSError, match='No space left'):
        save_checkpoint({'state_dict': model.state_dict(), 'meta': {'epoch': 2}}, str(path))
    assert path.read_bytes() == good and os.listdir(tmp_path) == ['epoch_1.pth']
    monkeypatch.undo()
    assert torch.load(path, weights_only=True)['meta'] == {'epoch': 1}
