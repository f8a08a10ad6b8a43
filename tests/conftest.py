import os
import runpy
import sys

import pytest
import torch

import vit_scaled  # noqa: F401  (registers the modules and the checkpoint shims)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def run_script(monkeypatch, capsys):
    """``run_script('tools/x.py', *args)``: the script as ``__main__`` in this process (a new
    process would spend most of a test importing torch); returns (exit status, stdout, stderr)."""
    def run(script, *args):
        monkeypatch.setattr(sys, 'argv', [script] + [str(a) for a in args])
        code = 0
        try:
            runpy.run_path(os.path.join(ROOT, script), run_name='__main__')
        except SystemExit as e:
            code = e.code
        out = capsys.readouterr()
        return code, out.out, out.err
    return run
