"""Sampler diagnostics of a fit, drawn by ArviZ: trace, rank and forest of per-task parameters."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from .common import as_fit, select_tasks

__all__ = ["plot_trace", "plot_rank", "plot_parameter_forest"]


def _coords(fit, tasks) -> dict | None:
    return None if tasks is None else {"task": select_tasks(fit, tasks)}


def _figure_of(axes) -> Figure:
    return np.asarray(axes, dtype=object).ravel()[0].figure


def plot_trace(fit, var_names=("alpha", "beta", "k"), tasks=None, ax=None) -> Figure:
    """ArviZ trace plot (densities and traces per chain) of per-task parameters; ``ax``: a
    (variables, 2) array of Axes, as ArviZ's ``axes``."""
    import arviz as az

    fit = as_fit(fit)
    out = az.plot_trace(fit.idata, var_names=list(var_names), coords=_coords(fit, tasks), axes=ax, compact=True,
                        legend=False)  # fmt: skip
    fig = _figure_of(out)
    if ax is None:
        fig.tight_layout()
    return fig


def plot_rank(fit, var_names=("alpha", "beta", "k"), tasks=None, ax=None) -> Figure:
    """ArviZ rank plot: per-chain rank histograms, flat when the chains mix well."""
    import arviz as az

    fit = as_fit(fit)
    out = az.plot_rank(fit.idata, var_names=list(var_names), coords=_coords(fit, tasks), ax=ax)
    fig = _figure_of(out)
    if ax is None:
        fig.tight_layout()
    return fig


def plot_parameter_forest(fit, var_names=("alpha", "beta", "k"), tasks=None, ax=None, hdi_prob: float = 0.9) -> Figure:
    """ArviZ forest plot of per-task parameters (posterior median and ``hdi_prob`` HDI, chains combined)."""
    import arviz as az

    fit = as_fit(fit)
    out = az.plot_forest(fit.idata, var_names=list(var_names), coords=_coords(fit, tasks), combined=True,
                         hdi_prob=hdi_prob, ax=ax)  # fmt: skip
    return _figure_of(out)
