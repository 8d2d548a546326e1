"""Figures of a fitted ladder (matplotlib) and sampler diagnostics (ArviZ).

Every function takes an optional ``ax`` and returns the :class:`~matplotlib.figure.Figure`;
none calls ``plt.show()``. Functions that draw one panel per task (step 1, step 2,
chained) make a grid when ``ax`` is ``None``; pass a single Axes for a single task, or a
sequence of Axes (one per task) to place them yourself.

==================================  ==============================================================
:func:`plot_step1`                  task loss vs tokens D per model size (or vs N per length): ladder
                                    points, posterior median curves with 90% bands, the target's
                                    predicted loss
:func:`plot_step2`                  accuracy vs task loss: checkpoints coloured by size, the
                                    sigmoid's median with 50%/90% bands, the chance level
:func:`plot_chained`                accuracy vs training compute 6ND: ladder runs and the predictive
                                    intervals at the targets, with actual scores when given
:func:`plot_forest`                 predictions of every task at the targets (median, 50%, 90%)
:func:`plot_variance`               the noise measures of :func:`ladderfit.variance.variance`
:func:`plot_trace`                  ArviZ trace plot of per-task parameters
:func:`plot_rank`                   ArviZ rank plot (chains mixing)
:func:`plot_parameter_forest`       ArviZ forest of per-task parameters (alpha, beta, k)
==================================  ==============================================================

The curves are evaluated in numpy from posterior draws of the model's parameters:
``L = E + A / N^alpha + B / D^beta`` (step 1) and
``acc = c + (1 - c) sigmoid(u_c - k (L - Lbar))`` (step 2); bands are of the mean curve
(parameter uncertainty), while the target markers show the full predictive interval of
:meth:`~ladderfit.results.LadderFit.predict`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

__all__ = [
    "plot_step1",
    "plot_step2",
    "plot_chained",
    "plot_forest",
    "plot_variance",
    "plot_trace",
    "plot_rank",
    "plot_parameter_forest",
    "PLOTS",
]

_PANEL = (4.2, 3.3)  # inches per task panel
_TARGET_COLOR = "crimson"
_ACTUAL_COLOR = "black"

# ----------------------------------------------------------------------------- helpers


def _as_fit(fit, variants: tuple[str, ...] | None = None, figure: str = "this figure"):
    """A LadderFit, or a path to one saved with :meth:`LadderFit.save`; ``variants``: the
    model structures the figure can draw."""
    if isinstance(fit, (str, Path)):
        from ..model.results import load

        fit = load(fit)
    if not hasattr(fit, "idata") or not hasattr(fit, "model_data"):
        raise TypeError(f"expected a LadderFit (from ladderfit.fit or ladderfit.load), got {type(fit).__name__}")
    structure = fit.model_data.structure
    if variants is not None and structure not in variants:
        raise ValueError(f"{figure} draws the {' or '.join(variants)} model; this fit is the {structure!r} structure")
    return fit


def _tasks(fit, tasks) -> list[str]:
    if tasks is None:
        return list(fit.tasks)
    tasks = [tasks] if isinstance(tasks, str) else list(tasks)
    unknown = [t for t in tasks if t not in fit.tasks]
    if unknown:
        raise ValueError(f"task(s) {unknown} not in the fit; it has {', '.join(fit.tasks)}")
    if not tasks:
        raise ValueError("tasks: none given")
    return tasks


def _grid(n: int, ax, ncols: int | None = None, panel=_PANEL) -> tuple[Figure, list[Axes]]:
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


def _finish(fig: Figure, made: bool) -> Figure:
    if made:
        fig.tight_layout()
    return fig


def _draws(fit, name: str) -> np.ndarray:
    """Posterior draws of a per-task parameter, shape (samples, task) in the fit's task order."""
    da = fit.idata.posterior[name].stack(sample=("chain", "draw")).transpose("sample", "task")
    return np.asarray(da.sel(task=list(fit.tasks)).values, dtype=float)


def _fmt_params(n: float) -> str:
    """190354176 -> '190M', 1279395840 -> '1.3B'."""
    for unit, div in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= div:
            v = n / div
            return f"{v:.0f}{unit}" if v >= 10 or abs(v - round(v)) < 0.05 else f"{v:.1f}{unit}"
    return f"{n:g}"


def _feature_label(feature: str) -> str:
    return {
        "task_loss": "task loss (bits per byte)",
        "c4_loss": "C4 loss (nats per token)",
        "task_ce": "task cross-entropy",
        "lambada_loss": "LAMBADA loss (log perplexity)",
    }.get(feature, feature)


def _run_table(fit) -> pd.DataFrame:
    """One row per run: run, N (from the step-1 points), final D."""
    md = fit.model_data
    df = pd.DataFrame(
        {
            "run": np.asarray(md.runs)[md.s1_run],
            "N": np.exp(md.s1_x + md.logN_c),
            "D": np.exp(md.s1_z + md.logD_c),
        }
    )
    return df.groupby("run", sort=False).agg(N=("N", "first"), D=("D", "max")).reset_index()


def _step1_points(fit) -> pd.DataFrame:
    md = fit.model_data
    return pd.DataFrame(
        {
            "task": np.asarray(md.tasks)[md.s1_task],
            "run": np.asarray(md.runs)[md.s1_run],
            "N": np.exp(md.s1_x + md.logN_c),
            "D": np.exp(md.s1_z + md.logD_c),
            "loss": md.s1_loss,
        }
    )


def _step2_points(fit) -> pd.DataFrame:
    md = fit.model_data
    runs = _run_table(fit).set_index("run")
    df = pd.DataFrame(
        {
            "task": np.asarray(md.tasks)[md.s2_task],
            "run": np.asarray(md.runs)[md.s2_run],
            "step": md.s2_step,
            "loss": md.s2_loss,
            "accuracy": md.s2_acc,
        }
    )
    df["N"] = df["run"].map(runs["N"])
    df["D_final"] = df["run"].map(runs["D"])
    return df


def _size_colors(Ns) -> dict[float, tuple]:
    sizes = sorted(set(float(n) for n in Ns))
    cmap = plt.get_cmap("viridis")
    pos = np.linspace(0.05, 0.85, len(sizes)) if len(sizes) > 1 else [0.4]
    return {n: cmap(p) for n, p in zip(sizes, pos)}


def _loss_draws(fit, t: int, N, D) -> np.ndarray:
    """Mean task loss L(N, D) per posterior draw: (samples, points); N, D broadcast together."""
    N, D = np.broadcast_arrays(np.asarray(N, float), np.asarray(D, float))
    E, A, alpha, B, beta = (_draws(fit, v)[:, t][:, None] for v in ("E", "A", "alpha", "B", "beta"))
    return E + np.exp(np.log(A) - alpha * np.log(N)[None]) + np.exp(np.log(B) - beta * np.log(D)[None])


def _accuracy_draws(fit, t: int, loss) -> np.ndarray:
    """Mean accuracy at task loss ``loss`` per posterior draw (no run effect): (samples, points)."""
    md = fit.model_data
    u_c = _draws(fit, "logit_centre")[:, t][:, None]
    k = _draws(fit, "k")[:, t][:, None]
    u = u_c - k * (np.asarray(loss, float)[None] - md.loss_centre[t])
    # the sigmoid's floor: the fitted ``floor`` where the model has one, else the chance level
    c = _draws(fit, "floor")[:, t][:, None] if "floor" in fit.idata.posterior else md.chance[t]
    return c + (1.0 - c) / (1.0 + np.exp(-u))


def _band(ax, x, draws, color, levels=(90,), alpha=0.18, label=None):
    """Median line and central bands of draws (samples, x)."""
    for i, lev in enumerate(sorted(levels, reverse=True)):
        lo, hi = np.percentile(draws, [50 - lev / 2, 50 + lev / 2], axis=0)
        ax.fill_between(x, lo, hi, color=color, alpha=alpha * (1 + i), linewidth=0)
    (line,) = ax.plot(x, np.median(draws, axis=0), color=color, lw=1.6, label=label)
    return line


def _predictions(fit, targets) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Predictions (50% and 90% intervals) and the normalised targets table."""
    from ..data.targets import as_targets

    tg = as_targets(targets)
    return fit.predict(tg, levels=(50, 90)), tg


# ----------------------------------------------------------------------------- step 1


def plot_step1(fit, data=None, tasks=None, target="7B-4T", ax=None, x: str = "D") -> Figure:
    """Step 1: task loss vs tokens D, one curve per model size, and the target's prediction.

    Parameters
    ----------
    fit : a :class:`~ladderfit.results.LadderFit` (or the path of a saved one).
    data : optional ladder table (DataFrame or path): its intermediate checkpoints of the
        fit's runs are drawn as faint dots behind the step-1 points (``x="D"`` only).
    tasks : tasks to draw (default: all of the fit's), one panel each.
    target : a target (name, ``"NAME=N,D"``, ...) whose predicted loss is marked with its 90%
        predictive interval and whose curve is drawn dashed; ``None`` for none.
    ax : an Axes (one task) or a sequence of Axes; ``None`` makes a grid.
    x : ``"D"`` (default): loss vs tokens, one curve per model size. ``"N"``: loss vs
        parameters, one curve per training length (final D); the view for a ladder whose runs
        all train on the same number of tokens (Pythia).

    Each curve is the posterior median of the mean law with its 90% band; the big dots are
    the step-1 points the model saw (mean of the last checkpoints of each run).
    """
    if x not in ("D", "N"):
        raise ValueError(f"x must be 'D' or 'N', got {x!r}")
    fit = _as_fit(fit, ("two_step",), "plot_step1")
    tasks = _tasks(fit, tasks)
    fig, axes = _grid(len(tasks), ax)
    md = fit.model_data
    pts = _step1_points(fit)
    # the curves run along `x`, one per value of the other variable (`fixed`)
    fixed = "N" if x == "D" else "D"
    pts["group"] = np.round(pts[fixed], -int(np.floor(np.log10(pts[fixed].min()))) + 3)
    groups = sorted(pts["group"].unique())
    value = pts.groupby("group")[fixed].mean()  # the group's actual N (or D)
    if x == "D":
        colors = _size_colors(groups)
    else:
        cmap = plt.get_cmap("cividis")  # not viridis: lengths are not sizes; no red: that is the target
        colors = {g: cmap(p) for g, p in zip(groups, np.linspace(0.05, 0.85, len(groups)) if len(groups) > 1 else [0.2])}
    raw = None
    if data is not None and x == "D":
        from ..data.readers import read_data

        raw = read_data(data) if not isinstance(data, pd.DataFrame) else data
        raw = raw[raw["run"].isin(md.runs) & raw["task"].isin(tasks)]
        if md.feature not in raw.columns:
            raw = None
    pred = tg = None
    if target is not None:
        pred, tg = _predictions(fit, [target] if isinstance(target, (str, tuple, dict)) else target)
        tg = tg.iloc[:1]
        pred = pred[(pred["target"] == tg["target"].iloc[0]) & (pred["quantity"] == "task_loss")].set_index("task")
    hi = max(pts[x].max(), tg[x].iloc[0] if tg is not None else 0.0) * 1.4
    grid = np.geomspace(pts[x].min() / 1.4, hi, 120)
    run_group = dict(zip(pts["run"], pts["group"]))

    def law(t, g):  # posterior draws of the mean curve along the grid at fixed value g
        return _loss_draws(fit, t, value[g], grid) if x == "D" else _loss_draws(fit, t, grid, value[g])

    for task, a in zip(tasks, axes):
        t = fit.tasks.index(task)
        p = pts[pts["task"] == task]
        lows, highs = [p["loss"].min()], [p["loss"].max()]
        if raw is not None:
            # intermediate checkpoints within the plotted range of D, coloured by their run's size
            r = raw[(raw["task"] == task) & (raw["D"] >= grid[0])]
            for run, rr in r.groupby("run"):
                color = colors.get(run_group.get(run, np.nan), "grey")
                a.scatter(rr["D"], rr[md.feature], s=4, color=color, alpha=0.25, linewidths=0)
        for g in groups:
            _band(a, grid, law(t, g), colors[g], levels=(90,))
            pg = p[p["group"] == g]
            a.scatter(pg[x], pg["loss"], s=26, color=colors[g], edgecolor="white", linewidths=0.6, zorder=3,
                      label=f"{fixed} = {_fmt_params(g)}")  # fmt: skip
        if pred is not None:
            name = tg["target"].iloc[0]
            at, other = float(tg[x].iloc[0]), float(tg[fixed].iloc[0])
            draws = _loss_draws(fit, t, other, grid) if x == "D" else _loss_draws(fit, t, grid, other)
            a.plot(grid, np.median(draws, axis=0), color=_TARGET_COLOR, lw=1.2, ls="--")
            q = pred.loc[task]
            lows.append(q["lower_90"])
            a.errorbar([at], [q["median"]], yerr=[[q["median"] - q["lower_90"]], [q["upper_90"] - q["median"]]],
                       fmt="D", color=_TARGET_COLOR, ms=6, capsize=3, zorder=4,
                       label=f"{name} (90% predictive)")  # fmt: skip
        # frame the ladder points and the prediction; early checkpoints may run off the top
        span = max(highs) - min(lows)
        a.set_ylim(min(lows) - 0.15 * span, max(highs) + 0.35 * span)
        a.set_xscale("log")
        a.set_xlabel("training tokens D" if x == "D" else "parameters N")
        a.set_ylabel(_feature_label(md.feature))
        a.set_title(task)
        a.grid(alpha=0.25, lw=0.5)
    axes[0].legend(fontsize=7, frameon=False)
    return _finish(fig, ax is None)


# ----------------------------------------------------------------------------- step 2


def plot_step2(fit, tasks=None, ax=None, target=None) -> Figure:
    """Step 2: accuracy vs task loss with the fitted sigmoid.

    Checkpoints (smoothed, as the model saw them) are coloured by model size; the line is the
    posterior median of ``c + (1 - c) sigmoid(u_c - k (L - Lbar))`` with 50% and 90% bands
    (``c`` is the fitted floor where the model has one, else the chance level), and the dashed
    line the task's chance level. With ``target`` (a target name or spec), its
    predicted loss and accuracy are marked with 90% predictive intervals.
    """
    fit = _as_fit(fit, ("two_step", "compute"), "plot_step2")
    tasks = _tasks(fit, tasks)
    fig, axes = _grid(len(tasks), ax)
    md = fit.model_data
    pts = _step2_points(fit)
    colors = _size_colors(pts["N"])
    pred = None
    if target is not None:
        pred, tg = _predictions(fit, [target] if isinstance(target, (str, tuple, dict)) else target)
        pred = pred[pred["target"] == tg["target"].iloc[0]]
    for task, a in zip(tasks, axes):
        t = fit.tasks.index(task)
        p = pts[pts["task"] == task]
        lo, hi = p["loss"].min(), p["loss"].max()
        if pred is not None:
            lo = min(lo, pred[(pred["task"] == task) & (pred["quantity"] == "task_loss")]["lower_90"].iloc[0])
        pad = 0.05 * (hi - lo)
        grid = np.linspace(lo - pad, hi + pad, 150)
        for n in sorted(colors):
            pn = p[p["N"] == n]
            a.scatter(pn["loss"], pn["accuracy"], s=9, color=colors[n], alpha=0.7, linewidths=0,
                      label=f"N = {_fmt_params(n)}")  # fmt: skip
        _band(a, grid, _accuracy_draws(fit, t, grid), "black", levels=(50, 90), alpha=0.12, label="fit (median)")
        a.axhline(md.chance[t], color="grey", ls="--", lw=1, label=f"chance ({md.chance[t]:.2f})")
        if pred is not None:
            ql = pred[(pred["task"] == task) & (pred["quantity"] == "task_loss")].iloc[0]
            qa = pred[(pred["task"] == task) & (pred["quantity"] == "accuracy")].iloc[0]
            a.errorbar([ql["median"]], [qa["median"]],
                       xerr=[[ql["median"] - ql["lower_90"]], [ql["upper_90"] - ql["median"]]],
                       yerr=[[qa["median"] - qa["lower_90"]], [qa["upper_90"] - qa["median"]]],
                       fmt="D", color=_TARGET_COLOR, ms=5, capsize=3, zorder=4,
                       label=f"{qa['target']} (90% predictive)")  # fmt: skip
        a.set_xlabel(_feature_label(md.feature))
        a.set_ylabel("accuracy")
        a.set_title(task)
        a.grid(alpha=0.25, lw=0.5)
    axes[0].legend(fontsize=7, frameon=False)
    return _finish(fig, ax is None)


# ----------------------------------------------------------------------------- chained


def _actual_table(actual, targets: pd.DataFrame) -> pd.DataFrame:
    """Normalise user-given actual scores to ``target, task, accuracy``."""
    if actual is None:
        return pd.DataFrame(columns=["target", "task", "accuracy"])
    if isinstance(actual, pd.DataFrame):
        df = actual.copy()
        if "accuracy" not in df.columns and "actual" in df.columns:
            df = df.rename(columns={"actual": "accuracy"})
        if "target" not in df.columns and "run" in df.columns:
            df = df.rename(columns={"run": "target"})
        if "target" not in df.columns and len(targets) == 1:
            df["target"] = targets["target"].iloc[0]
        missing = {"target", "task", "accuracy"} - set(df.columns)
        if missing:
            raise ValueError(f"actual: missing column(s) {sorted(missing)}; expected target, task, accuracy")
        return df[["target", "task", "accuracy"]]
    if isinstance(actual, Mapping):
        rows = []
        for key, value in actual.items():
            if isinstance(value, Mapping):  # {target: {task: acc}}
                rows += [{"target": key, "task": t, "accuracy": float(v)} for t, v in value.items()]
            elif isinstance(key, tuple):  # {(target, task): acc}
                rows.append({"target": key[0], "task": key[1], "accuracy": float(value)})
            else:  # {task: acc} for the first target
                rows.append({"target": targets["target"].iloc[0], "task": key, "accuracy": float(value)})
        return pd.DataFrame(rows, columns=["target", "task", "accuracy"])
    raise TypeError("actual: expected a DataFrame (target, task, accuracy) or a dict")


def plot_chained(fit, tasks=None, targets=None, actual=None, ax=None) -> Figure:
    """Chained prediction: accuracy vs training compute 6ND, ladder runs and targets.

    Dots are the ladder runs' final (smoothed) accuracies, coloured by size; each target gets
    its posterior predictive median with the 50% (thick) and 90% (thin) intervals. ``actual``
    (a DataFrame ``target, task, accuracy``, a dict ``{task: acc}`` for the first target, or
    ``{target: {task: acc}}``) overlays what the target models really scored.
    Compute is ``6 N D`` for ladder runs and targets alike.
    """
    fit = _as_fit(fit, ("two_step",), "plot_chained")
    tasks = _tasks(fit, tasks)
    fig, axes = _grid(len(tasks), ax)
    pts = _step2_points(fit)
    final = pts.sort_values("step").groupby(["task", "run"], sort=False).tail(1)
    final = final.assign(C=6.0 * final["N"] * final["D_final"])
    colors = _size_colors(final["N"])
    pred, tg = _predictions(fit, targets)
    pred = pred[pred["quantity"] == "accuracy"].merge(tg[["target"]], on="target")
    pred["C"] = 6.0 * pred["N"] * pred["D"]
    act = _actual_table(actual, tg).merge(tg.assign(C=6.0 * tg["N"] * tg["D"])[["target", "C"]], on="target", how="left")
    if act["C"].isna().any():
        unknown = sorted(act.loc[act["C"].isna(), "target"].unique())
        raise ValueError(f"actual: target(s) {unknown} are not among the targets {list(tg['target'])}")
    markers = ["D", "s", "^", "v", "P", "X"]
    for task, a in zip(tasks, axes):
        f = final[final["task"] == task]
        for n in sorted(colors):
            fn = f[f["N"] == n]
            a.scatter(fn["C"], fn["accuracy"], s=22, color=colors[n], edgecolor="white", linewidths=0.5, zorder=3,
                      label=f"N = {_fmt_params(n)}")  # fmt: skip
        p = pred[pred["task"] == task]
        for i, q in enumerate(p.itertuples(index=False)):
            a.plot([q.C, q.C], [q.lower_90, q.upper_90], color=_TARGET_COLOR, lw=1.2)
            a.plot([q.C, q.C], [q.lower_50, q.upper_50], color=_TARGET_COLOR, lw=4, solid_capstyle="butt")
            a.plot([q.C], [q.median], marker=markers[i % len(markers)], color="white", mec=_TARGET_COLOR, ms=6,
                   mew=1.5, ls="none", zorder=4, label=f"{q.target} (50/90%)")  # fmt: skip
        ac = act[act["task"] == task]
        if len(ac):
            a.scatter(ac["C"], ac["accuracy"], marker="*", s=110, color=_ACTUAL_COLOR, zorder=5, label="actual")
        a.axhline(fit.model_data.chance[fit.tasks.index(task)], color="grey", ls="--", lw=1)
        a.set_xscale("log")
        a.set_xlabel("training compute 6ND (FLOPs)")
        a.set_ylabel("accuracy")
        a.set_title(task)
        a.grid(alpha=0.25, lw=0.5)
    axes[0].legend(fontsize=7, frameon=False)
    return _finish(fig, ax is None)


# ----------------------------------------------------------------------------- forest of predictions


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
    return _finish(fig, made)


# ----------------------------------------------------------------------------- variance


_ACC_MEASURES = {
    "acc_sd": "sd of last checkpoints",
    "rerun_acc_diff": "seed-rerun |difference|",
    "binom_se": "binomial SE",
    "sigma_acc": "fitted sigma_acc",
    "run_tau": "fitted run_tau",
    "pred_acc_width90": "90% predictive width",
    "backtest_abs_error": "backtest |error|",
}
_LOSS_MEASURES = {
    "loss_cv": "CV of last checkpoints",
    "rerun_loss_rel": "seed-rerun relative |difference|",
    "sigma_loss": "fitted sigma_loss",
}


def _measure_panel(ax, df: pd.DataFrame, measures: dict, scale: dict, xlabel: str, title: str) -> None:
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
    """Noise measures per task from :func:`ladderfit.variance.variance`, in the table's order
    (most predictable on top).

    Left panel: accuracy measures in accuracy points (sd over the last checkpoints, seed-rerun
    difference, binomial SE, and with a fit sigma_acc, run_tau, the 90% predictive width; a
    backtest's absolute error). Right panel: relative task-loss measures in percent (CV,
    seed-rerun relative difference, fitted sigma_loss). Both on log scales. ``ax``: one Axes
    draws the accuracy panel only; two Axes draw both; ``None`` makes the two-panel figure.
    """
    if not isinstance(variance_df, pd.DataFrame) or "task" not in variance_df.columns:
        raise TypeError("plot_variance: expected the DataFrame of ladderfit.variance.variance")
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
    return _finish(fig, made)


# ----------------------------------------------------------------------------- ArviZ diagnostics


def _coords(fit, tasks) -> dict | None:
    return None if tasks is None else {"task": _tasks(fit, tasks)}


def _figure_of(axes) -> Figure:
    return np.asarray(axes, dtype=object).ravel()[0].figure


def plot_trace(fit, var_names=("alpha", "beta", "k"), tasks=None, axes=None) -> Figure:
    """ArviZ trace plot (densities and traces per chain) of per-task parameters."""
    import arviz as az

    fit = _as_fit(fit)
    out = az.plot_trace(fit.idata, var_names=list(var_names), coords=_coords(fit, tasks), axes=axes, compact=True,
                        legend=False)  # fmt: skip
    fig = _figure_of(out)
    if axes is None:
        fig.tight_layout()
    return fig


def plot_rank(fit, var_names=("alpha", "beta", "k"), tasks=None, ax=None) -> Figure:
    """ArviZ rank plot: per-chain rank histograms, flat when the chains mix well."""
    import arviz as az

    fit = _as_fit(fit)
    out = az.plot_rank(fit.idata, var_names=list(var_names), coords=_coords(fit, tasks), ax=ax)
    fig = _figure_of(out)
    if ax is None:
        fig.tight_layout()
    return fig


def plot_parameter_forest(fit, var_names=("alpha", "beta", "k"), tasks=None, ax=None, hdi_prob: float = 0.9) -> Figure:
    """ArviZ forest plot of per-task parameters (posterior median and ``hdi_prob`` HDI, chains combined)."""
    import arviz as az

    fit = _as_fit(fit)
    out = az.plot_forest(fit.idata, var_names=list(var_names), coords=_coords(fit, tasks), combined=True,
                         hdi_prob=hdi_prob, ax=ax)  # fmt: skip
    return _figure_of(out)


#: Plot kinds of the ``ladderfit plot`` command.
PLOTS: dict[str, str] = {
    "step1": "plot_step1",
    "step2": "plot_step2",
    "chained": "plot_chained",
    "forest": "plot_forest",
    "variance": "plot_variance",
    "trace": "plot_trace",
    "rank": "plot_rank",
    "parameters": "plot_parameter_forest",
}
