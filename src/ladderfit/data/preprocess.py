"""Preprocessing: which checkpoints feed each step of the scaling law, named and explicit.

Step 1 (task loss from N, D) takes one point per (run, task): the mean of the feature over
the last ``step1_last_k`` evaluations, placed at the run's final D (the paper's choice;
``step1_last_k=1`` is the final checkpoint alone).

Step 2 (accuracy from task loss) takes the intermediate checkpoints of each run: the first
``skip_fraction`` of them dropped, both the feature and the accuracy smoothed by a trailing
moving average of ``smooth_window`` checkpoints, then every ``thin``-th kept (counting back
from the last, so the final checkpoint is always in).

:func:`checkpoint_jitter` measures how much a column moves between neighbouring checkpoints
beyond its trend: the measurement noise of one evaluation.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from ..errors import LadderDataError

__all__ = ["Preprocessing", "PAPER_PREPROCESSING", "step1_points", "step2_points", "checkpoint_jitter"]


@dataclass(frozen=True)
class Preprocessing:
    """Named preprocessing options.

    The defaults are the joint model's: the paper's skip (10%), moving average (5) and step-1
    point (mean of the last 5 evaluations), with step-2 checkpoints thinned to every 5th so
    that the moving-average windows do not overlap (overlapping windows would count each
    evaluation five times in the likelihood). :data:`PAPER_PREPROCESSING` keeps every
    checkpoint, as the paper's least squares does.
    """

    skip_fraction: float = 0.1
    smooth_window: int = 5
    step1_last_k: int = 5
    thin: int = 5

    def __post_init__(self) -> None:
        if not 0 <= self.skip_fraction < 1:
            raise ValueError(f"skip_fraction must be in [0, 1), got {self.skip_fraction!r}")
        for name in ("smooth_window", "step1_last_k", "thin"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")

    def to_dict(self) -> dict:
        return asdict(self)


#: The paper's preprocessing (moving average of 5, every checkpoint kept), used by the least squares.
PAPER_PREPROCESSING = Preprocessing(thin=1)


def _check_feature(df: pd.DataFrame, feature: str) -> None:
    if feature not in df.columns:
        raise LadderDataError(
            f"intermediate feature column {feature!r} is not in the data (columns: {', '.join(df.columns)})"
        )


def step1_points(df: pd.DataFrame, feature: str = "task_loss", prep: Preprocessing | None = None) -> pd.DataFrame:
    """One row per (run, task): final D, N, and the feature averaged over the last k checkpoints.

    Columns: run, task, size, N, D, flops (if present), ``feature``, ``feature_sd`` (the
    scatter of those k checkpoints; 0 when k = 1), n_last, accuracy (final checkpoint) and
    accuracy_mean (mean over the same last k checkpoints).
    """
    _check_feature(df, feature)
    prep = prep or Preprocessing()
    df = df.sort_values(["run", "task", "step"])
    last = df.groupby(["run", "task"], sort=True, group_keys=False).tail(prep.step1_last_k)
    g = last.groupby(["run", "task"], sort=True)
    out = g.agg(
        size=("size", "first"),
        N=("N", "first"),
        D=("D", "max"),
        value=(feature, "mean"),
        value_sd=(feature, "std"),
        n_last=(feature, "size"),
        accuracy=("accuracy", "last"),
        accuracy_mean=("accuracy", "mean"),
    ).reset_index()
    out["value_sd"] = out["value_sd"].fillna(0.0)
    if "flops" in df.columns:
        out["flops"] = g["flops"].max().to_numpy()
    for col in ("multiplier", "replicate"):
        if col in df.columns:
            out[col] = g[col].first().to_numpy()
    return out.rename(columns={"value": feature, "value_sd": f"{feature}_sd"})


def step2_points(df: pd.DataFrame, feature: str = "task_loss", prep: Preprocessing | None = None) -> pd.DataFrame:
    """Intermediate checkpoints for step 2: skip, smooth (trailing moving average), thin.

    Keeps all columns of the input; ``feature`` and ``accuracy`` are replaced by their
    moving averages, and ``n_smoothed`` says how many checkpoints each row averages.
    """
    _check_feature(df, feature)
    prep = prep or Preprocessing()
    if df.empty:
        raise LadderDataError("no checkpoints left for step 2")
    d = df.sort_values(["run", "task", "step"], ignore_index=True)
    by_series = d.groupby(["run", "task"], sort=False)
    w = prep.smooth_window
    smoothed = by_series[[feature, "accuracy"]].rolling(w, min_periods=1).mean().reset_index(level=[0, 1], drop=True)
    d[feature], d["accuracy"] = smoothed[feature], smoothed["accuracy"]
    pos, n = by_series.cumcount().to_numpy(), by_series["step"].transform("size").to_numpy()
    d["n_smoothed"] = np.minimum(pos + 1, w)
    # skip the first skip_fraction of a run's checkpoints, then keep every thin-th counting back from its last
    keep = (pos >= np.floor(prep.skip_fraction * n)) & ((n - 1 - pos) % prep.thin == 0)
    return d[keep].reset_index(drop=True)


def checkpoint_jitter(df: pd.DataFrame, column: str, skip_fraction: float = 0.1, log: bool = False) -> pd.Series:
    r"""Per task: the sd of one checkpoint's ``column`` around its run's local trend.

    For consecutive checkpoints of a run, ``r_i = y_i - (y_{i-1} + y_{i+1}) / 2`` removes a
    locally linear trend; with independent noise of sd s, ``E r_i^2 = 1.5 s^2``, so
    ``s^2 = mean(r^2) / 1.5``, pooled over a task's runs (the first ``skip_fraction`` of
    each run dropped, as in step 2). ``log=True`` works on ``log(column)`` (relative noise).
    Runs with fewer than three checkpoints add nothing; a task with none gets NaN.
    """
    _check_feature(df, column)
    sums: dict = {}
    d = df.sort_values(["task", "run", "step"])  # each (task, run) series contiguous, by step
    values, task_of, run_of = d[column].to_numpy(float), d["task"].to_numpy(), d["run"].to_numpy()
    starts = np.flatnonzero(np.r_[True, (task_of[1:] != task_of[:-1]) | (run_of[1:] != run_of[:-1])])
    for start, end in zip(starts, np.r_[starts[1:], len(d)]):
        task, y = task_of[start], values[start:end]
        y = y[int(np.floor(skip_fraction * len(y))) :]
        if log:
            y = np.log(y)
        if len(y) < 3:
            continue
        r = y[1:-1] - 0.5 * (y[:-2] + y[2:])
        ss, n = sums.get(task, (0.0, 0))
        sums[task] = (ss + float(np.sum(r**2)), n + len(r))
    tasks = sorted(df["task"].unique())
    return pd.Series({t: np.sqrt(sums[t][0] / sums[t][1] / 1.5) if t in sums else np.nan for t in tasks}, name=column)
