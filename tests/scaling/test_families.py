"""The family registry: a new family is one registration. A toy family, declared here in a few
lines, is scaled, costed, written into a config, and that config is built and run, with no other
module of the package touched."""
import dataclasses

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import MODELS
from torch import nn

from vit_scaled.arch import DeiTArch
from vit_scaled.cost import analytic_cost, traced_flops
from vit_scaled.cost.analytic import block, conv, layernorm
from vit_scaled.families import Family, family_of, get_family, register_family, unregister_family
from vit_scaled.models.layers import Block
from vit_scaled.scaling import parse_budget, scale
from vit_scaled.scaling.configs import write_config
from vit_scaled.scaling.strategy import Strategy


@dataclasses.dataclass(frozen=True)
class ToyArch:
    """A patch-token model with its own field names: side, layers, heads, width per head."""
    layers: int = 4
    heads: int = 2
    per_head: int = 16
    ratio: float = 2.0
    side: tuple = (32, 32)
    patch_size: int = 8
    in_channels: int = 3

    @property
    def img_size(self):
        return self.side

    def replace(self, **kw):
        return dataclasses.replace(self, **kw)


class ToyNet(nn.Module):
    def __init__(self, layers, heads, per_head, ratio, side):
        super().__init__()
        self.arch = a = ToyArch(layers, heads, per_head, ratio, tuple(side))
        dim = heads * per_head
        self.embed = nn.Conv2d(3, dim, 8, 8)
        self.blocks = nn.ModuleList(Block(dim, heads, int(dim * ratio)) for _ in range(layers))
        self.norm = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, x):
        x = self.embed(x).flatten(2).transpose(1, 2)
        for b in self.blocks:
            x = b(x)
        return (self.norm(x).mean(1),)


def toy_cost(t, a, B, img, num_classes, P, final_norm):
    C = a.heads * a.per_head
    grid = (img[0] // 8, img[1] // 8)
    conv(t, B, 3, C, 8, img, grid)
    block(t, B, grid[0] * grid[1], C, a.heads, a.per_head, int(C * a.ratio), n=a.layers)
    layernorm(t, B * grid[0] * grid[1], C)


@pytest.fixture
def toy():
    MODELS.register_module('ToyNet', module=ToyNet, force=True)
    fam = register_family(Family(
        name='toy', arch_type=ToyArch, backbone='ToyNet',
        dims=dict(img_size='side', depth='layers', num_heads='heads', head_dim='per_head',
                  mlp_ratio='ratio'),
        from_cfg=lambda b: ToyArch(b['layers'], b['heads'], b['per_head'], b['ratio'],
                                   tuple(b['side'])),
        to_cfg=lambda a: dict(layers=a.layers, heads=a.heads, per_head=a.per_head,
                              ratio=a.ratio, side=list(a.side)),
        cost=toy_cost, out_channels=lambda a, b: [a.heads * a.per_head],
        num_layers=lambda a: a.layers, layer_id=lambda name, a: 0,
        example_input=lambda a, n: torch.randn(n, 3, *a.side)))
    yield fam
    unregister_family('toy')


def test_a_toy_family_scales_costs_and_writes_a_config(toy, tmp_path):
    base = ToyArch()
    assert family_of(base) is get_family('toy')
    model = ToyNet(4, 2, 16, 2.0, (32, 32))
    traced = traced_flops(model, torch.randn(1, 3, 32, 32))
    assert sum(traced.values()) == analytic_cost(base).flops
    strategy = Strategy(rates=dict(depth=0.5, head_dim=0.5), family='toy')
    budget = parse_budget(f'flops={3 * analytic_cost(base).flops}')
    result = scale(base, strategy, budget)
    assert result.arch.layers > 4 and result.arch.per_head > 16   # both dimensions moved
    assert 0.9 * budget.value < result.cost <= budget.value
    cfg_path = tmp_path / 'toy.py'
    cfg_path.write_text("model = dict(type='ToyNet', layers=4, heads=2, per_head=16, ratio=2.0, "
                        "side=[32, 32])\n")
    out = str(tmp_path / 'toy_scaled.py')
    write_config(str(cfg_path), result.arch, out)
    built = MODELS.build(Config.fromfile(out).model)
    assert built.arch == result.arch
    assert built(torch.randn(1, 3, 32, 32))[0].shape == (1, result.arch.heads * result.arch.per_head)


def test_unknown_family_names_the_registered_ones():
    with pytest.raises(ValueError, match="family='vit-h' is unknown.*deit.*pit"):
        get_family('vit-h')
    with pytest.raises(ValueError, match="family.*'vit-h'.*deit"):
        Strategy.from_dict(dict(family='vit-h', rates=dict(depth=1.0)))
    with pytest.raises(TypeError, match='no family is registered for str'):
        family_of('deit')
