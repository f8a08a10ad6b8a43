"""Workarounds for upstream bugs, applied once by ``import vit_scaled``. Each names its bug and
when it can go."""
import importlib.util
import os
import sys
import types


def allow_mmengine_checkpoints() -> None:
    """torch >= 2.6 loads with ``weights_only=True``; mmengine 0.10.7 calls ``torch.load`` without
    saying, and its checkpoints hold a few non-tensor objects (the message hub's ``HistoryBuffer``,
    numpy arrays and scalars in ``meta``), so ``load_checkpoint`` and ``--resume`` fail with
    ``UnpicklingError``. We allow-list exactly those types; anything else (a pickled callable, say)
    is still refused by torch before it runs. Delete when mmengine allow-lists its own types."""
    import numpy as np
    import torch
    from mmengine.logging.history_buffer import HistoryBuffer

    multiarray = np._core.multiarray if hasattr(np, '_core') else np.core.multiarray
    dtype_classes = [type(np.dtype(t)) for t in
                     (np.float64, np.float32, np.float16, np.int64, np.int32, np.int8, np.uint8, np.bool_)]
    # HistoryBuffer pickles its statistics methods as ``getattr(HistoryBuffer, 'min')``. A real
    # ``getattr`` would open every object's attributes (and so arbitrary code) to a checkpoint;
    # the stand-in resolves only those methods.
    torch.serialization.add_safe_globals(
        [HistoryBuffer, multiarray._reconstruct, multiarray.scalar, np.ndarray, np.dtype]
        + dtype_classes
        + [(_history_buffer_getattr, name) for name in ('builtins.getattr', '__builtin__.getattr')])


def _history_buffer_getattr(obj, name):
    from mmengine.logging.history_buffer import HistoryBuffer

    # The four built-in statistics, plus any registered through ``register_statistics``.
    if obj is HistoryBuffer and name in {'min', 'max', 'current', 'mean',
                                         *HistoryBuffer._statistics_methods}:
        return getattr(HistoryBuffer, name)
    raise RuntimeError(f'checkpoint asks for getattr({obj!r}, {name!r}); only the statistics '
                       'methods of mmengine\'s HistoryBuffer are allowed')


def checkpoint_errors_without_unsafe_advice() -> None:
    """mmengine 0.10.7's local checkpoint loader (what ``load_from``, ``--resume``, ``init_cfg``
    and ``load_checkpoint`` go through) calls ``torch.load`` bare. On a corrupt or truncated file,
    and on a file that asks to run code, torch's message advises re-running with
    ``weights_only=False``: advice that would let a crafted checkpoint run code. We register a
    local loader that loads weights-only and says what is wrong with the file
    (``models.checkpoint.load_file``). Delete when neither mmengine nor torch gives that advice."""
    import os.path as osp

    from mmengine.runner.checkpoint import CheckpointLoader

    @CheckpointLoader.register_scheme(prefixes='', force=True)
    def load_from_local(filename, map_location):
        from .models.checkpoint import load_file  # on use: compat runs before the models import
        filename = osp.expanduser(filename)
        if not osp.isfile(filename):
            raise FileNotFoundError(f'checkpoint {filename!r} does not exist')
        return load_file(filename, map_location)


class _MissingDRN:
    """Stands in for mmaction2's DRN, whose code the 1.2.0 release does not ship."""

    def __init__(self, *args, **kwargs):
        raise RuntimeError('DRN is missing from the mmaction2 1.2.0 release '
                           '(mmaction/models/localizers/drn is not in its wheel or sdist)')


def patch_mmaction_drn() -> None:
    """mmaction2 1.2.0's ``localizers/__init__.py`` imports ``.drn.drn``, a package that its wheel
    and sdist lack, so ``import mmaction.models`` raises ``ModuleNotFoundError``. We register empty
    modules under those names whose ``DRN`` raises if anyone builds it. Delete when mmaction2
    ships the package (any release after 1.2.0 that contains ``localizers/drn``)."""
    spec = importlib.util.find_spec('mmaction')
    if spec is None or not spec.submodule_search_locations:
        return
    root = list(spec.submodule_search_locations)[0]
    if os.path.isdir(os.path.join(root, 'models', 'localizers', 'drn')):
        return
    for name in ('mmaction.models.localizers.drn', 'mmaction.models.localizers.drn.drn'):
        if name not in sys.modules:
            module = types.ModuleType(name, _MissingDRN.__doc__)
            module.__path__ = []  # a package, so that '.drn.drn' resolves below it
            module.DRN = _MissingDRN
            sys.modules[name] = module


def atomic_local_writes() -> None:
    """mmengine 0.10.7's ``LocalBackend.put`` / ``put_text`` (which ``save_checkpoint`` and the
    ``last_checkpoint`` pointer go through) open the destination with ``'wb'`` and write into it,
    so a run killed or out of disk mid-save leaves a truncated ``epoch_N.pth`` that ``--resume``
    or ``tools/test.py`` then fails on, and a failed re-save destroys the good file it replaces.
    We write a temporary file in the same folder, flush it to disk and rename it over the
    destination (atomic on POSIX). Delete when mmengine writes atomically itself."""
    from mmengine.fileio.backends.local_backend import LocalBackend

    from .fileio import write_atomically

    def put(self, obj: bytes, filepath) -> None:
        write_atomically(filepath, obj)

    def put_text(self, obj: str, filepath, encoding: str = 'utf-8') -> None:
        write_atomically(filepath, obj.encode(encoding))

    LocalBackend.put, LocalBackend.put_text = put, put_text


allow_mmengine_checkpoints()
checkpoint_errors_without_unsafe_advice()
patch_mmaction_drn()
atomic_local_writes()
