"""tools/quantize.py on a small digits model: the table it prints and saves, its bad inputs."""
import json

import torch

from vit_scaled.cost.config import build_model

TINY = ['model.backbone.arch.depth=2', 'model.backbone.arch.num_heads=2',
        'model.backbone.arch.head_dim=16', 'train_dataloader.batch_size=32']


def _checkpoint(tmp_path, digits_config):
    options = {k: (int(v) if v.isdigit() else v) for k, v in (o.split('=') for o in TINY)}
    _, model = build_model(digits_config, options)
    for p in model.parameters():  # an untrained model, but not a constant one
        torch.nn.init.normal_(p, std=0.2)
    path = tmp_path / 'model.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return path


def test_quantize_table(tmp_path, run_script, digits_config):
    ckpt = _checkpoint(tmp_path, digits_config)
    out = tmp_path / 'table.json'
    code, stdout, stderr = run_script('tools/quantize.py', digits_config, ckpt, '--scheme', 'fp32',
                                      'exp2', 'int8-tensor', 'int2-tensor', 'int4-vsq16-pct',
                                      'ort-int8',
                                      '--calib-batches', '2', '--out', out, '--cfg-options', *TINY)
    assert code in (0, None), stderr
    saved = json.loads(out.read_text())
    rows = {r['scheme']: r for r in saved['rows']}
    assert list(rows) == ['fp32', 'exp2', 'int8-tensor', 'int2-tensor', 'int4-vsq16-pct',
                          'ort-int8']
    # ONNX Runtime's int8 path: its own quantization, as close as the simulated 8 bits
    assert rows['ort-int8']['w_bits'] == 8 and rows['ort-int8']['score_error'] < 0.05
    assert saved['command'].startswith('python ') and 'tools/quantize.py' in saved['command']
    # base 2 with the folded scale changes no prediction; 8 bits barely any; 2 bits many
    assert rows['exp2']['top1'] == rows['fp32']['top1']
    assert abs(rows['int8-tensor']['top1'] - rows['fp32']['top1']) <= 2
    assert rows['int4-vsq16-pct']['w_bits'] == 4.25
    assert rows['exp2']['score_error'] < 1e-4 < rows['int8-tensor']['score_error']
    assert rows['int8-tensor']['score_error'] < rows['int2-tensor']['score_error']
    assert '| int2-tensor | 2 | 2 | ' in stdout and f'saved {out}' in stdout


def test_quantize_bad_inputs(tmp_path, run_script, digits_config):
    ckpt = _checkpoint(tmp_path, digits_config)
    code, _, err = run_script('tools/quantize.py', digits_config, ckpt, '--scheme', 'int4-vsq')
    assert code == 2 and err.strip().startswith("error: --scheme: scheme 'int4-vsq' is invalid")
    code, _, err = run_script('tools/quantize.py', digits_config, tmp_path / 'none.pth')
    assert code == 2 and 'checkpoint' in err and 'does not exist' in err
