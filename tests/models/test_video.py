"""VideoDeiTScaled: the image model frame by frame when started from image weights, the same
function as mmaction2's TimeSformer for each attention type, embeddings resized, bad input
refused by name, and traced FLOPs equal to the analytic count per operator class."""
import pytest
import torch

from vit_scaled import DeiTScaled
from vit_scaled.arch import ATTENTION_TYPES, VideoDeiTArch, video_deit_arch
from vit_scaled.cost.analytic import analytic_cost, backbone_cost
from vit_scaled.cost.traced import traced_flops
from vit_scaled.models.video import VideoDeiTScaled, resize_time_embed

ARCH = dict(depth=2, num_heads=2, head_dim=16, mlp_ratio=2.0)
SMALL = dict(arch=ARCH, num_frames=4, img_size=32, patch_size=8)


def _video(**kw):
    model = VideoDeiTScaled(**{**SMALL, **kw})
    model.init_weights()
    return model.eval()


def _image_checkpoint(tmp_path, mmengine_layout):
    image = DeiTScaled(ARCH, img_size=32, patch_size=8)
    image.init_weights()
    state = image.state_dict()
    path = tmp_path / 'image.pth'
    if mmengine_layout:  # a DeiTScaled classifier's checkpoint: the backbone under 'backbone.'
        state = {'state_dict': {'backbone.' + k: v for k, v in state.items()},
                 'meta': {'epoch': 1}}
    torch.save(state, path)
    return image.eval(), str(path)


@pytest.mark.parametrize('attention_type', ['divided_space_time', 'space_only'])
@pytest.mark.parametrize('mmengine_layout', [False, True])
def test_identical_frames_give_the_image_models_class_token(tmp_path, attention_type,
                                                            mmengine_layout):
    image, ckpt = _image_checkpoint(tmp_path, mmengine_layout)
    video = _video(attention_type=attention_type,
                   init_cfg=dict(type='Pretrained', checkpoint=ckpt))
    frame = torch.randn(2, 3, 32, 32)
    clip = frame.unsqueeze(2).expand(-1, -1, 4, -1, -1)
    with torch.no_grad():
        expected = image(frame)[0]
        got = video(clip)
    assert got.shape == (2, 32)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-5)
    if attention_type == 'divided_space_time':
        block = video.blocks[1]
        torch.testing.assert_close(block.temporal_attn.qkv.weight, block.attn.qkv.weight)
        torch.testing.assert_close(block.temporal_norm1.weight, block.norm1.weight)
        assert not block.temporal_attn.fc.weight.any() and not block.temporal_attn.fc.bias.any()
        assert not video.time_embed.any()


def test_frames_that_differ_change_the_output_once_temporal_attention_is_on(tmp_path):
    _, ckpt = _image_checkpoint(tmp_path, False)
    video = _video(init_cfg=dict(type='Pretrained', checkpoint=ckpt))
    clip = torch.randn(1, 3, 4, 32, 32)
    with torch.no_grad():
        before = video(clip)
        for block in video.blocks:
            torch.nn.init.normal_(block.temporal_attn.fc.weight, std=0.1)
        after = video(clip)
        # without a time embedding, attention cannot tell the order of frames ...
        assert torch.allclose(after, video(clip.flip(2)), atol=1e-5)
        video.time_embed.normal_()
        after = video(clip)
        reversed_ = video(clip.flip(2))
    assert not torch.allclose(before, after, atol=1e-4)
    assert not torch.allclose(after, reversed_, atol=1e-4)  # ... with it, it can


# -- the same function as mmaction2's TimeSformer ------------------------------------------
def _mmaction_state(model: VideoDeiTScaled) -> dict:
    """Our weights under mmaction2 TimeSformer's names (mmcv's transformer layers)."""
    s = model.state_dict()
    out = {'cls_token': s['cls_token'], 'pos_embed': s['pos_embed'],
           'patch_embed.projection.weight': s['patch_embed.proj.weight'],
           'patch_embed.projection.bias': s['patch_embed.proj.bias'],
           'norm.weight': s['norm.weight'], 'norm.bias': s['norm.bias']}
    if 'time_embed' in s:
        out['time_embed'] = s['time_embed']
    divided = model.arch.attention_type == 'divided_space_time'
    for i in range(model.arch.depth):
        b, m = f'blocks.{i}.', f'transformer_layers.layers.{i}.'

        def attn(dst, src):
            out[dst + 'in_proj_weight'] = s[src + 'qkv.weight']
            out[dst + 'in_proj_bias'] = s[src + 'qkv.bias']
            out[dst + 'out_proj.weight'] = s[src + 'proj.weight']
            out[dst + 'out_proj.bias'] = s[src + 'proj.bias']

        def copy(dst, src):
            out[dst + 'weight'], out[dst + 'bias'] = s[src + 'weight'], s[src + 'bias']

        if divided:
            copy(m + 'attentions.0.norm.', b + 'temporal_norm1.')
            attn(m + 'attentions.0.attn.', b + 'temporal_attn.')
            copy(m + 'attentions.0.temporal_fc.', b + 'temporal_attn.fc.')
            copy(m + 'attentions.1.norm.', b + 'norm1.')
            attn(m + 'attentions.1.attn.', b + 'attn.')
            copy(m + 'ffns.0.norm.', b + 'norm2.')
        else:
            copy(m + 'norms.0.', b + 'norm1.')
            attn(m + 'attentions.0.attn.', b + 'attn.')
            copy(m + 'norms.1.', b + 'norm2.')
        copy(m + 'ffns.0.layers.0.0.', b + 'mlp.fc1.')
        copy(m + 'ffns.0.layers.1.', b + 'mlp.fc2.')
    return out


@pytest.mark.parametrize('attention_type', ATTENTION_TYPES)
def test_same_function_as_mmactions_timesformer(attention_type):
    import mmaction.models  # noqa: F401  (registers TimeSformer's layers; vit_scaled's shim first)
    from mmaction.models.backbones.timesformer import TimeSformer
    from mmengine.registry import DefaultScope

    ours = VideoDeiTScaled(arch=dict(depth=2, num_heads=2, head_dim=16, mlp_ratio=4.0),
                           num_frames=4, img_size=32, patch_size=8, attention_type=attention_type)
    ours.init_weights()
    ours.eval()
    with torch.no_grad():  # a temporal projection and time embedding that are not zero
        for name, p in ours.named_parameters():
            if 'temporal_attn.fc' in name or name == 'time_embed':
                p.normal_(std=0.2)
    with DefaultScope.overwrite_default_scope('mmaction'):  # its layers are built by name
        theirs = TimeSformer(num_frames=4, img_size=32, patch_size=8, embed_dims=32, num_heads=2,
                             num_transformer_layers=2, attention_type=attention_type).eval()
    own = theirs.state_dict()
    state = _mmaction_state(ours)
    assert set(state) == set(own), set(state) ^ set(own)
    theirs.load_state_dict(state)
    clip = torch.randn(2, 3, 4, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(ours(clip), theirs(clip), rtol=0, atol=1e-5)


# -- outputs, embeddings, bad input --------------------------------------------------------
@pytest.mark.parametrize('attention_type', ATTENTION_TYPES)
def test_out_types(attention_type):
    clip = torch.randn(2, 3, 4, 32, 32)
    with torch.no_grad():
        assert _video(attention_type=attention_type)(clip).shape == (2, 32)
        model = _video(attention_type=attention_type, out_type='featmap', out_indices=(0, 1))
        fm = model(clip)
        assert isinstance(fm, tuple) and [f.shape for f in fm] == [(2, 32, 4, 4, 4)] * 2
        model.out_type = 'raw'
        raw = model(clip)[1]
        assert raw.shape == (2, 1 + 4 * 16, 32)
        avg = _video(attention_type=attention_type, out_type='avg_featmap', with_cls_token=False)
        assert avg(clip).shape == (2, 32)
    # featmap is the patch part of raw, frame after frame
    torch.testing.assert_close(fm[1].permute(0, 2, 3, 4, 1).reshape(2, -1, 32), raw[:, 1:])


@pytest.mark.parametrize('attention_type', ATTENTION_TYPES)
def test_other_frame_counts_and_resolutions_are_resized(attention_type):
    model = _video(attention_type=attention_type)
    with torch.no_grad():
        assert model(torch.randn(1, 3, 6, 48, 40)).shape == (1, 32)
        assert model(torch.randn(1, 3, 1, 32, 32)).shape == (1, 32)


def test_time_embedding_resize_is_linear_in_time():
    t = torch.arange(4.).view(1, 4, 1).expand(1, 4, 3)
    assert resize_time_embed(t, 4) is t
    r = resize_time_embed(t, 8)
    assert r.shape == (1, 8, 3) and torch.all(r[0, 1:, 0] >= r[0, :-1, 0])
    torch.testing.assert_close(resize_time_embed(r, 4), t, atol=0.3, rtol=0)


def test_video_checkpoint_loads_into_another_frame_count(tmp_path):
    src = _video()
    with torch.no_grad():
        src.time_embed.normal_()
    path = tmp_path / 'video.pth'
    torch.save(src.state_dict(), path)
    dst = _video(num_frames=8, init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    torch.testing.assert_close(dst.time_embed, resize_time_embed(src.time_embed, 8))
    torch.testing.assert_close(dst.blocks[0].temporal_attn.qkv.weight,
                               src.blocks[0].temporal_attn.qkv.weight)


def test_bad_input_is_refused_by_name(tmp_path):
    with pytest.raises(ValueError, match="attention_type='divided'.*divided_space_time.*"
                                         "joint_space_time.*space_only"):
        VideoDeiTScaled(**SMALL, attention_type='divided')
    with pytest.raises(ValueError, match='num_frames=0'):
        VideoDeiTScaled(**{**SMALL, 'num_frames': 0})
    model = _video()
    with pytest.raises(ValueError, match=r'expected a clip \(B, C=3, T, H, W\).*\(1, 3, 32, 32\)'):
        model(torch.randn(1, 3, 32, 32))
    with pytest.raises(ValueError, match='resolution 36x32 is not a multiple of patch_size=8'):
        model(torch.randn(1, 3, 4, 36, 32))
    # an image checkpoint of another width: both widths named
    other = DeiTScaled(dict(ARCH, num_heads=3), img_size=32, patch_size=8)
    torch.save(other.state_dict(), tmp_path / 'w48.pth')
    wrong = VideoDeiTScaled(**SMALL, init_cfg=dict(type='Pretrained',
                                                   checkpoint=str(tmp_path / 'w48.pth')))
    with pytest.raises(ValueError, match='checkpoint is 48 wide.*model is 32 wide'):
        wrong.init_weights()


def test_arch_value():
    a = video_deit_arch('deit-tiny', num_frames=16, attention_type='space_only')
    assert isinstance(a, VideoDeiTArch) and a.embed_dims == 192 and a.num_frames == 16
    assert a.replace(depth=4).num_frames == 16 and a.to_dict()['attention_type'] == 'space_only'
    assert video_deit_arch(a) is a
    with pytest.raises(ValueError, match='distilled'):
        VideoDeiTArch(distilled=True)
    with pytest.raises(ValueError, match="softmax='exp2' is invalid: the video model"):
        VideoDeiTArch(softmax='exp2')


# -- cost ----------------------------------------------------------------------------------
@pytest.mark.parametrize('attention_type', ATTENTION_TYPES)
@pytest.mark.parametrize('with_cls_token', [True, False])
def test_traced_equals_analytic_per_class(attention_type, with_cls_token):
    model = _video(attention_type=attention_type, with_cls_token=with_cls_token,
                   out_type='cls_token' if with_cls_token else 'avg_featmap')
    clip = torch.randn(2, 3, 4, 32, 32)
    traced = traced_flops(model, clip)
    cost = backbone_cost(model, batch_size=2)
    assert {c: v.flops for c, v in cost} == traced
    assert cost.params == sum(p.numel() for p in model.parameters())


def test_analytic_cost_per_clip_follows_each_attention_type():
    def flops(frames, kind):
        return analytic_cost(video_deit_arch('deit-tiny', frames, kind)).flops
    image = analytic_cost(video_deit_arch('deit-tiny', 1, 'space_only')).flops
    # space-only is the image model per frame (one class token after the frame mean)
    assert flops(8, 'space_only') == pytest.approx(8 * image, rel=1e-4)
    # joint is quadratic in all tokens; divided adds a temporal attention to every block
    assert flops(16, 'joint_space_time') > 2 * flops(8, 'joint_space_time')
    assert flops(8, 'space_only') < flops(8, 'divided_space_time') < flops(8, 'joint_space_time')
