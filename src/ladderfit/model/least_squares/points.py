"""The data each fit reads: the ladder table checked for the structure and its feature, the tasks
kept, the points of each step (:func:`~ladderfit.data.preprocess.step1_points`,
:func:`~ladderfit.data.preprocess.step2_points`) and the normalizers N_ref, D_ref, C_ref.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...data.preprocess import Preprocessing, step1_points, step2_points
from ...data.schema import validate
from ...errors import LadderDataError
from ..spec import STRUCTURES

__all__ = ["check_options", "select_data", "fit_points", "normalizers"]


#: Columns that cannot serve as the intermediate feature.
_NOT_FEATURES = ("run", "size", "N", "D", "step", "task", "accuracy", "multiplier", "replicate",
                 "flops", "n_items", "chance")


def check_options(structure, n_starts, n_boot) -> None:
    if structure not in STRUCTURES:
        raise ValueError(f"structure must be one of {STRUCTURES}, got {structure!r}")
    if int(n_starts) < 1:
        raise ValueError(f"n_starts must be >= 1, got {n_starts!r}")
    if int(n_boot) < 0:
        raise ValueError(f"n_boot must be >= 0, got {n_boot!r}")


def select_data(data, tasks, structure: str, feature: str) -> tuple[pd.DataFrame, list[str]]:
    """Validate the ladder table for the structure and keep the tasks: (rows of the tasks, tasks)."""
    if not isinstance(data, pd.DataFrame):
        raise LadderDataError(f"data: expected a pandas DataFrame, got {type(data).__name__}")
    uses_feature = structure != "single_step"
    if uses_feature:
        if feature not in data.columns:
            raise LadderDataError(
                f"intermediate feature column {feature!r} is not in the data "
                f"(columns: {', '.join(map(str, data.columns))})"
            )
        if feature in _NOT_FEATURES:
            raise LadderDataError(f"{feature!r} cannot be the intermediate feature; use a loss column such as task_loss")
    if structure == "compute" and "flops" not in data.columns:
        raise LadderDataError("the compute structure needs a 'flops' column (training FLOPs) in the data")
    df = validate(data, require=(feature,) if uses_feature else ())
    available = sorted(df["task"].unique())
    if tasks is None:
        tasks = available
    elif isinstance(tasks, str):
        tasks = [tasks]
    tasks = list(dict.fromkeys(tasks))
    if not tasks:
        raise LadderDataError("tasks: none given")
    missing = [t for t in tasks if t not in available]
    if missing:
        raise LadderDataError(f"task(s) {missing} not in the data; it has {', '.join(available)}")
    df = df[df["task"].isin(tasks)].reset_index(drop=True)
    if uses_feature and df[feature].isna().any():
        raise LadderDataError(f"column {feature!r} has missing values")
    return df, tasks


def fit_points(df, structure: str, feature: str, prep: Preprocessing) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The points of step 1 (final per run) and step 2 (checkpoints; empty for the single
    step, whose step-1 points carry the accuracy instead of the feature)."""
    if structure == "single_step":
        p1 = step1_points(df.assign(_acc=df["accuracy"]), "_acc", prep)
        p1 = p1.drop(columns=["accuracy", "_acc_sd"]).rename(columns={"_acc": "accuracy"})
        return p1, p1.iloc[0:0]
    return step1_points(df, feature, prep), step2_points(df, feature, prep)


def normalizers(p1: pd.DataFrame, structure: str) -> dict:
    """Geometric means of N, D (and C for compute) over the step-1 points."""
    return {
        "N_ref": float(np.exp(np.log(p1["N"]).mean())),
        "D_ref": float(np.exp(np.log(p1["D"]).mean())),
        "C_ref": float(np.exp(np.log(p1["flops"]).mean())) if structure == "compute" else 1.0,
    }


