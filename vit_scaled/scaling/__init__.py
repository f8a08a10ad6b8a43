"""Hardware-aware scaling: strategies (file format), scaling a model to a budget, the strategy
search, and transfers across families and devices. See docs/scaling.md."""
from .budget import Budget, BudgetError, CostFn, format_cost, make_cost, parse_budget
from .scaler import Scaled, UnreachableBudget, scale
from .space import Space, describe
from .strategy import DIMS, Rounding, Strategy, StrategyError, load_strategy, save_strategy

__all__ = ['Budget', 'BudgetError', 'CostFn', 'format_cost', 'make_cost', 'parse_budget', 'Scaled',
           'UnreachableBudget', 'scale', 'Space', 'describe', 'DIMS', 'Rounding', 'Strategy',
           'StrategyError', 'load_strategy', 'save_strategy']
