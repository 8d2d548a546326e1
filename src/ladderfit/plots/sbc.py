"""Simulation-based calibration drawn: rank histograms with the band of a uniform histogram.

:func:`plot_sbc_ranks` reads the table of :func:`ladderfit.analysis.sbc.sbc`: one panel per
(parameter, element), the ranks of the truths among the posterior draws binned, and the
central 99% band of each bin's count if the ranks were uniform (binomial). A calibrated
fit keeps the bars inside the band, bar for bar (about 1 in 100 outside by chance); a U
shape means posteriors too narrow, a hump too wide, a slope a biased posterior.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from scipy import stats

from ..analysis.sbc import default_bins, rank_bins
from .common import grid, finish

__all__ = ["plot_sbc_ranks"]

SBC_COLOR = "tab:blue"


def plot_sbc_ranks(table, n_bins: int | None = None, params=None, ax=None, level: float = 0.99) -> Figure:
    """Rank histograms of an SBC table, one panel per (parameter, element).

    ``n_bins``: default as :func:`ladderfit.analysis.sbc.rank_uniformity` (about 5
    simulations per bin). ``params``: the parameters to draw (default all in the table).
    ``level``: the binomial band's central probability.
    """
    if params is not None:
        params = [params] if isinstance(params, str) else list(params)
        unknown = sorted(set(params) - set(table["parameter"]))
        if unknown:
            raise ValueError(f"parameter(s) {unknown} not in the SBC table")
        table = table[table["parameter"].isin(params)]
    groups = list(table.groupby(["parameter", "index"], sort=False))
    if not groups:
        raise ValueError("plot_sbc_ranks: the table is empty")
    n_draws = int(table["n_draws"].iloc[0])
    fig, axes = grid(len(groups), ax, ncols=min(len(groups), 4), panel=(3.2, 2.4))
    for ((name, _), g), a in zip(groups, axes):
        n = len(g)
        bins = n_bins or default_bins(n, n_draws)
        prob = rank_bins(n_draws, bins)
        counts = np.bincount(g["rank"].to_numpy() * bins // (n_draws + 1), minlength=bins)
        edges = np.arange(bins + 1) / bins
        lo, hi = stats.binom.ppf((1 - level) / 2, n, prob), stats.binom.ppf((1 + level) / 2, n, prob)
        a.fill_between(edges, np.r_[lo, lo[-1]], np.r_[hi, hi[-1]], step="post", color="0.8", linewidth=0,
                       label=f"{level:.0%} if uniform")  # fmt: skip
        a.plot(edges, np.r_[prob, prob[-1]] * n, drawstyle="steps-post", color="0.4", lw=0.8)
        a.bar(edges[:-1], counts, width=1 / bins, align="edge", color=SBC_COLOR, alpha=0.75, edgecolor="white")
        label = g["label"].iloc[0] if "label" in g else ""
        a.set_title(f"{name}" + (f" ({label})" if label else ""), fontsize=9)
        a.set_xlim(0, 1)
        a.set_xlabel(f"rank / {n_draws}", fontsize=8)
        a.set_ylabel("simulations", fontsize=8)
    axes[0].legend(fontsize=7, frameon=False)
    return finish(fig, ax is None)
