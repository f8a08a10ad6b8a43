"""The cost CLIs on a tiny config: their output, their files, and one-line errors on bad input."""
import json

import pytest

TOOLS = 'tools/analysis_tools/'
TINY = ("model = dict(type='DeiTScaled', img_size=64, "
        "arch=dict(depth=2, num_heads=2, head_dim=32, mlp_ratio=2.0))\n")
CLASSIFIER = ("model = dict(type='ViTClassifier', num_classes=1000, "
              "backbone=dict(type='DeiTScaled', arch='deit-tiny'))\n")


@pytest.fixture
def config(tmp_path):
    def write(text=TINY, name='tiny.py'):
        path = tmp_path / name
        path.write_text(text)
        return str(path)
    return write


def test_get_flops_prints_openmmlab_lines_and_the_class_table(config, run_script, tmp_path):
    code, out, _ = run_script(TOOLS + 'get_flops.py', config(CLASSIFIER), '--device-model', 'v100',
                              '--out', tmp_path / 'f.json')
    assert code == 0
    assert 'Flops: 1.262G' in out and 'Params: 5.717M' in out
    assert 'Input shape: (1, 3, 224, 224)' in out
    for name in ('MLP', 'LayerNorm', 'MSA-MatMul', 'MSA-Softmax', 'MSA-Reshape&Transpose',
                 'MSA-Gather', 'others', 'v100 ms'):
        assert name in out
    data = json.load(open(tmp_path / 'f.json'))
    assert data['flops'] == data['analytic']['total']['flops']  # traced whole model == analytic


def test_get_flops_at_another_shape(config, run_script):
    code, out, _ = run_script(TOOLS + 'get_flops.py', config(), '--shape', '32', '48')
    assert code == 0 and 'Input shape: (1, 3, 32, 48)' in out


@pytest.mark.parametrize('args,message', [
    (['--shape', '22', 'x'], "shape '22 x' is malformed"),
    (['--shape', '0'], "shape '0' is malformed"),
    (['--shape', '8'], 'cannot run on an input of shape (1, 3, 8, 8)'),
    (['--device-model', 'tpu'], "unknown device 'tpu': choose one of v100, jetson-tx2"),
])
def test_get_flops_bad_input(config, run_script, args, message):
    code, out, err = run_script(TOOLS + 'get_flops.py', config(), *args)
    assert code == 2 and err.startswith('error: ') and message in err
    assert err.count('\n') == 1  # one line, no traceback


def test_config_whose_model_cannot_be_built(config, run_script, tmp_path):
    bad = config("model = dict(type='NoSuchNet')\n", 'bad.py')
    code, _, err = run_script(TOOLS + 'benchmark.py', bad)
    assert code == 2 and "cannot build the model of config" in err and 'NoSuchNet' in err
    code, _, err = run_script(TOOLS + 'op_breakdown.py', tmp_path / 'missing.py')
    assert code == 2 and 'missing.py' in err and 'does not exist' in err


def test_benchmark_both_backends(config, run_script, tmp_path):
    for backend in ('torch', 'onnxruntime'):
        code, out, _ = run_script(TOOLS + 'benchmark.py', config(), '--backend', backend,
                                  '--batch-size', 2, '--threads', 1, '--warmup', 1, '--rounds', 2,
                                  '--iters', 2, '--out', tmp_path / 'b.json')
        assert code == 0 and f'{backend} fp32 on cpu, batch 2, 1 threads' in out
        assert json.load(open(tmp_path / 'b.json'))['backend'] == backend
    code, _, err = run_script(TOOLS + 'benchmark.py', config(), '--backend', 'tvm')
    assert code == 2 and "--backend 'tvm' is invalid" in err


def test_op_breakdown_writes_csv_and_json(config, run_script, tmp_path):
    code, out, _ = run_script(TOOLS + 'op_breakdown.py', config(), '--out-dir', tmp_path / 'out',
                              '--iters', 2, '--warmup', 1)
    assert code == 0 and 'MSA-Gather' in out and 'total' in out
    assert (tmp_path / 'out' / 'breakdown.csv').exists()
    data = json.load(open(tmp_path / 'out' / 'breakdown.json'))
    assert abs(sum(r['percent'] for r in data['classes']) - 100) < 1e-9


def test_get_flops_counts_a_video_model_per_clip(run_script, configs_dir):
    """A clip model's input comes from its family ((C, T, H, W)); the analytic per-clip count
    equals the traced one of the whole recognizer's backbone."""
    config = f'{configs_dir}/timesformer/timesformer_divST_deit-micro_1xb16-motion-small.py'
    code, out, err = run_script('tools/analysis_tools/get_flops.py', config)
    assert code in (0, None), err
    total = next(line for line in out.splitlines() if line.startswith('total')).split()
    assert float(total[1]) > 0 and total[1] == total[2]    # traced GFLOPs == analytic GFLOPs
