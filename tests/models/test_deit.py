import pytest
import timm
import torch
from timm.models.vision_transformer import checkpoint_filter_fn

from vit_scaled import DeiTArch, DeiTScaled

TIMM_TO_ARCH = {
    'deit_tiny_patch16_224': dict(arch='deit-tiny'),
    'deit_small_patch16_224': dict(arch='deit-small'),
    'deit_base_patch16_224': dict(arch='deit-base'),
    'deit_tiny_distilled_patch16_224': dict(arch='deit-tiny', distilled=True),
}


def timm_weights(tmp_path, name):
    model = timm.create_model(name, pretrained=False).eval()
    path = tmp_path / f'{name}.pth'
    torch.save(model.state_dict(), path)
    return model, str(path)


def ours_from(path, **kwargs):
    model = DeiTScaled(init_cfg=dict(type='Pretrained', checkpoint=path), **kwargs)
    model.init_weights()
    return model.eval()


@pytest.mark.parametrize('name', list(TIMM_TO_ARCH))
def test_matches_timm_at_224(tmp_path, name):
    ref, path = timm_weights(tmp_path, name)
    ours = ours_from(path, **TIMM_TO_ARCH[name])
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        expected = ref.forward_features(x)[:, 0]
        (got,) = ours(x)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize('name', ['deit_tiny_patch16_224', 'deit_tiny_distilled_patch16_224'])
def test_matches_timm_at_384_with_resized_pos_embed(tmp_path, name):
    _, path = timm_weights(tmp_path, name)
    ref = timm.create_model(name, pretrained=False, img_size=384).eval()
    ref.load_state_dict(checkpoint_filter_fn(torch.load(path), ref))
    ours = ours_from(path, img_size=384, **TIMM_TO_ARCH[name])
    assert ours.pos_embed.shape == ref.pos_embed.shape
    x = torch.randn(1, 3, 384, 384)
    with torch.no_grad():
        torch.testing.assert_close(ours(x)[0], ref.forward_features(x)[:, 0], rtol=0, atol=1e-5)


def test_run_time_resize_equals_load_time_resize(tmp_path):
    _, path = timm_weights(tmp_path, 'deit_tiny_patch16_224')
    at_224, at_384 = ours_from(path), ours_from(path, img_size=384)
    x = torch.randn(1, 3, 384, 384)
    with torch.no_grad():
        torch.testing.assert_close(at_224(x)[0], at_384(x)[0], rtol=0, atol=1e-5)


def test_out_types_and_indices():
    x = torch.randn(2, 3, 64, 96)
    arch = dict(depth=4, num_heads=2, head_dim=16, mlp_ratio=2)
    feats = DeiTScaled(arch, img_size=(64, 96), out_type='featmap', out_indices=(1, -1)).eval()(x)
    assert [f.shape for f in feats] == [torch.Size([2, 32, 4, 6])] * 2
    (avg,) = DeiTScaled(arch, img_size=64, out_type='avg_featmap')(x)
    assert avg.shape == (2, 32)
    (raw,) = DeiTScaled(arch, img_size=64, out_type='raw', distilled=True)(x)
    assert raw.shape == (2, 2 + 4 * 6, 32)
    (fm,) = DeiTScaled(arch, img_size=64, out_type='featmap', with_cls_token=False)(x)
    assert fm.shape == (2, 32, 4, 6)


def test_frozen_stages_stay_frozen_in_train_mode():
    model = DeiTScaled(dict(depth=3, num_heads=2, head_dim=8, mlp_ratio=2), img_size=32,
                       frozen_stages=2, drop_path_rate=0.1).train()
    assert not model.blocks[1].training and model.blocks[2].training
    assert not model.pos_embed.requires_grad
    assert not any(p.requires_grad for p in model.blocks[1].parameters())
    assert all(p.requires_grad for p in model.blocks[2].parameters())


def test_embed_dim_is_heads_times_head_dim():
    model = DeiTScaled(dict(depth=2, num_heads=5, head_dim=24, mlp_ratio=3), img_size=48)
    assert model.embed_dims == 120 and model.arch.embed_dims == 120
    assert model.blocks[0].mlp.fc1.out_features == 360
    assert isinstance(model.arch, DeiTArch)


@pytest.mark.parametrize('kwargs, field, value', [
    (dict(arch=dict(depth=0, num_heads=3, head_dim=64, mlp_ratio=4)), 'depth', '0'),
    (dict(arch=dict(depth=12, num_heads=-1, head_dim=64, mlp_ratio=4)), 'num_heads', '-1'),
    (dict(arch=dict(depth=12, num_heads=3, head_dim=0, mlp_ratio=4)), 'head_dim', '0'),
    (dict(img_size=225), 'img_size', '225'),
    (dict(arch='deit-huge'), 'arch', 'deit-huge'),
    (dict(out_indices=12), 'out_indices', '12'),
    (dict(out_type='tokens'), 'out_type', 'tokens'),
    (dict(arch=dict(depth=12, num_heads=3)), 'arch', 'missing'),
    (dict(drop_path_rate=1.5), 'drop_path_rate', '1.5'),
    (dict(interpolate_mode='cubic'), 'interpolate_mode', 'cubic'),
    (dict(frozen_stages=True), 'frozen_stages', 'True'),
    (dict(frozen_stages=13), 'frozen_stages', '13'),
])
def test_bad_arguments_name_the_field_and_value(kwargs, field, value):
    with pytest.raises(ValueError) as err:
        DeiTScaled(**kwargs)
    assert field in str(err.value) and value in str(err.value)
