"""setup.py declares what the package imports, so that ``pip install -e .`` into someone's own
OpenMMLab environment brings what is missing; and this environment satisfies what it declares."""
import ast
import os
import sys
from importlib import metadata

import pytest
from packaging.requirements import Requirement


@pytest.fixture(scope='module')
def declared(root):
    """``(install_requires, extras)`` read from setup.py's literals, without running it."""
    tree = ast.parse(open(os.path.join(root, 'setup.py')).read())
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            try:
                found[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                pass
    return ([Requirement(r) for r in found['INSTALL_REQUIRES']],
            {k: [Requirement(r) for r in v] for k, v in found['EXTRAS'].items()})


def _imported_modules(root):
    """Top-level names of every module that vit_scaled's code imports (local imports included)."""
    names = set()
    for folder, _, files in os.walk(os.path.join(root, 'vit_scaled')):
        for name in files:
            if name.endswith('.py'):
                tree = ast.parse(open(os.path.join(folder, name)).read())
                for node in ast.walk(tree):
                    if isinstance(node, ast.Import):
                        names.update(a.name.split('.')[0] for a in node.names)
                    elif isinstance(node, ast.ImportFrom) and node.level == 0:
                        names.add(node.module.split('.')[0])
    return names - set(sys.stdlib_module_names) - {'vit_scaled'}


def _canonical(name):
    return name.lower().replace('_', '-')


def test_every_imported_package_is_declared(root, declared):
    requires, extras = declared
    names = {_canonical(r.name) for r in requires} | {
        _canonical(r.name) for reqs in extras.values() for r in reqs}
    # mmpose and mmaction2 are installed --no-deps (setup.py says why); they are named here.
    names |= {'mmpose', 'mmaction2'}
    dists = metadata.packages_distributions()
    undeclared = {}
    for module in sorted(_imported_modules(root)):
        assert module in dists, f'{module} is imported by vit_scaled but not installed'
        if not any(_canonical(d) in names for d in dists[module]):
            undeclared[module] = dists[module]
    assert not undeclared, f'imported but not declared in setup.py: {undeclared}'


def test_torch_is_required_but_not_pinned(declared):
    requires, _ = declared
    by_name = {_canonical(r.name): r for r in requires}
    assert 'torch' in by_name and not str(by_name['torch'].specifier)
    assert 'mmcv' in by_name and not by_name['mmcv'].specifier.contains('2.2.0')


def test_this_environment_satisfies_what_is_declared(declared):
    requires, _ = declared
    for req in requires:
        version = metadata.version(req.name)
        assert req.specifier.contains(version, prereleases=True), (str(req), version)
