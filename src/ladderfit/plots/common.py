"""What every figure shares: reading the fit, the panel grid, colours, bands, labels.

Figures take an optional ``ax`` (one Axes, or a sequence of Axes for one panel per task) and
return the :class:`~matplotlib.figure.Figure`; :func:`grid` makes the panels when ``ax`` is
``None`` and :func:`finish` lays them out. Nothing here calls ``plt.show()``.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

__all__ = [
    "PANEL",
    "TARGET_COLOR",
    "ACTUAL_COLOR",
    "as_fit",
    "select_tasks",
    "grid",
    "finish",
    "band",
    "size_colors",
    "length_colors",
    "format_count",
    "feature_label",
]

PANEL = (4.2, 3.3)  # inches per task panel
TARGET_COLOR = "crimson"
ACTUAL_COLOR = "black"


def as_fit(fit, structures: tuple[str, ...] | None = None, figure: str = "this figure"):
    """A LadderFit, or a path to one saved with :meth:`LadderFit.save`; ``structures``: the
    model structures the figure can draw."""
    if isinstance(fit, (str, Path)):
        from ..model.results import load

        fit = load(fit)
    if not hasattr(fit, "idata") or not hasattr(fit, "model_data"):
        raise TypeError(f"expected a LadderFit (from ladderfit.fit or ladderfit.load), got {type(fit).__name__}")
    structure = fit.model_data.structure
    if structures is not None and structure not in structures:
        raise ValueError(f"{figure} draws the {' or '.join(structures)} model; this fit is the {structure!r} structure")
    return fit


def select_tasks(fit, tasks) -> list[str]:
    """The tasks to draw: all of the fit's (``None``), one name, or a list of them."""
    if tasks is None:
        return list(fit.tasks)
    tasks = [tasks] if isinstance(tasks, str) else list(tasks)
    unknown = [t for t in tasks if t not in fit.tasks]
    if unknown:
        raise ValueError(f"task(s) {unknown} not in the fit; it has {', '.join(fit.tasks)}")
    if not tasks:
        raise ValueError("tasks: none given")
    return tasks


def grid(n: int, ax, ncols: int | None = None, panel=PANEL) -> tuple[Figure, list[Axes]]:
    """A figure with ``n`` panels, or the caller's Axes (one, or a sequence of at least n)."""
    if ax is None:
        ncols = ncols or min(n, 3)
        nrows = int(np.ceil(n / ncols))
        fig, axes = plt.subplots(nrows, ncols, figsize=(panel[0] * ncols, panel[1] * nrows), squeeze=False)
        axes = list(axes.ravel())
        for extra in axes[n:]:
            fig.delaxes(extra)
        return fig, axes[:n]
    if isinstance(ax, Axes):
        if n != 1:
            raise ValueError(f"one Axes was given for {n} panels; pass a sequence of {n} Axes, or ax=None for a grid")
        return ax.figure, [ax]
    axes = list(np.asarray(ax, dtype=object).ravel())
    if len(axes) < n:
        raise ValueError(f"{len(axes)} Axes were given for {n} panels")
    return axes[0].figure, axes[:n]


def finish(fig: Figure, made: bool) -> Figure:
    """The figure, laid out when the figure function made it (not when the caller gave Axes)."""
    if made:
        fig.tight_layout()
    return fig


def band(ax, x, draws, color, levels=(90,), alpha=0.18, label=None):
    """Median line and central bands (``levels`` in percent) of draws (samples, x)."""
    for i, lev in enumerate(sorted(levels, reverse=True)):
        lo, hi = np.percentile(draws, [50 - lev / 2, 50 + lev / 2], axis=0)
        ax.fill_between(x, lo, hi, color=color, alpha=alpha * (1 + i), linewidth=0)
    (line,) = ax.plot(x, np.median(draws, axis=0), color=color, lw=1.6, label=label)
    return line


def _ramp(values, cmap: str, single: float) -> dict[float, tuple]:
    """One colour per distinct value, along ``cmap`` from 0.05 to 0.85 (``single`` for one value)."""
    keys = sorted(set(float(v) for v in values))
    colours = plt.get_cmap(cmap)
    pos = np.linspace(0.05, 0.85, len(keys)) if len(keys) > 1 else [single]
    return {v: colours(p) for v, p in zip(keys, pos)}


def size_colors(Ns) -> dict[float, tuple]:
    """Model size N -> colour (viridis)."""
    return _ramp(Ns, "viridis", 0.4)


def length_colors(Ds) -> dict[float, tuple]:
    """Training length D -> colour (cividis: lengths are not sizes; no red: that is the target)."""
    return _ramp(Ds, "cividis", 0.2)


def format_count(n: float) -> str:
    """190354176 -> '190M', 1279395840 -> '1.3B'."""
    for unit, div in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= div:
            v = n / div
            return f"{v:.0f}{unit}" if v >= 10 or abs(v - round(v)) < 0.05 else f"{v:.1f}{unit}"
    return f"{n:g}"


def feature_label(feature: str) -> str:
    """Axis label of the loss feature the fit uses."""
    return {
        "task_loss": "task loss (bits per byte)",
        "c4_loss": "C4 loss (nats per token)",
        "task_ce": "task cross-entropy",
        "lambada_loss": "LAMBADA loss (log perplexity)",
    }.get(feature, feature)
