"""Figures of the fitted ladder, one panel per task: step 1, step 2 and the chained prediction.

==========================  ======================================================================
:func:`plot_step1`          task loss vs tokens D per model size (or vs N per length): ladder
                            points, posterior median curves with 90% bands, the target's
                            predicted loss
:func:`plot_step2`          accuracy vs task loss: checkpoints coloured by size, the sigmoid's
                            median with 50%/90% bands, the chance level
:func:`plot_chained`        accuracy vs training compute 6ND: ladder runs and the predictive
                            intervals at the targets, with actual scores when given
==========================  ======================================================================

With ``ax=None`` each makes a grid; pass a single Axes for a single task, or a sequence of
Axes (one per task) to place them yourself. Curves and bands are of the mean law
(:mod:`.posterior`); target markers show the full predictive interval of
:meth:`~ladderfit.model.results.LadderFit.predict`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .common import (
    ACTUAL_COLOR,
    TARGET_COLOR,
    as_fit,
    band,
    feature_label,
    finish,
    format_count,
    grid,
    length_colors,
    select_tasks,
    size_colors,
)
from .posterior import accuracy_draws, loss_draws
from .tables import actual_table, step1_points, step2_points, target_predictions

__all__ = ["plot_step1", "plot_step2", "plot_chained"]


def _target_list(target) -> list:
    """One target (name, spec, tuple or dict) as a list; a list of targets as it is."""
    return [target] if isinstance(target, (str, tuple, dict)) else target


# ----------------------------------------------------------------------------- step 1


@dataclass
class _Step1View:
    """What every step-1 panel shares: the curves run along ``x``, one per group of ``fixed``."""

    x: str  # "D" or "N"
    fixed: str  # the other one
    xs: np.ndarray  # the curves' grid along x
    points: pd.DataFrame  # step-1 points with their group
    groups: list  # rounded values of `fixed`, one curve each
    value: pd.Series  # group -> its mean N (or D)
    colors: dict
    raw: pd.DataFrame | None  # intermediate checkpoints (x="D" with data)
    target: pd.DataFrame | None  # the target's row
    pred: pd.DataFrame | None  # its predicted task loss, by task

    def law(self, fit, t: int, at: float) -> np.ndarray:
        """Draws of the mean loss along ``xs`` with ``fixed`` at ``at``: (samples, len(xs))."""
        return loss_draws(fit, t, at, self.xs) if self.x == "D" else loss_draws(fit, t, self.xs, at)


def _raw_checkpoints(fit, data, tasks) -> pd.DataFrame | None:
    """The ladder table's checkpoints of the fit's runs and ``tasks`` (None without the feature)."""
    from ..data.readers import read_data

    md = fit.model_data
    raw = read_data(data) if not isinstance(data, pd.DataFrame) else data
    raw = raw[raw["run"].isin(md.runs) & raw["task"].isin(tasks)]
    return raw if md.feature in raw.columns else None


def _step1_view(fit, data, tasks, target, x: str) -> _Step1View:
    pts = step1_points(fit)
    fixed = "N" if x == "D" else "D"
    pts["group"] = np.round(pts[fixed], -int(np.floor(np.log10(pts[fixed].min()))) + 3)
    groups = sorted(pts["group"].unique())
    value = pts.groupby("group")[fixed].mean()  # the group's actual N (or D)
    colors = size_colors(groups) if x == "D" else length_colors(groups)
    raw = _raw_checkpoints(fit, data, tasks) if data is not None and x == "D" else None
    pred = tg = None
    if target is not None:
        pred, tg = target_predictions(fit, _target_list(target))
        tg = tg.iloc[:1]
        pred = pred[(pred["target"] == tg["target"].iloc[0]) & (pred["quantity"] == "task_loss")].set_index("task")
    hi = max(pts[x].max(), tg[x].iloc[0] if tg is not None else 0.0) * 1.4
    xs = np.geomspace(pts[x].min() / 1.4, hi, 120)
    return _Step1View(x, fixed, xs, pts, groups, value, colors, raw, tg, pred)


def _step1_panel(a, fit, task: str, v: _Step1View) -> None:
    """One task's step-1 panel: raw checkpoints, a band and points per group, the target."""
    md = fit.model_data
    t = fit.tasks.index(task)
    p = v.points[v.points["task"] == task]
    lows, highs = [p["loss"].min()], [p["loss"].max()]
    if v.raw is not None:
        # intermediate checkpoints within the plotted range of D, coloured by their run's size
        run_group = dict(zip(v.points["run"], v.points["group"]))
        r = v.raw[(v.raw["task"] == task) & (v.raw["D"] >= v.xs[0])]
        for run, rr in r.groupby("run"):
            color = v.colors.get(run_group.get(run, np.nan), "grey")
            a.scatter(rr["D"], rr[md.feature], s=4, color=color, alpha=0.25, linewidths=0)
    for g in v.groups:
        band(a, v.xs, v.law(fit, t, v.value[g]), v.colors[g], levels=(90,))
        pg = p[p["group"] == g]
        a.scatter(pg[v.x], pg["loss"], s=26, color=v.colors[g], edgecolor="white", linewidths=0.6, zorder=3,
                  label=f"{v.fixed} = {format_count(g)}")  # fmt: skip
    if v.pred is not None:
        at, other = float(v.target[v.x].iloc[0]), float(v.target[v.fixed].iloc[0])
        a.plot(v.xs, np.median(v.law(fit, t, other), axis=0), color=TARGET_COLOR, lw=1.2, ls="--")
        q = v.pred.loc[task]
        lows.append(q["lower_90"])
        a.errorbar([at], [q["median"]], yerr=[[q["median"] - q["lower_90"]], [q["upper_90"] - q["median"]]],
                   fmt="D", color=TARGET_COLOR, ms=6, capsize=3, zorder=4,
                   label=f"{v.target['target'].iloc[0]} (90% predictive)")  # fmt: skip
    # frame the ladder points and the prediction; early checkpoints may run off the top
    span = max(highs) - min(lows)
    a.set_ylim(min(lows) - 0.15 * span, max(highs) + 0.35 * span)
    a.set_xscale("log")
    a.set_xlabel("training tokens D" if v.x == "D" else "parameters N")
    a.set_ylabel(feature_label(md.feature))
    a.set_title(task)
    a.grid(alpha=0.25, lw=0.5)


def plot_step1(fit, data=None, tasks=None, target="7B-4T", ax=None, x: str = "D") -> Figure:
    """Step 1: task loss vs tokens D, one curve per model size, and the target's prediction.

    Parameters
    ----------
    fit : a :class:`~ladderfit.model.results.LadderFit` (or the path of a saved one).
    data : optional ladder table (DataFrame or path): its intermediate checkpoints of the
        fit's runs are drawn as faint dots behind the step-1 points (``x="D"`` only).
    tasks : tasks to draw (default: all of the fit's), one panel each.
    target : a target (name, ``"NAME=N,D"``, ...) whose predicted loss is marked with its 90%
        predictive interval and whose curve is drawn dashed; ``None`` for none.
    ax : an Axes (one task) or a sequence of Axes; ``None`` makes a grid.
    x : ``"D"`` (default): loss vs tokens, one curve per model size. ``"N"``: loss vs
        parameters, one curve per training length (final D); the view for a ladder whose runs
        all train on the same number of tokens (Pythia).

    Each curve is the posterior median of ``E + A / N^alpha + B / D^beta`` with its 90% band;
    the big dots are the step-1 points the model saw (mean of the last checkpoints of each run).
    """
    if x not in ("D", "N"):
        raise ValueError(f"x must be 'D' or 'N', got {x!r}")
    fit = as_fit(fit, ("two_step",), "plot_step1")
    tasks = select_tasks(fit, tasks)
    fig, axes = grid(len(tasks), ax)
    view = _step1_view(fit, data, tasks, target, x)
    for task, a in zip(tasks, axes):
        _step1_panel(a, fit, task, view)
    axes[0].legend(fontsize=7, frameon=False)
    return finish(fig, ax is None)


# ----------------------------------------------------------------------------- step 2


def plot_step2(fit, tasks=None, ax=None, target=None) -> Figure:
    """Step 2: accuracy vs task loss with the fitted sigmoid.

    Checkpoints (smoothed, as the model saw them) are coloured by model size; the line is the
    posterior median of ``f + (1 - f) sigmoid(u_c - k (L - Lbar))`` (``f`` the fitted floor)
    with 50% and 90% bands, and the dashed line the task's chance level. With ``target`` (a
    target name or spec), its predicted loss and accuracy are marked with 90% predictive
    intervals.
    """
    fit = as_fit(fit, ("two_step", "compute"), "plot_step2")
    tasks = select_tasks(fit, tasks)
    fig, axes = grid(len(tasks), ax)
    md = fit.model_data
    pts = step2_points(fit)
    colors = size_colors(pts["N"])
    pred = None
    if target is not None:
        pred, tg = target_predictions(fit, _target_list(target))
        pred = pred[pred["target"] == tg["target"].iloc[0]]
    for task, a in zip(tasks, axes):
        t = fit.tasks.index(task)
        p = pts[pts["task"] == task]
        lo, hi = p["loss"].min(), p["loss"].max()
        if pred is not None:
            lo = min(lo, pred[(pred["task"] == task) & (pred["quantity"] == "task_loss")]["lower_90"].iloc[0])
        pad = 0.05 * (hi - lo)
        xs = np.linspace(lo - pad, hi + pad, 150)
        for n in sorted(colors):
            pn = p[p["N"] == n]
            a.scatter(pn["loss"], pn["accuracy"], s=9, color=colors[n], alpha=0.7, linewidths=0,
                      label=f"N = {format_count(n)}")  # fmt: skip
        band(a, xs, accuracy_draws(fit, t, xs), "black", levels=(50, 90), alpha=0.12, label="fit (median)")
        a.axhline(md.chance[t], color="grey", ls="--", lw=1, label=f"chance ({md.chance[t]:.2f})")
        if pred is not None:
            ql = pred[(pred["task"] == task) & (pred["quantity"] == "task_loss")].iloc[0]
            qa = pred[(pred["task"] == task) & (pred["quantity"] == "accuracy")].iloc[0]
            a.errorbar([ql["median"]], [qa["median"]],
                       xerr=[[ql["median"] - ql["lower_90"]], [ql["upper_90"] - ql["median"]]],
                       yerr=[[qa["median"] - qa["lower_90"]], [qa["upper_90"] - qa["median"]]],
                       fmt="D", color=TARGET_COLOR, ms=5, capsize=3, zorder=4,
                       label=f"{qa['target']} (90% predictive)")  # fmt: skip
        a.set_xlabel(feature_label(md.feature))
        a.set_ylabel("accuracy")
        a.set_title(task)
        a.grid(alpha=0.25, lw=0.5)
    axes[0].legend(fontsize=7, frameon=False)
    return finish(fig, ax is None)


# ----------------------------------------------------------------------------- chained


def plot_chained(fit, tasks=None, targets=None, actual=None, ax=None) -> Figure:
    """Chained prediction: accuracy vs training compute 6ND, ladder runs and targets.

    Dots are the ladder runs' final (smoothed) accuracies, coloured by size; each target gets
    its posterior predictive median with the 50% (thick) and 90% (thin) intervals. ``actual``
    (a DataFrame ``target, task, accuracy``, a dict ``{task: acc}`` for the first target, or
    ``{target: {task: acc}}``) overlays what the target models really scored.
    Compute is ``6 N D`` for ladder runs and targets alike.
    """
    fit = as_fit(fit, ("two_step",), "plot_chained")
    tasks = select_tasks(fit, tasks)
    fig, axes = grid(len(tasks), ax)
    pts = step2_points(fit)
    final = pts.sort_values("step").groupby(["task", "run"], sort=False).tail(1)
    final = final.assign(C=6.0 * final["N"] * final["D_final"])
    colors = size_colors(final["N"])
    pred, tg = target_predictions(fit, targets)
    pred = pred[pred["quantity"] == "accuracy"].merge(tg[["target"]], on="target")
    pred["C"] = 6.0 * pred["N"] * pred["D"]
    act = actual_table(actual, tg).merge(tg.assign(C=6.0 * tg["N"] * tg["D"])[["target", "C"]], on="target", how="left")
    if act["C"].isna().any():
        unknown = sorted(act.loc[act["C"].isna(), "target"].unique())
        raise ValueError(f"actual: target(s) {unknown} are not among the targets {list(tg['target'])}")
    markers = ["D", "s", "^", "v", "P", "X"]
    for task, a in zip(tasks, axes):
        f = final[final["task"] == task]
        for n in sorted(colors):
            fn = f[f["N"] == n]
            a.scatter(fn["C"], fn["accuracy"], s=22, color=colors[n], edgecolor="white", linewidths=0.5, zorder=3,
                      label=f"N = {format_count(n)}")  # fmt: skip
        p = pred[pred["task"] == task]
        for i, q in enumerate(p.itertuples(index=False)):
            a.plot([q.C, q.C], [q.lower_90, q.upper_90], color=TARGET_COLOR, lw=1.2)
            a.plot([q.C, q.C], [q.lower_50, q.upper_50], color=TARGET_COLOR, lw=4, solid_capstyle="butt")
            a.plot([q.C], [q.median], marker=markers[i % len(markers)], color="white", mec=TARGET_COLOR, ms=6,
                   mew=1.5, ls="none", zorder=4, label=f"{q.target} (50/90%)")  # fmt: skip
        ac = act[act["task"] == task]
        if len(ac):
            a.scatter(ac["C"], ac["accuracy"], marker="*", s=110, color=ACTUAL_COLOR, zorder=5, label="actual")
        a.axhline(fit.model_data.chance[fit.tasks.index(task)], color="grey", ls="--", lw=1)
        a.set_xscale("log")
        a.set_xlabel("training compute 6ND (FLOPs)")
        a.set_ylabel("accuracy")
        a.set_title(task)
        a.grid(alpha=0.25, lw=0.5)
    axes[0].legend(fontsize=7, frameon=False)
    return finish(fig, ax is None)
