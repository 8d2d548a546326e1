"""ladderfit: predict LLM task accuracy from a ladder of small models.

A joint hierarchical Bayesian version of the two-step task scaling law of Bhagia et al.
(2024): task loss from (N, D), then accuracy from task loss, fitted with NUTS (NumPyro).

The package's layers import downwards only::

    errors <- data <- model <- analysis <- plots <- cli

:mod:`ladderfit.data` (tidy table, readers, preprocessing), :mod:`ladderfit.model`
(specification, curves, priors, the NumPyro model, both estimators, fits),
:mod:`ladderfit.analysis` (backtests, calibration at every distance, compute vs error, task
variance, LOO comparison),
:mod:`ladderfit.plots` (figures) and :mod:`ladderfit.cli` (the command line).

    >>> import ladderfit
    >>> fit = ladderfit.fit()                       # bundled OLMo ladder
    >>> fit.predict(["7B-4T", "13B-5T"])            # tidy DataFrame with intervals
"""

from __future__ import annotations

from importlib import import_module

from .data.bundled import load_olmo_ladder, load_pythia_ladder, paper_targets
from .data.preprocess import Preprocessing
from .data.readers import read_data, read_lm_eval, read_olmo_csv, read_tidy
from .data.results_table import read_results_table
from .data.schema import validate
from .data.targets import as_targets
from .errors import LadderDataError, LadderDataWarning
from .model.spec import ModelSpec

__version__ = "0.3.0.dev0"

# Modules that import JAX (or SciPy) load on first use, so `import ladderfit` stays light.
_LAZY = {
    "backtest": "analysis.backtest",
    "summarize_backtest": "analysis.backtest",
    "calibration": "analysis.calibration",
    "summarize_calibration": "analysis.calibration",
    "compute_vs_error": "analysis.compute_vs_error",
    "variance": "analysis.variance",
    "rank_correlation": "analysis.variance",
    "fit": "model.bayes",
    "FitConfig": "model.config",
    "LadderFit": "model.results",
    "load": "model.results",
    "ConvergenceWarning": "model.diagnostics",
    "check_convergence": "model.diagnostics",
    "compare": "analysis.comparison",
    "data_sha256": "model.provenance",
    "loo_by_run": "analysis.comparison",
    "prior_sensitivity": "analysis.sensitivity",
    "prior_predictive": "analysis.checks",
    "design": "analysis.design",
    "greedy_design": "analysis.design",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'ladderfit' has no attribute {name!r}")


__all__ = [
    "fit", "FitConfig", "LadderFit", "load", "ConvergenceWarning", "check_convergence", "compare", "data_sha256",
    "prior_predictive", "loo_by_run", "prior_sensitivity", "design", "greedy_design",
    "backtest", "summarize_backtest", "calibration", "summarize_calibration", "compute_vs_error", "variance",
    "rank_correlation", "load_olmo_ladder", "load_pythia_ladder", "paper_targets",
    "Preprocessing", "read_data", "read_lm_eval", "read_olmo_csv", "read_tidy",
    "read_results_table",
    "LadderDataError", "LadderDataWarning", "validate", "as_targets", "ModelSpec",
]  # fmt: skip
