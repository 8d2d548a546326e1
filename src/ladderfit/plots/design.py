"""The stopping view of a ladder design (:func:`ladderfit.analysis.design.design`)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .common import TARGET_COLOR, finish

__all__ = ["plot_design"]


def plot_design(design, ax=None) -> Figure:
    """Expected 90% width at the target (accuracy points, mean over tasks) against the ladder's
    cumulative compute as a share of the target's, along the greedy sequence of recommended rungs.

    ``design``: a :class:`~ladderfit.analysis.design.DesignResult` (its ``greedy`` table) or
    that table itself. Each step is labelled with the rung it adds; hollow markers flag steps
    whose importance weights degenerated (median ESS < 20: too optimistic). ``ax``: the Axes
    to draw on (``None`` makes a figure).
    """
    from ..analysis.design import LOW_ESS

    greedy = getattr(design, "greedy", design)
    target = getattr(design, "target", {}).get("target", "the target")
    if not isinstance(greedy, pd.DataFrame) or "share_of_target" not in greedy.columns:
        raise TypeError("plot_design: expected a DesignResult with a greedy table (design(..., greedy_steps=5)) "
                        "or that table")
    width_col = next(c for c in greedy.columns if c.startswith("width_") and c.endswith("_expected"))
    level = width_col.split("_")[1]
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        made = True
    else:
        fig, made = ax.figure, False
    x = 100 * greedy["share_of_target"].to_numpy(float)
    y = 100 * greedy[width_col].to_numpy(float)
    ax.plot(x, y, color=TARGET_COLOR, lw=1.4, zorder=1)
    low = greedy["ess"].to_numpy(float) < LOW_ESS
    ax.scatter(x[~low], y[~low], color=TARGET_COLOR, zorder=2, label="expected (reliable weights)")
    if low.any():
        ax.scatter(x[low], y[low], facecolor="white", edgecolor=TARGET_COLOR, zorder=2,
                   label=f"expected (ESS < {LOW_ESS:g}: optimistic)")
    for xi, yi, name, step in zip(x, y, greedy["candidate"], greedy["step"]):
        text = "now" if step == 0 else f"+{name}"
        ax.annotate(text, (xi, yi), textcoords="offset points", xytext=(5, 4), fontsize=7)
    ax.set_xscale("log")
    from matplotlib.ticker import FuncFormatter

    for axis_format in (ax.xaxis.set_major_formatter, ax.xaxis.set_minor_formatter):
        axis_format(FuncFormatter(lambda v, _: f"{v:g}"))  # 4, 6, 10 rather than 4x10^0
    ax.set_xlabel(f"ladder compute, % of {target}'s")
    ax.set_ylabel(f"expected {level}% width at {target} (points)")
    ax.set_ylim(bottom=0)
    ax.set_title("Which rung next: expected width vs ladder compute", fontsize=10)
    ax.grid(alpha=0.3, which="both", lw=0.5)
    ax.legend(fontsize=7, frameon=False)
    if np.isfinite(y).any():
        ax.set_ylim(0, 1.12 * np.nanmax(y))
    return finish(fig, made)
