"""Low-precision deployment paths: benchmark.py --precision on both backends, the paths' outputs
against fp32, and the bad combinations."""
import json

import pytest
import torch

from vit_scaled.cost.config import BadInput
from vit_scaled.cost.precision import deployed, output_error
from vit_scaled.models import DeiTScaled

TOOL = 'tools/analysis_tools/benchmark.py'
TINY = ['model.backbone.arch.depth=2', 'model.backbone.arch.num_heads=2',
        'model.backbone.arch.head_dim=32']


@pytest.mark.parametrize('backend,precision', [('torch', 'bf16'), ('torch', 'int8'),
                                               ('onnxruntime', 'fp32'), ('onnxruntime', 'int8')])
def test_paths_stay_close_to_fp32(backend, precision):
    model = DeiTScaled(arch=dict(depth=2, num_heads=2, head_dim=32, mlp_ratio=4.0),
                       img_size=32, patch_size=8).eval()
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.05)
    x = torch.randn(2, 3, 32, 32)
    path, px = deployed(model, x, backend, precision)
    with torch.inference_mode():
        err = output_error(model(x), path(px))
    # fp32 export: rounding only; bf16: 8-bit mantissa; int8: a few percent at most
    bound = {'fp32': 1e-5, 'bf16': 0.05, 'int8': 0.1}[precision]
    assert 0 <= err < bound
    if precision != 'fp32':
        assert err > 1e-5  # the path really runs at lower precision


def test_benchmark_precision(run_script, digits_config, tmp_path):
    out = tmp_path / 'm.json'
    code, stdout, err = run_script(TOOL, digits_config, '--backend', 'onnxruntime', '--precision',
                                   'int8', '--rounds', '1', '--iters', '3', '--warmup', '1',
                                   '--threads', '1', '--out', out, '--cfg-options', *TINY)
    assert code in (0, None), err
    saved = json.loads(out.read_text())
    assert saved['precision'] == 'int8' and saved['backend'] == 'onnxruntime'
    assert 0 < saved['output_error'] < 0.2
    assert 'path: onnxruntime int8, output error vs fp32' in stdout


@pytest.mark.parametrize('args,says', [
    (['--backend', 'onnxruntime', '--precision', 'bf16'], 'not available with --backend onnxruntime'),
    (['--precision', 'fp8'], "--precision 'fp8' is invalid")])
def test_benchmark_bad_precision(run_script, digits_config, args, says):
    code, _, err = run_script(TOOL, digits_config, *args)
    assert code == 2 and err.startswith('error: ') and says in err


def test_deployed_refuses_unknown_path():
    with pytest.raises(BadInput, match='fp32, int8'):
        deployed(torch.nn.Linear(2, 2), torch.randn(1, 2), 'onnxruntime', 'bf16')


def test_latency_cost_measured_on_a_deployment_path():
    from vit_scaled.arch import DeiTArch
    from vit_scaled.scaling.budget import make_cost
    cost = make_cost('latency', threads=1, rounds=1, backend='onnxruntime', precision='int8')
    assert 'onnxruntime int8' in cost.label
    small = DeiTArch(depth=2, num_heads=2, head_dim=16, mlp_ratio=2.0, img_size=32, patch_size=8)
    assert cost(small) > 0                            # the reference: measured
    assert cost(small.replace(depth=4)) > 0           # another: paired with the reference
