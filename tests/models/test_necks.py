"""ViTDet's simple feature pyramid: levels, strides, registration and bad input."""
import pytest
import torch

from vit_scaled.models.necks import SimpleFeaturePyramid


def test_levels_have_the_strides_of_the_r50_config():
    neck = SimpleFeaturePyramid(in_channels=192, out_channels=64)
    # a stride-16 map of an 800 x 1333 image is 50 x 83 patches; odd sizes keep their last row
    outs = neck((torch.randn(2, 192, 50, 83), ))
    assert [tuple(o.shape) for o in outs] == [(2, 64, 100, 166), (2, 64, 50, 83),
                                              (2, 64, 25, 42), (2, 64, 13, 21)]
    assert neck.num_outs == 4 and neck.in_channels == [192]


def test_upsampling_by_four_stacks_two_deconvolutions_with_norm_between():
    neck = SimpleFeaturePyramid(in_channels=[96], out_channels=32, scale_factors=(4.0, 1.0))
    ups = neck.rescales[0]
    assert [type(m).__name__ for m in ups] == ['ConvTranspose2d', 'LayerNorm2d', 'GELU',
                                               'ConvTranspose2d']
    assert neck.lateral_convs[0].conv.in_channels == 24   # 96 halved twice, as ViTDet
    assert neck((torch.randn(1, 96, 6, 5), ))[0].shape == (1, 32, 24, 20)


def test_every_parameter_gets_a_gradient():
    neck = SimpleFeaturePyramid(in_channels=64, out_channels=32)
    sum(o.sum() for o in neck((torch.randn(1, 64, 8, 8), ))).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in neck.parameters())


def test_registered_in_the_root_registry_and_found_from_mmdet_scope():
    from mmdet.registry import MODELS
    import mmdet.models  # noqa: F401  (mmdet's own necks registered: no name collides)
    assert MODELS.get('SimpleFeaturePyramid') is SimpleFeaturePyramid
    neck = MODELS.build(dict(type='SimpleFeaturePyramid', in_channels=32, out_channels=32))
    assert isinstance(neck, SimpleFeaturePyramid)


@pytest.mark.parametrize('kwargs, match', [
    (dict(in_channels=[192, 192]), r'in_channels=\[192, 192\] is invalid'),
    (dict(in_channels=0), 'in_channels=0 is invalid'),
    (dict(in_channels=64, scale_factors=(3.0, )), 'scale_factors contains 3.0'),
    (dict(in_channels=64, scale_factors=()), r'scale_factors=\(\)'),
])
def test_bad_arguments_name_the_field(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SimpleFeaturePyramid(**kwargs)


def test_more_than_one_map_is_refused():
    neck = SimpleFeaturePyramid(in_channels=32, out_channels=32)
    x = torch.randn(1, 32, 4, 4)
    with pytest.raises(ValueError, match='takes one feature map, got 3'):
        neck((x, x, x))
