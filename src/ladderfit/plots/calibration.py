"""Calibration figures of a :func:`ladderfit.calibration` table: do the intervals cover as
often as they say, near the ladder and far beyond it?

Error bars are one binomial standard error of the *nominal* level, ``sqrt(L (1 - L) / n)``:
how far from the nominal coverage sampling alone would put a calibrated model's n pairs.
Pairs of one hold-out share a fit (and tasks of one run share a run), so they are not
independent and the bars are, if anything, too short.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from ..analysis.calibration import check_calibration_table, summarize_calibration
from ..analysis.holdouts import DISTANCE_BINS, distance_bin
from .common import finish, grid

__all__ = ["plot_reliability", "plot_coverage_vs_distance", "plot_calibration", "BIN_COLORS"]

#: One colour per distance bin (no red: that marks targets elsewhere).
BIN_COLORS: dict[str, str] = {"near": "#2a9d8f", "mid": "#e9a23b", "far": "#5e3c99", "all": "0.35"}


def _binomial_se(level: float, n) -> np.ndarray:
    return np.sqrt(level * (1 - level) / np.maximum(np.asarray(n, dtype=float), 1.0))


def plot_reliability(table, ax=None) -> Figure:
    """Nominal against empirical coverage of the central intervals, one line per distance bin.

    Points above the diagonal: the intervals cover more often than they say (too wide);
    below: too narrow. The grey line pools every pair.
    """
    summary = summarize_calibration(table)
    cover = [c for c in summary.columns if c.startswith("coverage_")]
    levels = [float(c[len("coverage_"):]) / 100 for c in cover]
    made = ax is None
    fig, (ax,) = grid(1, ax, panel=(5.0, 4.0))
    ax.plot([0, 1], [0, 1], color="black", lw=0.8, ls=":", label="calibrated")
    shift = dict(zip([b[0] for b in DISTANCE_BINS] + ["all"], (-0.012, 0.0, 0.012, 0.0)))
    for r in summary.to_dict("records"):
        if not r["n"]:
            continue
        y = [r[c] for c in cover]
        x = np.asarray(levels) + shift[r["bin"]]
        all_ = r["bin"] == "all"
        ax.errorbar(x, y, yerr=_binomial_se(np.asarray(levels), r["n"]), color=BIN_COLORS[r["bin"]], marker="o",
                    ms=3 if all_ else 5, lw=1.0 if all_ else 1.6, ls="--" if all_ else "-", capsize=2,
                    label=f"{r['bin']} (n={r['n']}, mean d {r['mean_distance']:.2f})")  # fmt: skip
    lo = min(levels) - 0.1
    ax.set(xlim=(lo, 1.0), ylim=(0, 1.02), xlabel="nominal coverage of the central interval",
           ylabel="empirical coverage", title="Reliability by distance beyond the ladder")  # fmt: skip
    ax.grid(alpha=0.3, lw=0.5)
    ax.legend(fontsize=7, frameon=False, loc="upper left")
    return finish(fig, made)


def plot_coverage_vs_distance(table, level=90, ax=None, bin_width: float = 0.5) -> Figure:
    """Coverage of the ``level``% interval against distance (bins ``bin_width`` log-units wide,
    at their pairs' mean distance), with the mean interval width (points) on a twin axis."""
    check_calibration_table(table)
    lo_col, hi_col = f"lower_{level:g}", f"upper_{level:g}"
    if lo_col not in table.columns or hi_col not in table.columns:
        raise ValueError(f"plot_coverage_vs_distance: the table has no {level:g}% interval ({lo_col}, {hi_col})")
    d = table["distance"].to_numpy(float)
    covered = ((table[lo_col] <= table["actual"]) & (table["actual"] <= table[hi_col])).to_numpy()
    width = 100.0 * (table[hi_col] - table[lo_col]).to_numpy(float)
    which = np.floor(d / bin_width).astype(int)
    groups = sorted(set(which))
    x = np.array([d[which == g].mean() for g in groups])
    n = np.array([(which == g).sum() for g in groups])
    cov = np.array([covered[which == g].mean() for g in groups])
    made = ax is None
    fig, (ax,) = grid(1, ax, panel=(5.0, 4.0))
    nominal = level / 100
    ax.axhline(nominal, color="black", lw=0.8, ls=":", label=f"nominal {level:g}%")
    for edge in (b[1] for b in DISTANCE_BINS[1:]):
        ax.axvline(edge, color="0.6", lw=0.6, ls="--")
    for name, low, _ in DISTANCE_BINS:  # the bins of the summary, named at the top
        ax.text(low + 0.05, 0.98, name, transform=ax.get_xaxis_transform(), fontsize=7, va="top",
                color=BIN_COLORS[name])
    colors = [BIN_COLORS[b] for b in distance_bin(x)]
    ax.errorbar(x, cov, yerr=_binomial_se(nominal, n), fmt="none", ecolor="0.4", capsize=2, lw=1)
    ax.scatter(x, cov, c=colors, s=30 + 4 * n, zorder=3, edgecolors="white", label="coverage (size ~ pairs)")
    ax.plot(x, cov, color="0.4", lw=0.8)
    ax.set(xlim=(min(-0.1, x.min() - 0.1), max(DISTANCE_BINS[-1][1] + 0.3, x.max() + 0.2)), ylim=(0, 1.05),
           xlabel="distance beyond the training runs (log N, log D)", ylabel=f"{level:g}% interval coverage",
           title=f"Coverage of the {level:g}% interval by distance")  # fmt: skip
    twin = ax.twinx()
    twin.plot(x, [width[which == g].mean() for g in groups], color="0.3", marker="s", ms=4, ls="--", lw=1,
              label=f"mean {level:g}% width")  # fmt: skip
    twin.set_ylabel(f"mean {level:g}% width (accuracy points)")
    twin.set_ylim(bottom=0)
    handles = ax.get_legend_handles_labels()
    more = twin.get_legend_handles_labels()
    ax.legend(handles[0] + more[0], handles[1] + more[1], fontsize=7, frameon=False, loc="best")
    ax.grid(alpha=0.3, lw=0.5)
    return finish(fig, made)


def plot_calibration(table, ax=None, level=90) -> Figure:
    """Both panels side by side: :func:`plot_reliability` and :func:`plot_coverage_vs_distance`
    (``ax``: two Axes, or ``None`` for a new figure)."""
    fig, axes = grid(2, ax, ncols=2, panel=(5.4, 4.2))
    plot_reliability(table, ax=axes[0])
    plot_coverage_vs_distance(table, level=level, ax=axes[1])
    return finish(fig, ax is None)
