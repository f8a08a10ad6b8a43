"""What the tests share: the repository's paths, building a config's model, running a tool.

The tests run with ``--import-mode=importlib`` (pytest.ini), so test modules cannot import each
other or this file; whatever they share is a fixture here.
"""
import logging
import os
import runpy
import sys

import pytest
import torch

import vit_scaled  # noqa: F401  (registers the modules and the checkpoint shims)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def _loggers_outlive_captured_streams():
    """mmengine's loggers live for the whole process and keep the stream they were made with;
    one made during a test keeps that test's captured stdout, closed afterwards, and every later
    message then prints a "--- Logging error ---" into whatever test runs (seen only when the
    suite runs in one order). Point such handlers back at the real stream after each test."""
    yield
    from mmengine.logging import MMLogger
    for logger in list(MMLogger._instance_dict.values()):
        for handler in logger.handlers:
            if isinstance(handler, logging.StreamHandler) and getattr(handler.stream, 'closed', False):
                handler.stream = sys.__stdout__  # not setStream: it flushes the closed one


@pytest.fixture(scope='session')
def root():
    """The repository's root (tools and configs are found from here, whatever the cwd)."""
    return ROOT


@pytest.fixture(scope='session')
def configs_dir():
    return os.path.join(ROOT, 'configs')


@pytest.fixture(scope='session')
def digits_config(configs_dir):
    """The embedded default: DeiT-Tiny-like on scikit-learn's digits."""
    return os.path.join(configs_dir, 'classification', 'deit-tiny_digits.py')


def _build_from_config(path):
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmengine.utils import import_modules_from_strings
    cfg = Config.fromfile(path)
    import_modules_from_strings(**cfg.custom_imports)
    scope = cfg.get('default_scope', 'mmengine')
    init_default_scope(scope)
    # The scope's own MODELS registry finds the scope's modules and, through its parent, the ones
    # vit_scaled registers in mmengine's root registry.
    models = __import__(f'{scope}.registry', fromlist=['MODELS']).MODELS
    return cfg, models.build(cfg.model)


@pytest.fixture(scope='session')
def build_from_config():
    """``build_from_config(path) -> (cfg, model)``: a config's model, built in its default scope
    after its ``custom_imports``, as the upstream tools build it."""
    return _build_from_config


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
