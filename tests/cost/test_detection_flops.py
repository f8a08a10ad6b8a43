"""A detector's FLOPs: the deformable attention's sampling, which no tracer sees, counted from its
shape; get_flops.py prints the detector's total and the backbone's share."""
import glob
import os.path as osp
import re

import pytest
import torch

from vit_scaled.cost.config import build_model, model_inputs
from vit_scaled.cost.deformable import detector_flops, msda_sampling_flops
from vit_scaled.cost.traced import traced_flops

DETR = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'configs',
                'deformable_detr')
SMALL = osp.join(DETR, 'deformable-detr-refine-twostage_deit-tiny_1xb8-24e_small.py')


@pytest.fixture(scope='module')
def small():
    _, model = build_model(SMALL)
    return model


def test_sampling_count_matches_the_formula_by_hand(small):
    x, kwargs = model_inputs(small, (3, 160, 160))
    det = detector_flops(small, x, kwargs)
    # 160 / 16 = 10 x 10 patches; the pyramid's levels at strides 8 and 16: 20 x 20 + 10 x 10
    tokens = 20 * 20 + 10 * 10
    heads, levels, points, head_dim = 8, 2, 4, 256 // 8
    per_query = 5 * heads * levels * points * head_dim          # 4 bilinear + 1 weighted sum
    encoder = 2 * tokens * per_query                            # 2 layers, every token queries
    decoder = 2 * 100 * per_query                               # 2 layers of 100 object queries
    assert det.msda == encoder + decoder == 12_288_000
    assert sorted(c[1] for c in det.msda_calls) == [100, 100, tokens, tokens]
    assert msda_sampling_flops(tokens, heads, levels, points, head_dim) == tokens * per_query
    assert det.total == sum(det.traced.values()) + det.msda
    assert det.backbone == sum(traced_flops(small.backbone, x).values())
    assert 0 < det.backbone < det.total


def test_the_tracer_sees_the_linear_layers_and_softmax_of_msda_but_not_the_sampling(small):
    msda = small.encoder.layers[0].self_attn
    C, h, L, P = msda.embed_dims, msda.num_heads, msda.num_levels, msda.num_points
    shapes = torch.tensor([[4, 4], [2, 2]])
    n = 20
    query = torch.randn(1, n, C)
    kwargs = dict(value=query, query_pos=None, key_padding_mask=torch.zeros(1, n, dtype=torch.bool),
                  reference_points=torch.rand(1, n, L, 2), spatial_shapes=shapes,
                  level_start_index=torch.tensor([0, 16]))
    traced = sum(traced_flops(msda, query, **kwargs).values())
    linears = n * C * C * 2 + n * C * h * L * P * 3   # value, output; offsets (x, y) and weights
    softmax = n * h * L * P
    assert traced == linears + softmax


@pytest.mark.parametrize('config', sorted(glob.glob(osp.join(DETR, '*.py'))), ids=osp.basename)
def test_get_flops_prints_the_detector_total_and_the_backbone_share(config, run_script):
    code, out, err = run_script('tools/analysis_tools/get_flops.py', config, '--shape', 128, 160)
    assert code == 0, err
    traced = float(re.search(r'^total\s+([\d.]+)', out, re.M)[1])
    msda = float(re.search(r'deformable attention sampling \(analytic\): ([\d.]+)G', out)[1])
    total = float(re.search(r'detector total \(traced \+ deformable sampling\): ([\d.]+)G', out)[1])
    backbone, share = re.search(r'backbone: ([\d.]+)G \(([\d.]+)% of the detector\)', out).groups()
    assert msda > 0 and total == pytest.approx(traced + msda, abs=2e-3)
    assert float(share) == pytest.approx(100 * float(backbone) / total, abs=0.2)
