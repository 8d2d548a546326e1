"""The noise measures per task of :func:`ladderfit.analysis.variance.variance`."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .common import finish

__all__ = ["plot_variance"]

_ACC_MEASURES = {
    "acc_sd": "sd of last checkpoints",
    "rerun_acc_diff": "seed-rerun |difference|",
    "binom_se": "binomial SE",
    "sigma_acc": "fitted sigma_acc",
    "pred_acc_width90": "90% predictive width",
    "backtest_abs_error": "backtest |error|",
}
_LOSS_MEASURES = {
    "loss_cv": "CV of last checkpoints",
    "rerun_loss_rel": "seed-rerun relative |difference|",
    "sigma_loss": "fitted sigma_loss",
}


def _measure_panel(ax, df: pd.DataFrame, measures: dict, scale: dict, xlabel: str, title: str) -> None:
    """One marker series per measure present in ``df`` (times ``scale``, default 100), tasks down."""
    cols = [m for m in measures if m in df.columns and df[m].notna().any()]
    y = np.arange(len(df))
    markers = ["o", "s", "^", "D", "v", "P", "X"]
    for i, m in enumerate(cols):
        ax.plot(df[m].to_numpy(float) * scale.get(m, 100.0), y, marker=markers[i % len(markers)], ls="none",
                ms=6, alpha=0.85, label=measures[m])  # fmt: skip
    ax.set_yticks(y, df["task"])
    ax.set_ylim(len(df) - 0.5, -0.5)
    ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both", lw=0.5)
    ax.legend(fontsize=7, frameon=False, loc="best")


def plot_variance(variance_df: pd.DataFrame, ax=None) -> Figure:
    """Noise measures per task from :func:`ladderfit.analysis.variance.variance`, in the
    table's order (most predictable on top).

    Left panel: accuracy measures in accuracy points (sd over the last checkpoints, seed-rerun
    difference, binomial SE, and with a fit sigma_acc and the 90% predictive width; a
    backtest's absolute error). Right panel: relative task-loss measures in percent (CV,
    seed-rerun relative difference, fitted sigma_loss). Both on log scales. ``ax``: one Axes
    draws the accuracy panel only; two Axes draw both; ``None`` makes the two-panel figure.
    """
    if not isinstance(variance_df, pd.DataFrame) or "task" not in variance_df.columns:
        raise TypeError("plot_variance: expected the DataFrame of ladderfit.analysis.variance.variance")
    df = variance_df.reset_index(drop=True)
    acc_scale = {m: 100.0 for m in _ACC_MEASURES} | {"backtest_abs_error": 1.0}
    if ax is None:
        fig, axes = plt.subplots(1, 2, figsize=(11, 0.42 * len(df) + 1.8), sharey=True)
        made = True
    else:
        axes = [ax] if isinstance(ax, Axes) else list(np.asarray(ax, dtype=object).ravel())
        fig, made = axes[0].figure, False
    run = df["run"].iloc[0] if "run" in df.columns else "the run"
    last_n = int(df["last_n"].iloc[0]) if "last_n" in df.columns else None
    where = f"{run}, last {last_n} checkpoints" if last_n else str(run)
    _measure_panel(axes[0], df, _ACC_MEASURES, acc_scale, "accuracy points", f"Accuracy noise ({where})")
    if len(axes) > 1:
        _measure_panel(axes[1], df, _LOSS_MEASURES, {m: 100.0 for m in _LOSS_MEASURES}, "percent of task loss",
                       "Relative task-loss noise")  # fmt: skip
        axes[1].tick_params(labelleft=False)
    return finish(fig, made)
