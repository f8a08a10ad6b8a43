"""Layer-wise lr decay for the package's block names, as the ViTPose config uses it."""
import os.path as osp

import pytest
import torch
from mmengine.optim import build_optim_wrapper
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS

from vit_scaled import pit_arch
from vit_scaled.optim import layer_id


def test_vitpose_config_decays_every_block(build_from_config, configs_dir):
    cfg, model = build_from_config(
        osp.join(configs_dir, 'vitpose/vitpose_deit-small_coco-256x192.py'))
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    base_lr, rate = cfg.optim_wrapper.optimizer.lr, 0.8
    lr_of = {id(p): g['lr'] for g in wrapper.optimizer.param_groups for p in g['params']}
    wd_of = {id(p): g['weight_decay'] for g in wrapper.optimizer.param_groups for p in g['params']}
    named = dict(model.named_parameters())
    for name, k in [('backbone.patch_embed.proj.weight', 0), ('backbone.blocks.0.attn.qkv.weight', 1),
                    ('backbone.blocks.11.mlp.fc2.weight', 12), ('head.final_layer.weight', 13)]:
        assert lr_of[id(named[name])] == pytest.approx(base_lr * rate ** (13 - k)), name
    # No weight decay on biases, norms and the position embedding; the rest keeps the recipe's.
    assert wd_of[id(named['backbone.pos_embed'])] == 0
    assert wd_of[id(named['backbone.blocks.3.norm1.weight'])] == 0
    assert wd_of[id(named['backbone.blocks.3.attn.qkv.bias'])] == 0
    assert wd_of[id(named['backbone.blocks.3.attn.qkv.weight'])] == cfg.optim_wrapper.optimizer.weight_decay
    assert sum(len(g['params']) for g in wrapper.optimizer.param_groups) == len(named)


def test_pit_layers_count_through_the_stages():
    arch = pit_arch('pit-ti')  # 2-6-4
    assert layer_id('backbone.transformers.0.blocks.1.attn.qkv.weight', arch) == 2
    assert layer_id('backbone.transformers.1.pool.conv.weight', arch) == 2
    assert layer_id('backbone.transformers.2.blocks.0.mlp.fc1.weight', arch) == 9
    assert layer_id('backbone.cls_token', arch) == 0
    assert layer_id('head.fc.weight', arch) == 13


@pytest.mark.parametrize('rate', [0, 1.5, 'fast', None])
def test_bad_rate_is_named(rate):
    cls = OPTIM_WRAPPER_CONSTRUCTORS.get('ViTLayerDecayOptimWrapperConstructor')
    with pytest.raises(ValueError, match=f'layer_decay_rate={rate!r}'):
        cls(dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-3)),
            dict(layer_decay_rate=rate))


def test_a_model_without_our_backbone_needs_num_layers():
    cls = OPTIM_WRAPPER_CONSTRUCTORS.get('ViTLayerDecayOptimWrapperConstructor')
    ctor = cls(dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-3)),
               dict(layer_decay_rate=0.5))
    with pytest.raises(ValueError, match='num_layers'):
        ctor(torch.nn.Linear(2, 2))
