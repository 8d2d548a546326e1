"""Which tasks can be predicted? Noise measures per task, and how well they rank backtest errors.

Bhagia et al. (2024, Section 5) explain why some tasks are hard to predict by their
*variance*: the standard deviation and the coefficient of variation (sd / mean) of task loss
and of accuracy over the last ``n`` checkpoints of one large ladder run (1B-10xC). A task
whose accuracy jumps by a point from one checkpoint to the next cannot be predicted to
better than a point. :func:`variance` computes those measures and adds ours:

=================== =========================================================================
column              meaning
=================== =========================================================================
task                the task
rank                1 = most predictable (the order of the rows; see *Sort key* below)
chance, n_items     chance accuracy and item count of the task
run, last_n         the run and number of checkpoints the paper's measures use
loss_mean, loss_sd  mean and sd (``ddof=1``) of the intermediate feature (task loss) over the
                    last ``last_n`` checkpoints of ``run``
loss_cv             ``loss_sd / loss_mean``
acc_mean, acc_sd    mean and sd of accuracy over the same checkpoints (accuracy fraction)
acc_cv              ``acc_sd / acc_mean``
rerun_acc_diff      seed-rerun difference: ``|final accuracy of run - final accuracy of its
                    rerun|``, averaged over the configurations that were trained twice
                    (1xC and 1xC-rerun of each size in the bundled ladder). Runs with the same
                    N and the same final D are taken as replicates; for more than two the mean
                    absolute pairwise difference is used. NaN when the ladder has no rerun.
rerun_loss_diff     the same for the task loss at the final checkpoint
rerun_loss_rel      ``rerun_loss_diff`` over the mean final task loss of those runs
n_rerun_pairs       how many configurations the two rerun columns average over
final_accuracy      accuracy at the last checkpoint of ``run``
binom_se            binomial standard error of that accuracy, ``sqrt(p (1 - p) / n_items)``:
                    the evaluation noise of one checkpoint from the finite test set alone
=================== =========================================================================

With a fit (``fit=``, a :class:`~ladderfit.model.results.LadderFit`), for its tasks:

=================== =========================================================================
sigma_loss          posterior median of the step-1 scatter (log task loss, i.e. relative)
sigma_acc           posterior median of a run's persistent scatter around the sigmoid (accuracy; one
                    checkpoint's jitter comes on top, see :mod:`ladderfit.model.joint`)
pred_acc_width90    width of the 90% predictive interval of accuracy at ``target``
pred_loss_width90   the same for task loss
target              the target of the two widths (default 7B-4T)
=================== =========================================================================

With a backtest table (``backtest=``, columns ``task, abs_error``, e.g. from
:func:`ladderfit.analysis.backtest.backtest`): ``backtest_abs_error``, the mean absolute error per task
over the table's rows, in accuracy **points** (x 100) as the backtest reports it.

Sort key
    Rows are sorted by ``acc_sd`` ascending (the paper's step-2 variance: checkpoint-to-checkpoint
    noise of accuracy at the end of a large run), ties broken by task name. ``sort_by=`` picks
    another column; every column is a noise or error measure, so smaller always means more
    predictable.

:func:`rank_correlation` tells how well each measure ranks the tasks by backtest error
(Spearman's rho over tasks).
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd

from ..errors import LadderDataError
from ..data.tasks import task_value

__all__ = ["variance", "rank_correlation", "DEFAULT_RUN", "MEASURES", "PAPER_MEASURES", "FIT_MEASURES"]

#: The paper's run for the variance analysis.
DEFAULT_RUN = "1B-10xC"
#: The paper's measures (sd and coefficient of variation over the last checkpoints).
PAPER_MEASURES: tuple[str, ...] = ("loss_sd", "loss_cv", "acc_sd", "acc_cv")
#: Measures computed from a fit.
FIT_MEASURES: tuple[str, ...] = ("sigma_loss", "sigma_acc", "pred_acc_width90", "pred_loss_width90")
#: Every measure :func:`rank_correlation` considers (those present in the table are used).
MEASURES: tuple[str, ...] = PAPER_MEASURES + (
    "rerun_acc_diff", "rerun_loss_diff", "rerun_loss_rel", "binom_se",
) + FIT_MEASURES  # fmt: skip


def _default_run(df: pd.DataFrame) -> str:
    """1B-10xC when the data has it, else the largest run (largest N, then largest final D)."""
    if DEFAULT_RUN in set(df["run"]):
        return DEFAULT_RUN
    per_run = df.groupby("run").agg(N=("N", "first"), D=("D", "max")).reset_index()
    return str(per_run.sort_values(["N", "D", "run"]).iloc[-1]["run"])


def _n_items(df: pd.DataFrame, task: str) -> float:
    value = task_value(df, task, "n_items")
    return value if value else float("nan")


def _chance(df: pd.DataFrame, task: str) -> float:
    value = task_value(df, task, "chance")
    return float("nan") if value is None else value


def _last_checkpoints(df: pd.DataFrame, run: str, feature: str, last_n: int) -> pd.DataFrame:
    """Per task: mean, sd and cv of the feature and of accuracy over the run's last n checkpoints."""
    sub = df[df["run"] == run].sort_values(["task", "step"])
    last = sub.groupby("task", sort=True).tail(last_n)
    g = last.groupby("task", sort=True)
    out = pd.DataFrame(
        {
            "loss_mean": g[feature].mean(),
            "loss_sd": g[feature].std(ddof=1),
            "acc_mean": g["accuracy"].mean(),
            "acc_sd": g["accuracy"].std(ddof=1),
            "n_last": g["accuracy"].size(),
        }
    )
    out["loss_cv"] = out["loss_sd"] / out["loss_mean"]
    out["acc_cv"] = out["acc_sd"] / out["acc_mean"]
    final = sub.groupby("task", sort=True).tail(1).set_index("task")["accuracy"]
    out["final_accuracy"] = final
    return out


def _rerun_differences(df: pd.DataFrame, feature: str) -> pd.DataFrame:
    """Per task: mean |difference| of final accuracy and feature between replicate runs."""
    final = df.sort_values(["run", "task", "step"]).groupby(["run", "task"], sort=True).tail(1)
    per_run = df.groupby("run").agg(N=("N", "first"), D=("D", "max"))
    # replicates: same N and the same final D (relative tolerance 1e-6)
    key = per_run.apply(lambda r: (float(r["N"]), float(np.round(np.log(r["D"]), 6))), axis=1)
    groups = [list(g.index) for _, g in per_run.groupby(key) if len(g) >= 2]
    rows = []
    for task, ft in final.groupby("task", sort=True):
        ft = ft.set_index("run")
        acc_d, loss_d, loss_m = [], [], []
        for runs in groups:
            have = [r for r in runs if r in ft.index]
            if len(have) < 2:
                continue
            pairs = list(itertools.combinations(have, 2))
            acc_d.append(np.mean([abs(ft.at[a, "accuracy"] - ft.at[b, "accuracy"]) for a, b in pairs]))
            if feature in ft.columns:
                loss_d.append(np.mean([abs(ft.at[a, feature] - ft.at[b, feature]) for a, b in pairs]))
                loss_m.append(np.mean([ft.at[r, feature] for r in have]))
        rows.append(
            {
                "task": task,
                "rerun_acc_diff": float(np.mean(acc_d)) if acc_d else np.nan,
                "rerun_loss_diff": float(np.mean(loss_d)) if loss_d else np.nan,
                "rerun_loss_rel": float(np.mean(np.array(loss_d) / np.array(loss_m))) if loss_d else np.nan,
                "n_rerun_pairs": len(acc_d),
            }
        )
    return pd.DataFrame(rows).set_index("task")


def _fit_measures(fit, target) -> pd.DataFrame:
    """Posterior medians of the noise scales and 90% predictive widths at the target, per task."""
    post = fit.idata.posterior
    out = pd.DataFrame(index=pd.Index(fit.tasks, name="task"))
    for name in ("sigma_loss", "sigma_acc"):
        out[name] = post[name].median(("chain", "draw")).sel(task=fit.tasks).to_numpy()
    target = "7B-4T" if target is None else target
    pred = fit.predict([target] if isinstance(target, (str, tuple, dict)) else target, levels=(90,))
    name = pred["target"].iloc[0]
    pred = pred[pred["target"] == name]
    for quantity, col in (("accuracy", "pred_acc_width90"), ("task_loss", "pred_loss_width90")):
        p = pred[pred["quantity"] == quantity].set_index("task")
        out[col] = (p["upper_90"] - p["lower_90"]).reindex(out.index)
    out["target"] = name
    return out


def _backtest_errors(backtest: pd.DataFrame) -> pd.Series:
    if not isinstance(backtest, pd.DataFrame) or not {"task", "abs_error"} <= set(backtest.columns):
        raise LadderDataError("backtest: expected a DataFrame with columns task, abs_error (e.g. from ladderfit.analysis.backtest)")
    return backtest.groupby("task")["abs_error"].mean().rename("backtest_abs_error")


def variance(
    data=None,
    *,
    run: str | None = None,
    last_n: int = 10,
    fit=None,
    target=None,
    backtest: pd.DataFrame | None = None,
    feature: str | None = None,
    sort_by: str = "acc_sd",
) -> pd.DataFrame:
    """Rank tasks by predictability: one row per task, most predictable first.

    Parameters
    ----------
    data : tidy DataFrame, a path, or ``None`` for the bundled OLMo ladder.
    run : the run whose last checkpoints give the paper's measures. Default: ``"1B-10xC"``
        (the paper's choice) when the data has it, else the largest run (largest N, then D).
    last_n : how many of its last checkpoints (the paper: 10).
    fit : a :class:`~ladderfit.model.results.LadderFit`; adds the fitted noise scales and the 90%
        predictive widths at ``target`` for the fit's tasks (NaN for other tasks).
    target : the target of the predictive widths (default ``"7B-4T"``; any form
        :func:`ladderfit.data.targets.as_targets` takes, one target).
    backtest : a backtest table (``task, abs_error``); adds ``backtest_abs_error``.
    feature : the task-loss column (default: the fit's feature, else ``"task_loss"``).
    sort_by : the column to sort by, ascending (default ``"acc_sd"``; see the module docstring).

    Returns
    -------
    DataFrame, one row per task, columns as in the module docstring; ``attrs`` records
    ``run``, ``last_n``, ``feature`` and ``sort_by``.
    """
    from ..data.readers import read_data

    if not isinstance(last_n, (int, np.integer)) or last_n < 2:
        raise ValueError(f"last_n must be an integer >= 2 (an sd needs two checkpoints), got {last_n!r}")
    df = read_data(data)
    if feature is None:
        feature = fit.model_data.feature if fit is not None else "task_loss"
    if feature not in df.columns:
        raise LadderDataError(
            f"variance: the loss column {feature!r} is not in the data (columns: {', '.join(df.columns)}); "
            "pass feature= (e.g. 'lambada_loss')"
        )
    run = _default_run(df) if run is None else run
    if run not in set(df["run"]):
        raise LadderDataError(f"run {run!r} is not in the data; it has {', '.join(sorted(df['run'].unique()))}")
    tasks = sorted(df["task"].unique())
    out = pd.DataFrame(index=pd.Index(tasks, name="task"))
    out["chance"] = [_chance(df, t) for t in tasks]
    out["n_items"] = [_n_items(df, t) for t in tasks]
    out["run"] = run
    last = _last_checkpoints(df, run, feature, int(last_n))
    short = last.index[last["n_last"] < last_n]
    if len(short):
        warnings.warn(
            f"variance: run {run!r} has fewer than {last_n} checkpoints for {', '.join(short)}; using what it has",
            stacklevel=2,
        )
    out = out.join(last)
    out = out.rename(columns={"n_last": "last_n"})
    out = out.join(_rerun_differences(df, feature))
    out["n_rerun_pairs"] = out["n_rerun_pairs"].fillna(0).astype(int)
    p = out["final_accuracy"]
    out["binom_se"] = np.sqrt(p * (1 - p) / out["n_items"])
    if fit is not None:
        out = out.join(_fit_measures(fit, target))
    if backtest is not None:
        out = out.join(_backtest_errors(backtest))
    out = _ranked(out, sort_by)
    out.attrs.update({"run": run, "last_n": int(last_n), "feature": feature, "sort_by": sort_by})
    return out



def _ranked(out: pd.DataFrame, sort_by: str) -> pd.DataFrame:
    """The table by task sorted by ``sort_by`` (NaN last), a ``rank`` column, the columns in order."""
    if sort_by not in out.columns:
        raise ValueError(f"sort_by {sort_by!r} is not a column; choose from {', '.join(out.columns)}")
    out = out.reset_index()
    out = out.sort_values([sort_by, "task"], kind="stable", na_position="last").reset_index(drop=True)
    out.insert(1, "rank", np.arange(1, len(out) + 1))
    order = [
        "task", "rank", "chance", "n_items", "run", "last_n",
        "loss_mean", "loss_sd", "loss_cv", "acc_mean", "acc_sd", "acc_cv",
        "rerun_acc_diff", "rerun_loss_diff", "rerun_loss_rel", "n_rerun_pairs",
        "final_accuracy", "binom_se",
        *FIT_MEASURES, "target", "backtest_abs_error",
    ]  # fmt: skip
    return out[[c for c in order if c in out.columns]]

def rank_correlation(variance_df: pd.DataFrame, backtest_df: pd.DataFrame, measures=None) -> pd.DataFrame:
    """Spearman rank correlation of each measure with the backtest absolute error, over tasks.

    Parameters
    ----------
    variance_df : a table from :func:`variance` (or any table with ``task`` and measure columns).
    backtest_df : ``task, abs_error`` rows (e.g. :func:`ladderfit.analysis.backtest.backtest`); errors are
        averaged over the rows (held-out runs) of each task. When it holds several
        ``method``/``model`` pairs, each gets its own correlations.
    measures : columns to correlate (default: those of :data:`MEASURES` present).

    Returns
    -------
    DataFrame ``[method, model,] measure, spearman, p_value, n_tasks``: one row per measure
    (sorted by ``spearman``, highest first within each combination). A positive rho means the
    measure ranks noisy tasks as the ones with large errors. NaN where fewer than 3 tasks have
    both numbers or a column is constant.
    """
    from scipy.stats import spearmanr

    if not {"task", "abs_error"} <= set(backtest_df.columns):
        raise LadderDataError("backtest_df: expected columns task, abs_error")
    if "task" not in variance_df.columns:
        raise LadderDataError("variance_df: expected a 'task' column (a table from ladderfit.analysis.variance.variance)")
    if measures is None:
        measures = [m for m in MEASURES if m in variance_df.columns]
    else:
        measures = [measures] if isinstance(measures, str) else list(measures)
        missing = [m for m in measures if m not in variance_df.columns]
        if missing:
            raise LadderDataError(f"variance_df has no column(s) {missing}")
    keys = [c for c in ("method", "model") if c in backtest_df.columns]
    groups = backtest_df.groupby(keys, sort=False) if keys else [((), backtest_df)]
    v = variance_df.set_index("task")
    rows = []
    for key, bt in groups:
        key = key if isinstance(key, tuple) else (key,)
        err = bt.groupby("task")["abs_error"].mean()
        part = []
        for m in measures:
            both = pd.concat([v[m].astype(float), err], axis=1, join="inner").dropna()
            rho, pval = np.nan, np.nan
            if len(both) >= 3 and both.iloc[:, 0].nunique() > 1 and both.iloc[:, 1].nunique() > 1:
                res = spearmanr(both.iloc[:, 0], both.iloc[:, 1])
                rho, pval = float(res.statistic), float(res.pvalue)
            part.append({**dict(zip(keys, key)), "measure": m, "spearman": rho, "p_value": pval, "n_tasks": len(both)})
        part.sort(key=lambda r: np.inf if np.isnan(r["spearman"]) else -r["spearman"])
        rows.extend(part)
    return pd.DataFrame(rows, columns=[*keys, "measure", "spearman", "p_value", "n_tasks"])
