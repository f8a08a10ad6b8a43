"""Which modules are running: module hooks keep a stack of the kinds (norm, attention, MLP,
linear) around the current operator, so that ``classify`` can map it to an operator class.

With ``record=True`` each module call is also a ``torch.profiler.record_function`` range named
``SCOPE_PREFIX + qualified name``; the profiler's event tree then says which module an operator
ran in, with no reliance on module names.
"""
from typing import Dict, List, Tuple

from torch import nn
from torch.profiler import record_function

from .classes import module_kind

SCOPE_PREFIX = 'vit_scaled.scope::'


class ModuleScopes:
    """Context manager: hooks on every submodule of ``model`` while active.

    ``kinds`` is the stack of the current module call (outermost first); ``labels`` maps each
    recorded range name to the kinds stack it stood for.
    """

    def __init__(self, model: nn.Module, record: bool = False):
        self.model = model
        self.record = record
        self.kinds: Tuple[str, ...] = ()
        self.labels: Dict[str, Tuple[str, ...]] = {}
        self._stack: List[tuple] = []
        self._handles: list = []

    def __enter__(self) -> 'ModuleScopes':
        for name, module in self.model.named_modules():
            kind = module_kind(module)
            label = SCOPE_PREFIX + (name or type(module).__name__)
            self._handles.append(module.register_forward_pre_hook(self._enter(kind, label)))
            self._handles.append(module.register_forward_hook(self._exit, always_call=True))
        return self

    def __exit__(self, *exc):
        for h in self._handles:
            h.remove()
        self._handles.clear()
        while self._stack:  # an exception left ranges open
            self._exit()

    def _enter(self, kind, label):
        def hook(module, args):
            kinds = self.kinds + (kind,) if kind else self.kinds
            rf = None
            if self.record:
                self.labels[label] = kinds
                rf = record_function(label)
                rf.__enter__()
            self._stack.append((self.kinds, rf))
            self.kinds = kinds
        return hook

    def _exit(self, *args):
        if not self._stack:
            return
        self.kinds, rf = self._stack.pop()
        if rf is not None:
            rf.__exit__(None, None, None)
