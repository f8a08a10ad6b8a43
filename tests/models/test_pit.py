"""PiT-Scaled against timm's PiT: numerics, multi-scale shapes, parameter counts, strictness."""
import pytest
import timm
import torch
from mmengine.registry import MODELS

from vit_scaled import PiTArch, PiTScaled, pit_arch

# timm model, our preset, distilled
TIMM_PITS = [('pit_ti_224', 'pit-ti', False), ('pit_xs_224', 'pit-xs', False),
             ('pit_s_224', 'pit-s', False), ('pit_b_224', 'pit-b', False),
             ('pit_ti_distilled_224', 'pit-ti', True)]


@pytest.fixture(scope='module')
def timm_checkpoint(tmp_path_factory):
    """``get(name)``: a timm PiT (random weights, eval mode) and its state dict saved as timm
    would; each built once per module, as building them dominates the run time."""
    cache = {}

    def get(name):
        if name not in cache:
            model = timm.create_model(name, pretrained=False).eval()
            path = str(tmp_path_factory.mktemp('timm') / f'{name}.pth')
            torch.save(model.state_dict(), path)
            cache[name] = model, path
        return cache[name]
    return get


def pretrained(path, **kwargs):
    model = PiTScaled(init_cfg=dict(type='Pretrained', checkpoint=path), **kwargs)
    model.init_weights()
    return model.eval()


@pytest.mark.parametrize('name,arch,distilled', TIMM_PITS)
@torch.no_grad()
def test_class_tokens_match_timm(timm_checkpoint, name, arch, distilled):
    ref_model, path = timm_checkpoint(name)
    model = pretrained(path, arch=arch, distilled=distilled)
    x = torch.randn(1, 3, 224, 224)  # batch 2 is compared in the cheaper featmap test
    ref = ref_model.forward_features(x)  # (B, prefix tokens, C), after the final norm
    (cls,) = model(x)
    torch.testing.assert_close(cls, ref[:, 0], rtol=0, atol=1e-5)
    if distilled:  # the distillation token too
        model.out_type = 'raw'
        (tokens,) = model(x)
        torch.testing.assert_close(tokens[:, :2], ref, rtol=0, atol=1e-5)


@torch.no_grad()
def test_stage_featmaps_match_timm(timm_checkpoint):
    ref_model, path = timm_checkpoint('pit_ti_224')
    # timm's intermediates are the stage outputs before the final norm
    model = pretrained(path, arch='pit-ti', out_type='featmap', out_indices=(0, 1, 2),
                       final_norm=False)
    x = torch.randn(2, 3, 224, 224)
    refs = ref_model.forward_intermediates(x, intermediates_only=True)
    for out, ref in zip(model(x), refs):
        torch.testing.assert_close(out, ref, rtol=0, atol=1e-5)


@torch.no_grad()
def test_load_at_another_size_resizes_pos_embed(timm_checkpoint):
    _, path = timm_checkpoint('pit_ti_224')
    at_224 = pretrained(path, arch='pit-ti')
    at_320 = pretrained(path, arch='pit-ti', img_size=320)
    assert at_320.pos_embed.shape == (1, 64, 39, 39)
    # resized once at load time, or at every forward: the same bicubic resize
    x = torch.randn(1, 3, 320, 320)
    torch.testing.assert_close(at_224(x)[0], at_320(x)[0], rtol=0, atol=1e-5)


def test_distillation_token_is_fitted_on_load(timm_checkpoint):
    _, plain = timm_checkpoint('pit_ti_224')
    model = pretrained(plain, arch='pit-ti', distilled=True)
    assert torch.equal(model.cls_token[:, 1], model.cls_token[:, 0])
    _, distilled = timm_checkpoint('pit_ti_distilled_224')
    assert pretrained(distilled, arch='pit-ti').cls_token.shape == (1, 1, 64)


# Tokens per side at each stage: patch embedding floor((I - 16) / 8) + 1, then each pooling
# conv (k3, s2, p1) gives ceil(n / 2); odd sides stay odd-safe (27 -> 14 -> 7).
GRIDS = {(224, 224): [(27, 27), (14, 14), (7, 7)],
         (320, 320): [(39, 39), (20, 20), (10, 10)],
         (512, 384): [(63, 47), (32, 24), (16, 12)]}


@pytest.mark.parametrize('size', list(GRIDS))
@pytest.mark.parametrize('built_at', [224, 'same'])
@torch.no_grad()
def test_multiscale_featmaps(size, built_at):
    model = PiTScaled('pit-ti', img_size=size if built_at == 'same' else built_at,
                      out_type='featmap', out_indices=(0, 1, 2)).eval()
    outs = model(torch.randn(1, 3, *size))
    assert [tuple(o.shape) for o in outs] == [(1, c, *g) for c, g in zip((64, 128, 256), GRIDS[size])]
    assert model.arch.grids_for(size) == tuple(GRIDS[size])
    assert model.arch.strides == (8, 16, 32)
    for out, stride in zip(outs, model.arch.strides):  # each map covers the image at its stride
        assert all(n * stride - stride <= side <= n * stride + stride
                   for n, side in zip(out.shape[-2:], size))


def test_pit_b_grids():
    # patch 14, stride 7: floor((I - 14) / 7) + 1
    assert pit_arch('pit-b').grids == ((31, 31), (16, 16), (8, 8))
    assert pit_arch('pit-b', img_size=(512, 384)).grids == ((72, 53), (36, 27), (18, 14))
    assert pit_arch('pit-b').strides == (7, 14, 28)


@pytest.mark.parametrize('out_type,shape', [('cls_token', (2, 256)), ('avg_featmap', (2, 256)),
                                            ('raw', (2, 1 + 49, 256)), ('featmap', (2, 256, 7, 7))])
@torch.no_grad()
def test_out_types(out_type, shape):
    (out,) = PiTScaled('pit-ti', out_type=out_type).eval()(torch.randn(2, 3, 224, 224))
    assert tuple(out.shape) == shape


@pytest.mark.parametrize('arch,millions', [('pit-ti', 4.9), ('pit-xs', 10.6), ('pit-s', 23.5),
                                           ('pit-b', 73.8)])
def test_published_param_counts(arch, millions):
    with torch.device('meta'):  # counting needs no weights
        model = PiTScaled(arch)
    head = model.embed_dims * 1000 + 1000
    total = sum(p.numel() for p in model.parameters()) + head
    assert abs(total / 1e6 - millions) < 0.1


def test_dict_arch_equals_preset():
    d = dict(depths=[2, 6, 4], base_heads=2, head_dim=32, mlp_ratio=4, patch_size=16, stride=8)
    assert pit_arch(d) == pit_arch('pit-ti')
    a = PiTArch(depths=(1, 2, 3), base_heads=3, head_dim=16, img_size=(96, 128))
    assert a.heads == (3, 6, 12) and a.embed_dims == (48, 96, 192) and a.mlp_hidden == (192, 384, 768)
    assert a.num_layers == 6 and a.replace(head_dim=8).embed_dims == (24, 48, 96)
    assert PiTArch(**a.to_dict()) == a
    model = MODELS.build(dict(type='PiTScaled', arch=d, img_size=(96, 128)))
    assert model.arch.grids == ((11, 15), (6, 8), (3, 4))
    assert [len(s.blocks) for s in model.transformers] == [2, 6, 4]


def test_train_step_and_frozen_stages():
    model = PiTScaled('pit-ti', img_size=64, drop_path_rate=0.1, frozen_stages=1)
    model.init_weights()
    model.train()
    assert not model.transformers[0].training and model.transformers[1].training
    model(torch.randn(2, 3, 64, 64))[0].sum().backward()
    assert model.pos_embed.grad is None and model.transformers[0].blocks[0].norm1.weight.grad is None
    assert model.transformers[1].pool.conv.weight.grad is not None


@pytest.mark.parametrize('kwargs,field,value', [
    (dict(arch='pit-xxl'), 'arch', "'pit-xxl'"),
    (dict(arch=dict(depths=(2, 6, 4), base_heads=2)), 'arch', 'missing'),
    (dict(arch=dict(depths=(2, 6), base_heads=2, head_dim=32, mlp_ratio=4, patch_size=16,
                    stride=8)), 'depths', '(2, 6)'),
    (dict(arch=dict(depths=(2, 6, 4), base_heads=0, head_dim=32, mlp_ratio=4, patch_size=16,
                    stride=8)), 'base_heads', '0'),
    (dict(arch=dict(depths=(2, 6, 4), base_heads=2, head_dim=32, mlp_ratio=4, patch_size=8,
                    stride=16)), 'stride', '16'),
    (dict(img_size=8), 'img_size', '(8, 8)'),
    (dict(img_size=(224, 0)), 'img_size', '(224, 0)'),
    (dict(out_type='tokens'), 'out_type', "'tokens'"),
    (dict(out_indices=3), 'out_indices', '3'),
    (dict(frozen_stages=4), 'frozen_stages', '4'),
    (dict(drop_path_rate=1.5), 'drop_path_rate', '1.5'),
    (dict(interpolate_mode='cubic'), 'interpolate_mode', "'cubic'"),
])
def test_bad_arguments_name_field_and_value(kwargs, field, value):
    with pytest.raises(ValueError) as err:
        PiTScaled(**kwargs)
    assert field in str(err.value) and value in str(err.value)
