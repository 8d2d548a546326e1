"""Backtests: hold runs out of the ladder, fit on the rest, and score the predictions.

:func:`backtest` hides some runs of a ladder (by default the largest model size, as the
paper does when it checks its method on the 1B models), fits the scaling law on the
remaining runs with each method, predicts each held-out run, and compares the prediction
with what the run actually scored. :func:`summarize_backtest` condenses the result to one
row per method and model.

What is predicted and what it is compared with
    Each held-out run is predicted at its own N and its **final D** (the tokens at its last
    checkpoint; for the ``compute`` structure also at its final training FLOPs). The truth,
    ``actual``, is the held-out run's accuracy **at its final checkpoint**, unsmoothed: the
    number one would report for that model. It carries the evaluation noise of a single
    checkpoint (about ``sqrt(p (1 - p) / n_items)``), which a predictive interval should
    cover but a confidence band of the mean curve need not (see
    :mod:`ladderfit.model.least_squares`). ``actual="last_k"`` compares with the mean accuracy of
    the last ``last_k`` checkpoints instead (less noisy, but no longer one model).

Methods and models
    ``method``: ``"bayes"`` (:func:`ladderfit.fit`, the joint hierarchical model, all tasks
    in one fit) or ``"least_squares"`` (:func:`ladderfit.model.least_squares.fit_least_squares`,
    the paper's method, per task).

    ``models``: model specifications (:class:`~ladderfit.model.spec.ModelSpec`) or their
    names, e.g. ``"two_step"``, ``"two_step/c4_loss"`` (or just ``"c4_loss"``),
    ``"two_step+run_effects"`` (Bayesian only), ``"compute"``, ``"single_step"``.

Columns of :func:`backtest`
    ``method, model, task, run, N, D, actual, median, lower_90, upper_90, covered,
    abs_error, width_90, fit_seconds``, one row per (method, model, task, held-out run).
    ``actual``, ``median`` and the 90% bounds are accuracy fractions; ``abs_error`` =
    100 |median - actual| and ``width_90`` = 100 (upper_90 - lower_90) are in accuracy
    **points**; ``covered`` is ``lower_90 <= actual <= upper_90``. ``fit_seconds`` is the
    wall time of the fit that made the row's prediction (one fit per method and model
    covers all tasks; for ``bayes`` it includes JAX compilation).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterable

import pandas as pd

from ..errors import LadderDataError
from ..model.spec import DEFAULT_MODEL, ModelSpec, as_spec
from .holdouts import (  # noqa: F401  (the hold-out pieces a backtest is made of, importable from here too)
    HOLDOUT_RULES, as_list, default_pool, final_accuracy, prepare_ladder, resolve_holdout, run_table, split_pool,
)  # fmt: skip

# the hold-out pieces (resolve_holdout, default_pool, final_accuracy, run_table, prepare_ladder,
# split_pool, HOLDOUT_RULES) are :mod:`.holdouts`'s, documented there
__all__ = [
    "backtest", "summarize_backtest", "method_model_pairs", "fit_and_score", "fit_method", "predict_truth",
    "truth_targets", "BACKTEST_COLUMNS", "SUMMARY_COLUMNS", "METHODS", "UnsupportedModelError",
    "format_backtest", "format_summary",
]  # fmt: skip

BACKTEST_COLUMNS: tuple[str, ...] = (
    "method", "model", "task", "run", "N", "D", "actual", "median", "lower_90", "upper_90",
    "covered", "abs_error", "width_90", "fit_seconds",
)  # fmt: skip
SUMMARY_COLUMNS: tuple[str, ...] = ("method", "model", "n", "mae", "coverage_90", "mean_width_90", "fit_seconds")
METHODS: tuple[str, ...] = ("bayes", "least_squares")



class UnsupportedModelError(LadderDataError):
    """A method was asked for a model it does not have (least squares with run effects)."""


def method_model_pairs(methods, models, skip_unsupported: bool = False) -> list[tuple[str, ModelSpec]]:
    """Every (method, model) pair asked for, checked; unsupported pairs raise
    :class:`UnsupportedModelError` or, with ``skip_unsupported``, are skipped with a warning."""
    methods = list(dict.fromkeys(as_list(methods)))
    if not methods:
        raise LadderDataError(f"methods: none given (choose from {', '.join(METHODS)})")
    for m in methods:
        if m not in METHODS:
            raise LadderDataError(f"unknown method {m!r}; choose from {', '.join(METHODS)}")
    specs = []
    for model in as_list(models):
        try:
            specs.append(as_spec(model))
        except (TypeError, ValueError) as err:
            raise LadderDataError(f"model {model!r}: {err}") from None
    specs = list(dict.fromkeys(specs))
    if not specs:
        raise LadderDataError("models: none given (e.g. 'two_step', 'single_step', 'c4_loss')")
    pairs = []
    for m in methods:
        for spec in specs:
            if m == "least_squares" and spec.run_effects:
                msg = f"method 'least_squares' has no run effects (model {spec.name!r})"
                if not skip_unsupported:
                    raise UnsupportedModelError(msg)
                warnings.warn(msg + "; skipped", stacklevel=3)
                continue
            pairs.append((m, spec))
    if not pairs:
        raise UnsupportedModelError("no supported (method, model) pair was asked for")
    return pairs


def truth_targets(truth: pd.DataFrame) -> pd.DataFrame:
    """The held-out runs of a truth table as targets: ``target, N, D`` (and ``flops`` if every run has it)."""
    runs = truth.drop_duplicates("run")
    tg = pd.DataFrame({"target": runs["run"].to_numpy(), "N": runs["N"].to_numpy(), "D": runs["D"].to_numpy()})
    if "flops" in runs.columns and runs["flops"].notna().all():
        tg["flops"] = runs["flops"].to_numpy()
    return tg


def fit_method(train, method, spec: ModelSpec, tasks, fit_options=None, ls_options=None, seed=0):
    """Fit one method and model on ``train``; returns (the fit, its wall time in seconds).

    ``method="bayes"``: :func:`ladderfit.fit` with ``fit_options``; ``"least_squares"``:
    :func:`~ladderfit.model.least_squares.fit_least_squares` with ``ls_options`` (default
    ``n_boot=0``). Raises LadderDataError when the data are too few for the method.
    """
    from ..data.schema import available_feature

    if spec.uses_feature and available_feature(train, spec.feature) not in train.columns:
        raise LadderDataError(f"model {spec.name!r} needs a {spec.feature!r} column in the data")
    if method == "bayes":
        from ..model.bayes import fit as fitter

        opts = {"seed": seed, **(fit_options or {})}
    else:
        from ..model.least_squares import fit_least_squares as fitter

        opts = {"seed": seed, "n_boot": 0, **(ls_options or {})}
    t0 = time.perf_counter()
    res = fitter(train, tasks=tasks, model=spec, **opts)
    return res, time.perf_counter() - t0


def predict_truth(res, truth: pd.DataFrame, levels=(90,), discrepancy=None) -> pd.DataFrame:
    """Predict each held-out run of ``truth`` at its N and final D, and put the prediction beside the truth.

    Returns the rows of ``truth`` (those the fit has a task for) with the accuracy columns
    ``median`` and ``lower_L``/``upper_L`` for each level L of :meth:`LadderFit.predict`
    (``discrepancy``: the Bayesian fit's discrepancy scale to predict with, see there).
    """
    bounds = [f"{side}_{lev:g}" for lev in levels for side in ("lower", "upper")]
    extra = {} if discrepancy is None else {"discrepancy": discrepancy}
    pred = res.predict(truth_targets(truth), levels=tuple(levels), **extra)
    pred = pred[pred["quantity"] == "accuracy"][["target", "task", "median", *bounds]]
    return truth.merge(pred.rename(columns={"target": "run"}), on=["run", "task"], how="inner")


def fit_and_score(train, truth, method, spec: ModelSpec, tasks, fit_options=None, ls_options=None, seed=0):
    """Fit one method and model on ``train``; predict and score the (run, task) rows of ``truth``.

    Returns (DataFrame of backtest rows, info dict). Raises LadderDataError when the data are
    too few for the method.
    """
    res, seconds = fit_method(train, method, spec, tasks, fit_options, ls_options, seed)
    info: dict = {"converged": bool(res.converged)} if method == "bayes" else {}
    out = predict_truth(res, truth, levels=(90,))
    out.insert(0, "method", method)
    out.insert(1, "model", spec.name)
    out["covered"] = (out["lower_90"] <= out["actual"]) & (out["actual"] <= out["upper_90"])
    out["abs_error"] = 100.0 * (out["median"] - out["actual"]).abs()
    out["width_90"] = 100.0 * (out["upper_90"] - out["lower_90"])
    out["fit_seconds"] = seconds
    info["fit_seconds"] = seconds
    return out[list(BACKTEST_COLUMNS)], info


def backtest(
    data=None,
    *,
    holdout="largest_size",
    methods: Iterable[str] = ("bayes", "least_squares"),
    models: Iterable = (DEFAULT_MODEL,),
    tasks=None,
    runs=None,
    fit_options: dict | None = None,
    ls_options: dict | None = None,
    seed: int = 0,
    actual: str = "final",
    skip_unsupported: bool = False,
) -> pd.DataFrame:
    """Hold runs out, fit each method and model on the rest, score the held-out predictions.

    Parameters
    ----------
    data : tidy DataFrame, a path, or ``None`` for the bundled OLMo ladder.
    holdout : ``"largest_size"`` (all runs of the pool's largest N), ``"largest_multiplier"``
        (all runs with its largest multiplier), or run names (a list, or a comma-separated string).
    methods : ``"bayes"`` and/or ``"least_squares"``.
    models : model specifications or their names (see the module docstring).
    tasks : tasks to score (default: all in the data).
    runs : the pool of runs to use (training runs plus rule-selected held-out runs). Default:
        the paper's 16 runs for the bundled ladder, else all runs.
    fit_options : keyword options for :func:`ladderfit.fit` (``chains``, ``warmup``, ``draws``, ...).
    ls_options : keyword options for :func:`~ladderfit.model.least_squares.fit_least_squares`
        (default ``n_boot=0``: the bootstrap only serves the task-loss interval, not scored here).
    seed : seed of both methods (``fit_options``/``ls_options`` may override it).
    actual : ``"final"`` (final-checkpoint accuracy, default) or ``"last_k"`` (mean of the last 5).
    skip_unsupported : skip (with a warning) instead of raising for a method/model pair
        that does not exist (least squares with run effects).

    Returns
    -------
    DataFrame with columns :data:`BACKTEST_COLUMNS`, one row per (method, model, task,
    held-out run); ``attrs["unconverged"]`` names the Bayesian fits that did not converge.

    Raises
    ------
    LadderDataError : unknown rule, run, task, method or model, or a hold-out that leaves
        fewer than 2 model sizes to train on. :class:`UnsupportedModelError` (a
        LadderDataError) for least squares with run effects.
    """
    pairs = method_model_pairs(methods, models, skip_unsupported)
    df, pool, tasks = prepare_ladder(data, tasks, runs)
    held = resolve_holdout(df, holdout, pool)
    train, _ = split_pool(df, pool, held)
    truth = final_accuracy(df[df["run"].isin(held)], actual=actual)
    order = {r: i for i, r in enumerate(held)}
    parts, unconverged = [], []
    for method, spec in pairs:
        rows, info = fit_and_score(train, truth, method, spec, tasks, fit_options, ls_options, seed)
        if not info.get("converged", True):
            unconverged.append(f"{method} {spec.name}")
        rows = rows.assign(_r=rows["run"].map(order)).sort_values(["task", "_r"], kind="stable").drop(columns="_r")
        parts.append(rows)
    out = pd.concat(parts, ignore_index=True)[list(BACKTEST_COLUMNS)]
    out.attrs["unconverged"] = unconverged
    return out


def summarize_backtest(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (method, model): ``n, mae`` (points), ``coverage_90`` (fraction of rows
    whose 90% interval covers the truth), ``mean_width_90`` (points) and ``fit_seconds`` (the
    fit's wall time; the largest if ``df`` holds several fits)."""
    missing = [c for c in BACKTEST_COLUMNS if c not in df.columns]
    if missing:
        raise LadderDataError(f"not a backtest table: missing column(s) {missing}")
    g = df.groupby(["method", "model"], sort=False)
    out = g.agg(
        n=("abs_error", "size"),
        mae=("abs_error", "mean"),
        coverage_90=("covered", "mean"),
        mean_width_90=("width_90", "mean"),
        fit_seconds=("fit_seconds", "max"),
    ).reset_index()
    out["coverage_90"] = out["coverage_90"].astype(float)
    return out[list(SUMMARY_COLUMNS)]


def format_backtest(df: pd.DataFrame) -> str:
    """A readable table: per row actual, median, 90% interval, covered, abs error (points)."""
    lines = [
        f"{'method':<13} {'model':<11} {'task':<14} {'run':<14} {'actual':>7} {'median':>7} "
        f"{'90% interval':>17} {'covered':>7} {'|err| pts':>9}"
    ]
    for r in df.itertuples(index=False):
        lines.append(
            f"{r.method:<13} {r.model:<11} {r.task:<14} {r.run:<14} {r.actual:7.4f} {r.median:7.4f} "
            f"[{r.lower_90:.4f}, {r.upper_90:.4f}] {'yes' if r.covered else 'no':>7} {r.abs_error:9.2f}"
        )
    return "\n".join(lines)


def format_summary(summary: pd.DataFrame) -> str:
    """One line per method and model: MAE, coverage, mean width, fit time, n."""
    lines = []
    for r in summary.itertuples(index=False):
        lines.append(
            f"{r.method} {r.model}: MAE {r.mae:.2f} pts, 90% coverage {r.coverage_90:.0%} "
            f"({int(round(r.coverage_90 * r.n))}/{r.n}), mean 90% width {r.mean_width_90:.2f} pts, "
            f"fit {r.fit_seconds:.1f} s"
        )
    return "\n".join(lines)

