"""A checkpoint trained at a non-square resolution loads through ``init_cfg``: at the same
resolution (the model's own grid), and at another (the grid the checkpoint records)."""
import pytest
import torch
from mmengine.runner.checkpoint import get_state_dict, save_checkpoint, weights_to_cpu
from torch import nn

from vit_scaled.models import DeiTScaled
from vit_scaled.models.checkpoint import GRID_METADATA as GRID
from vit_scaled.models.layers import resize_pos_embed

SMALL = dict(depth=2, num_heads=2, head_dim=8, mlp_ratio=2.0)


def pose_backbone(img, checkpoint=None):
    init = dict(type='Pretrained', checkpoint=str(checkpoint)) if checkpoint else None
    return DeiTScaled(arch=SMALL, img_size=img, with_cls_token=False, out_type='featmap',
                      init_cfg=init)


@pytest.fixture
def trained():
    m = pose_backbone((256, 192))                       # grid 16 x 12: not a square
    with torch.no_grad():
        m.pos_embed.normal_()
    return m


def test_same_resolution_uses_the_models_own_grid(trained, tmp_path):
    path = tmp_path / 'plain.pth'
    torch.save(dict(trained.state_dict()), path)        # a plain dict: no metadata at all
    m = pose_backbone((256, 192), path)
    m.init_weights()
    assert torch.equal(m.pos_embed, trained.pos_embed)


@pytest.mark.parametrize('how', ['torch.save', 'mmengine'])
def test_another_resolution_uses_the_recorded_grid(trained, tmp_path, how):
    path = tmp_path / 'ckpt.pth'
    if how == 'torch.save':
        torch.save(trained.state_dict(), path)
    else:  # a whole model saved as mmengine's Runner does: weights under 'backbone.'
        holder = nn.Module()
        holder.backbone = trained
        save_checkpoint(dict(state_dict=weights_to_cpu(get_state_dict(holder))), str(path))
    m = pose_backbone((512, 384), path)                  # grid 32 x 24
    m.init_weights()
    expected = resize_pos_embed(trained.pos_embed, (16, 12), (32, 24), 0, 'bicubic')
    assert torch.allclose(m.pos_embed, expected)


def test_unrecorded_non_square_grid_is_refused_with_the_shapes(trained, tmp_path):
    path = tmp_path / 'plain.pth'
    torch.save(dict(trained.state_dict()), path)
    m = pose_backbone((512, 384), path)
    with pytest.raises(ValueError, match=r'192 grid positions.*\(32, 24\).*not a square'):
        m.init_weights()


def test_video_backbone_loads_a_non_square_image_checkpoint_by_its_recorded_grid(trained, tmp_path):
    """The video family reads the same recorded grid (one rule for both, in checkpoint.py)."""
    from vit_scaled.models import VideoDeiTScaled
    path = tmp_path / 'image.pth'
    torch.save(trained.state_dict(), path)
    m = VideoDeiTScaled(arch=SMALL, num_frames=2, img_size=(128, 96), with_cls_token=False,
                        out_type='avg_featmap',
                        init_cfg=dict(type='Pretrained', checkpoint=str(path)))  # grid 8 x 6
    m.init_weights()
    expected = resize_pos_embed(trained.pos_embed, (16, 12), (8, 6), 0, 'bicubic')
    assert torch.allclose(m.pos_embed, expected)
    assert m.state_dict()._metadata[''][GRID] == [8, 6]   # and it records its own
