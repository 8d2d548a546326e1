"""The tables the figures of a fit draw: its ladder points, predictions at targets, actual scores."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

__all__ = ["run_table", "step1_points", "step2_points", "target_predictions", "actual_table"]


def run_table(fit) -> pd.DataFrame:
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


def step1_points(fit) -> pd.DataFrame:
    """The step-1 points the model saw: task, run, N, D, loss (a shared feature's points, fitted
    once, are listed under every task)."""
    md = fit.model_data
    pts = pd.DataFrame(
        {
            "task": np.asarray(md.tasks)[md.s1_task],
            "run": np.asarray(md.runs)[md.s1_run],
            "N": np.exp(md.s1_x + md.logN_c),
            "D": np.exp(md.s1_z + md.logD_c),
            "loss": md.s1_loss,
        }
    )
    if md.shared_feature:
        pts = pd.concat([pts.assign(task=t) for t in md.tasks], ignore_index=True)
    return pts


def step2_points(fit) -> pd.DataFrame:
    """The step-2 checkpoints the model saw: task, run, step, loss, accuracy, N, D_final."""
    md = fit.model_data
    runs = run_table(fit).set_index("run")
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


def target_predictions(fit, targets) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Predictions (50% and 90% intervals) and the normalised targets table."""
    from ..data.targets import as_targets

    tg = as_targets(targets)
    return fit.predict(tg, levels=(50, 90)), tg


def actual_table(actual, targets: pd.DataFrame) -> pd.DataFrame:
    """User-given actual scores as ``target, task, accuracy``: a DataFrame, ``{task: acc}`` for
    the first target, ``{target: {task: acc}}`` or ``{(target, task): acc}``."""
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
