"""The forest of predictions: every task's predicted accuracy (or loss) at the targets."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .common import finish

__all__ = ["plot_forest"]


def plot_forest(predictions, ax=None, targets=None, quantity: str = "accuracy") -> Figure:
    """Forest of target predictions: one row per task, one marker per target.

    ``predictions`` is a table from :meth:`LadderFit.predict` (needs ``lower_50/upper_50`` and
    ``lower_90/upper_90``) or a fit, which is then asked for ``targets`` (default: the paper's
    7B-4T and 13B-5T). Thick lines: 50% intervals; thin: 90%; dots: medians.
    """
    if hasattr(predictions, "predict"):
        predictions = predictions.predict(targets, levels=(50, 90))
    if not isinstance(predictions, pd.DataFrame):
        raise TypeError("plot_forest: expected a predictions DataFrame or a LadderFit")
    need = {"target", "task", "quantity", "median", "lower_50", "upper_50", "lower_90", "upper_90"}
    missing = need - set(predictions.columns)
    if missing:
        raise ValueError(f"plot_forest: predictions lack column(s) {sorted(missing)} (predict with levels=(50, 90))")
    df = predictions[predictions["quantity"] == quantity]
    if df.empty:
        raise ValueError(f"plot_forest: no rows with quantity {quantity!r}")
    task_order = list(dict.fromkeys(df["task"]))
    tnames = list(dict.fromkeys(df["target"]))
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.4, 0.45 * len(task_order) * max(1, len(tnames) * 0.7) + 1.2))
        made = True
    else:
        fig, made = ax.figure, False
    colors = plt.get_cmap("tab10")
    off = np.linspace(-0.18, 0.18, len(tnames)) if len(tnames) > 1 else [0.0]
    for j, name in enumerate(tnames):
        d = df[df["target"] == name].set_index("task").reindex(task_order)
        y = np.arange(len(task_order)) + off[j]
        c = colors(j % 10)
        ax.hlines(y, d["lower_90"], d["upper_90"], color=c, lw=1.2)
        ax.hlines(y, d["lower_50"], d["upper_50"], color=c, lw=4)
        ax.plot(d["median"], y, "o", color=c, mec="white", ms=6, label=name)
    ax.set_yticks(np.arange(len(task_order)), task_order)
    ax.invert_yaxis()
    ax.set_xlabel("predicted accuracy" if quantity == "accuracy" else f"predicted {quantity.replace('_', ' ')}")
    ax.set_title("Predictions at targets (median, 50% and 90% intervals)")
    ax.grid(axis="x", alpha=0.3, lw=0.5)
    ax.legend(fontsize=8, frameon=False, loc="best")
    return finish(fig, made)
