"""Scale a config: read its model, scale it with a strategy under a budget, write the new config.
What ``tools/scale.py`` runs."""
import os.path as osp
from typing import Callable, List, Optional, Tuple, Union

from ..cli import command_line
from ..cost.analytic import analytic_cost
from . import configs
from .budget import Budget, format_cost, make_cost, resolve_budget
from .scaler import Scaled, note_line, scale
from .space import describe
from .strategy import Strategy, load_strategy


def default_out(base_config: str, budget: Budget) -> str:
    name = osp.splitext(osp.basename(base_config))[0]
    tag = format_cost(budget.kind, budget.value).replace('.', 'p')
    return osp.join('work_dirs', 'scaled', f'{name}_{budget.kind}-{tag}.py')


def weights_notes(cfg, arch) -> List[str]:
    stale = configs.stale_weights(cfg, arch)
    if stale is None:
        return []
    return [f'the base backbone\'s pretrained weights ({stale}) have another shape: this config '
            'starts from random weights (init_cfg=None); give it weights of its own shape with '
            "model.backbone.init_cfg=dict(type='Pretrained', checkpoint=...)"]


def scale_config(base_config: str, strategy: Union[str, Strategy], budget: Union[str, Budget],
                 out: Optional[str] = None, device: Optional[str] = None,
                 predictor: Optional[str] = None, batch_size: int = 1,
                 threads: Optional[int] = None, clock: str = 'wall', backend: str = 'torch',
                 precision: str = 'fp32', progress: Callable[[str], None] = lambda msg: None,
                 command: Optional[str] = None) -> Tuple[Scaled, str, str]:
    """Write the scaled config (to ``out``, default ``work_dirs/scaled/<name>_<budget>.py``);
    returns the result, the path and the summary written at the top of the config."""
    strategy_file = strategy if isinstance(strategy, str) else None
    strategy = load_strategy(strategy) if isinstance(strategy, str) else strategy
    cfg, base, num_classes = configs.load_base(base_config)
    cost_kwargs = dict(device=device, predictor=predictor, num_classes=num_classes,
                       batch_size=batch_size, threads=threads, clock=clock, backend=backend,
                       precision=precision)
    if isinstance(budget, str):
        budget, cost = resolve_budget(budget, base, **cost_kwargs)
    else:
        cost = make_cost(budget.kind, **cost_kwargs)
    result = scale(base, strategy, budget, cost=cost, progress=progress)
    out = out or default_out(base_config, budget)
    if not out.endswith('.py'):
        out += '.py'
    c = analytic_cost(result.arch, 1, num_classes)
    command = command or command_line()
    header = '\n'.join([
        f'Scaled by: {command}',
        f'Base: {describe(base)} ({base_config}); strategy: {strategy.name or "unnamed"}'
        + (f' ({strategy_file})' if strategy_file else ''),
        f'Scaled: {describe(result.arch)}, {format_cost(budget.kind, result.cost)} for the budget '
        f'{budget} ({100 * result.below:.2f}% below; {result.cost_label})',
        f'FLOPs {format_cost("flops", c.flops)} (multiply-adds), params '
        f'{format_cost("params", c.params)} ({num_classes} classes)',
    ] + [note_line(n) for n in [*result.notes, *weights_notes(cfg, result.arch)]])
    configs.write_config(base_config, result.arch, out, header, cfg=cfg)
    return result, out, header
