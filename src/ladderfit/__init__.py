"""ladderfit: predict LLM task accuracy from a ladder of small models.

A joint hierarchical Bayesian version of the two-step task scaling law of Bhagia et al.
(2024): task loss from (N, D), then accuracy from task loss, fitted with NUTS (NumPyro).

    >>> import ladderfit
    >>> fit = ladderfit.fit()                       # bundled OLMo ladder
    >>> fit.predict(["7B-4T", "13B-5T"])            # tidy DataFrame with intervals
"""

from __future__ import annotations

from importlib import import_module

from .datasets import load_olmo_ladder, paper_targets
from .preprocess import Preprocessing
from .readers import read_data, read_lm_eval, read_olmo_csv, read_tidy
from .schema import LadderDataError, validate
from .targets import as_targets

# Functions named like their modules are bound here, so `ladderfit.backtest(...)` and
# `ladderfit.variance(...)` are the functions (these modules import no JAX).
from .backtest import backtest, summarize_backtest  # noqa: E402
from .compute_curve import compute_vs_error  # noqa: E402
from .variance import rank_correlation, variance  # noqa: E402

__version__ = "0.1.0"

# Modules that import JAX load on first use, so `import ladderfit` stays light.
_LAZY = {
    "fit": "fitting",
    "FitConfig": "config",
    "LadderFit": "results",
    "load": "results",
    "ConvergenceWarning": "diagnostics",
    "check_convergence": "diagnostics",
    "compare": "model_comparison",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'ladderfit' has no attribute {name!r}")


__all__ = [
    "fit", "FitConfig", "LadderFit", "load", "ConvergenceWarning", "check_convergence", "compare",
    "backtest", "summarize_backtest", "compute_vs_error", "variance", "rank_correlation",
    "load_olmo_ladder", "paper_targets", "Preprocessing", "read_data", "read_lm_eval", "read_olmo_csv", "read_tidy",
    "LadderDataError", "validate", "as_targets",
]  # fmt: skip
