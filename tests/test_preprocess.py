"""Preprocessing: step-1 points (last k at final D) and step-2 points (skip, smooth, thin)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from ladderfit.data.preprocess import PAPER_PREPROCESSING, Preprocessing, step1_points, step2_points
from ladderfit.data.schema import LadderDataError


def ladder(n_steps: int = 10, seed: int = 0) -> pd.DataFrame:
    """2 runs x 2 tasks x n_steps checkpoints with random values; rows shuffled."""
    rng = np.random.default_rng(seed)
    rows = []
    for run, n in (("small", 1e8), ("big", 4e8)):
        for task in ("piqa", "mmlu"):
            for step in range(1, n_steps + 1):
                rows.append({"run": run, "size": run, "N": n, "D": step * 1e9, "step": step * 100, "task": task,
                             "flops": 6 * n * step * 1e9, "task_loss": rng.uniform(0.5, 2),
                             "accuracy": rng.uniform(0.2, 0.8), "multiplier": 1.0, "replicate": 0})
    return pd.DataFrame(rows).sample(frac=1.0, random_state=seed).reset_index(drop=True)


def one(df, run="big", task="piqa"):
    return df[(df["run"] == run) & (df["task"] == task)].sort_values("step")


# ----------------------------------------------------------------------------- step 1


def test_step1_mean_of_last_k_at_final_d():
    df = ladder()
    pts = step1_points(df, prep=Preprocessing(step1_last_k=5)).set_index(["run", "task"])
    assert len(pts) == 4
    g = one(df)
    last5 = g["task_loss"].to_numpy()[-5:]
    row = pts.loc[("big", "piqa")]
    assert_allclose(row["task_loss"], last5.mean(), rtol=1e-12)
    assert_allclose(row["task_loss_sd"], last5.std(ddof=1), rtol=1e-12)
    assert row["D"] == g["D"].max() == 10e9
    assert row["flops"] == g["flops"].max()
    assert row["accuracy"] == g["accuracy"].iloc[-1]
    assert row["n_last"] == 5 and row["N"] == 4e8 and row["size"] == "big"
    assert {"multiplier", "replicate"} <= set(pts.columns)


def test_step1_k1_is_the_final_checkpoint():
    df = ladder()
    pts = step1_points(df, prep=Preprocessing(step1_last_k=1)).set_index(["run", "task"]).sort_index()
    final = df.sort_values("step").groupby(["run", "task"]).tail(1).set_index(["run", "task"]).sort_index()
    assert_allclose(pts["task_loss"], final["task_loss"], rtol=0)
    assert_allclose(pts["D"], final["D"], rtol=0)
    assert (pts["task_loss_sd"] == 0).all() and (pts["n_last"] == 1).all()


def test_step1_k_larger_than_run_and_other_feature():
    df = ladder(n_steps=3).assign(c4_loss=lambda d: d["task_loss"] + 1)
    pts = step1_points(df, feature="c4_loss", prep=Preprocessing(step1_last_k=5)).set_index(["run", "task"])
    assert (pts["n_last"] == 3).all()
    assert_allclose(pts.loc[("small", "mmlu"), "c4_loss"], one(df, "small", "mmlu")["c4_loss"].mean(), rtol=1e-12)
    with pytest.raises(LadderDataError, match=r"intermediate feature column 'lambada_loss' is not in the data"):
        step1_points(df, feature="lambada_loss")


# ----------------------------------------------------------------------------- step 2


def test_step2_skip_and_trailing_moving_average():
    df = ladder(n_steps=20)
    prep = Preprocessing(skip_fraction=0.25, smooth_window=4, thin=1)
    pts = step2_points(df, prep=prep)
    assert len(pts) == 4 * 15  # floor(0.25 * 20) = 5 dropped per (run, task)
    assert set(df.columns) <= set(pts.columns)
    g, got = one(df), one(pts)
    assert got["step"].tolist() == g["step"].tolist()[5:]
    for col in ("task_loss", "accuracy"):
        v = g[col].to_numpy()
        expected = [v[max(0, i - 3): i + 1].mean() for i in range(5, 20)]  # trailing, window 4
        assert_allclose(got[col], expected, rtol=1e-12)
    assert (got["n_smoothed"] == 4).all()
    # untouched columns keep their raw values
    assert_allclose(got["D"], g["D"].to_numpy()[5:], rtol=0)


def test_step2_window_shorter_at_start():
    df = ladder(n_steps=6)
    got = one(step2_points(df, prep=Preprocessing(skip_fraction=0.0, smooth_window=3, thin=1)))
    v = one(df)["task_loss"].to_numpy()
    assert_allclose(got["task_loss"].to_numpy()[:3], [v[0], v[:2].mean(), v[:3].mean()], rtol=1e-12)
    assert got["n_smoothed"].tolist() == [1, 2, 3, 3, 3, 3]
    raw = one(step2_points(df, prep=Preprocessing(skip_fraction=0.0, smooth_window=1, thin=1)))
    assert_allclose(raw["task_loss"], v, rtol=0)


@pytest.mark.parametrize("thin", [2, 3, 7])
def test_step2_thinning_keeps_the_final_checkpoint(thin):
    df = ladder(n_steps=20)
    pts = step2_points(df, prep=Preprocessing(skip_fraction=0.1, smooth_window=5, thin=thin))
    full = step2_points(df, prep=Preprocessing(skip_fraction=0.1, smooth_window=5, thin=1))
    for key, g in pts.groupby(["run", "task"]):
        f = full[(full["run"] == key[0]) & (full["task"] == key[1])]
        assert g["step"].max() == f["step"].max() == 2000
        assert g["step"].tolist() == f["step"].tolist()[::-1][::thin][::-1]
        assert len(g) == -(-len(f) // thin)
        # thinning picks rows, it does not re-smooth them
        assert_allclose(g["task_loss"], f.set_index("step").loc[g["step"], "task_loss"], rtol=0)


def test_step2_bad_feature():
    with pytest.raises(LadderDataError, match=r"intermediate feature column 'task_ce' is not in the data \(columns: run, size"):
        step2_points(ladder(), feature="task_ce")


# ----------------------------------------------------------------------------- options


def test_defaults_are_the_papers_thinned_for_the_joint_model():
    assert Preprocessing().to_dict() == {"skip_fraction": 0.1, "smooth_window": 5, "step1_last_k": 5, "thin": 5}
    assert PAPER_PREPROCESSING.to_dict() == {"skip_fraction": 0.1, "smooth_window": 5, "step1_last_k": 5, "thin": 1}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"skip_fraction": 1.0}, r"skip_fraction must be in \[0, 1\), got 1.0"),
        ({"skip_fraction": -0.1}, r"skip_fraction must be in \[0, 1\), got -0.1"),
        ({"smooth_window": 0}, r"smooth_window must be a positive integer, got 0"),
        ({"smooth_window": 2.5}, r"smooth_window must be a positive integer, got 2.5"),
        ({"step1_last_k": -1}, r"step1_last_k must be a positive integer, got -1"),
        ({"thin": 0}, r"thin must be a positive integer, got 0"),
        ({"thin": "2"}, r"thin must be a positive integer, got '2'"),
    ],
)
def test_invalid_options_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Preprocessing(**kwargs)
