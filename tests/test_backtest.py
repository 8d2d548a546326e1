"""Backtests and the compute-vs-error curve (small, mostly least squares; one tiny Bayesian fit)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ladderfit import LadderDataError, load_olmo_ladder
from ladderfit.analysis.backtest import (
    BACKTEST_COLUMNS,
    SUMMARY_COLUMNS,
    UnsupportedModelError,
    backtest,
    default_pool,
    final_accuracy,
    resolve_holdout,
    summarize_backtest,
)
from ladderfit.analysis.compute_vs_error import COMPUTE_CURVE_COLUMNS, compute_vs_error, ladder_sequence
from ladderfit.data.bundled import PAPER_LADDER_RUNS

TASKS = ["hellaswag", "piqa"]
ONE_B = ["1B-1xC", "1B-2xC", "1B-5xC", "1B-10xC"]


@pytest.fixture(scope="module")
def ladder() -> pd.DataFrame:
    return load_olmo_ladder()


@pytest.fixture(scope="module")
def ls_bt(ladder) -> pd.DataFrame:
    return backtest(ladder[ladder["task"].isin(TASKS)], methods=["least_squares"],
                    models=["two_step", "compute", "single_step", "c4_loss", "task_ce"])


def _check_rows(df: pd.DataFrame) -> None:
    assert list(df.columns) == list(BACKTEST_COLUMNS)
    assert df[["actual", "median", "lower_90", "upper_90", "abs_error", "width_90", "fit_seconds"]].notna().all().all()
    assert (df["covered"] == ((df["lower_90"] <= df["actual"]) & (df["actual"] <= df["upper_90"]))).all()
    np.testing.assert_allclose(df["abs_error"], 100 * (df["median"] - df["actual"]).abs())
    np.testing.assert_allclose(df["width_90"], 100 * (df["upper_90"] - df["lower_90"]))
    assert (df["lower_90"] <= df["median"] + 1e-12).all() and (df["median"] <= df["upper_90"] + 1e-12).all()
    assert (df["fit_seconds"] > 0).all()


def test_least_squares_backtest_columns_and_consistency(ls_bt, ladder):
    _check_rows(ls_bt)
    # one row per (method, model, task, held-out run): the four 1B paper runs
    assert len(ls_bt) == 5 * len(TASKS) * 4
    assert set(ls_bt["run"]) == set(ONE_B)
    assert ls_bt.groupby(["model", "task"]).size().eq(4).all()
    # actual is the final-checkpoint accuracy, prediction at the run's N and final D
    r = ls_bt.iloc[0]
    g = ladder[(ladder["run"] == r["run"]) & (ladder["task"] == r["task"])].sort_values("step")
    assert r["actual"] == pytest.approx(g["accuracy"].iloc[-1])
    assert r["D"] == g["D"].max() and r["N"] == g["N"].iloc[0]


def test_summarize_backtest(ls_bt):
    s = summarize_backtest(ls_bt)
    assert list(s.columns) == list(SUMMARY_COLUMNS)
    assert list(s["model"]) == ["two_step", "compute", "single_step", "two_step/c4_loss", "two_step/task_ce"]
    two = ls_bt[ls_bt["model"] == "two_step"]
    row = s[s["model"] == "two_step"].iloc[0]
    assert row["n"] == len(two)
    assert row["mae"] == pytest.approx(two["abs_error"].mean())
    assert row["coverage_90"] == pytest.approx(two["covered"].mean())
    assert row["mean_width_90"] == pytest.approx(two["width_90"].mean())
    with pytest.raises(LadderDataError, match="not a backtest table"):
        summarize_backtest(ls_bt.drop(columns="covered"))


def test_holdout_rules(ladder):
    pool = default_pool(ladder)
    assert pool == list(PAPER_LADDER_RUNS)
    assert resolve_holdout(ladder, "largest_size", pool) == ONE_B
    assert resolve_holdout(ladder, "largest_multiplier", pool) == ["190M-10xC", "370M-10xC", "760M-10xC", "1B-10xC"]
    # over all 24 runs the largest size includes the 0.5xC and rerun runs
    assert len(resolve_holdout(ladder, "largest_size")) == 6
    assert resolve_holdout(ladder, ["1B-10xC", "760M-5xC"], pool) == ["760M-5xC", "1B-10xC"]
    assert resolve_holdout(ladder, "1B-10xC,760M-5xC", pool) == ["760M-5xC", "1B-10xC"]
    # a user table that is not the bundled ladder defaults to all its runs
    sub = ladder[ladder["run"].isin(["190M-1xC", "370M-1xC", "760M-2xC"])]
    assert default_pool(sub) == ["190M-1xC", "370M-1xC", "760M-2xC"]


def test_bad_holdout_and_options(ladder):
    small = ladder[ladder["task"] == "hellaswag"]
    with pytest.raises(LadderDataError, match="not a rule"):
        backtest(small, holdout="biggest", methods=["least_squares"])
    with pytest.raises(LadderDataError, match=r"not in the data"):
        backtest(small, holdout=["1B-10xC", "3B-1xC"], methods=["least_squares"])
    with pytest.raises(LadderDataError, match="2 sizes"):
        backtest(small, holdout=[r for r in PAPER_LADDER_RUNS if not r.startswith("190M")], methods=["least_squares"])
    with pytest.raises(LadderDataError, match="multiplier"):
        backtest(small.drop(columns="multiplier"), holdout="largest_multiplier", methods=["least_squares"])
    with pytest.raises(LadderDataError, match="c4_loss"):
        backtest(small.drop(columns="c4_loss"), methods=["least_squares"], models=["c4_loss"])
    with pytest.raises(LadderDataError, match="unknown method"):
        backtest(small, methods=["ridge"])
    with pytest.raises(LadderDataError, match="unknown model"):
        backtest(small, methods=["least_squares"], models=["three_step"])
    with pytest.raises(LadderDataError, match="task"):
        backtest(small, methods=["least_squares"], tasks=["nope"])
    # least squares has no run effects: a clear error, or a skip when asked
    with pytest.raises(UnsupportedModelError, match="run effects"):
        backtest(small, methods=["least_squares"], models=["two_step+run_effects"])


def test_largest_multiplier_backtest(ladder):
    df = backtest(ladder[ladder["task"] == "piqa"], holdout="largest_multiplier", methods=["least_squares"], models=["two_step"])
    _check_rows(df)
    assert list(df["run"]) == ["190M-10xC", "370M-10xC", "760M-10xC", "1B-10xC"]


def test_final_accuracy_last_k(ladder):
    one = ladder[(ladder["run"] == "1B-10xC") & (ladder["task"] == "piqa")].sort_values("step")
    fa = final_accuracy(one, "last_k", last_k=3)
    assert fa["actual"].iloc[0] == pytest.approx(one["accuracy"].tail(3).mean())
    with pytest.raises(LadderDataError):
        final_accuracy(one, "best")


def test_compute_vs_error_least_squares(ladder):
    cv = compute_vs_error(ladder[ladder["task"] == "hellaswag"], methods=["least_squares"])
    assert list(cv.columns) == list(COMPUTE_CURVE_COLUMNS)
    assert cv.attrs["target_runs"] == ONE_B
    assert set(cv["scheme"]) == {"sizes", "multipliers", "flops"}
    assert cv.groupby("scheme").size().to_dict() == {"sizes": 3, "multipliers": 4, "flops": 12}
    for _, g in cv.groupby("scheme"):
        assert g["compute"].is_monotonic_increasing and g["compute"].diff().dropna().gt(0).all()
        assert g["n_runs"].is_monotonic_increasing
    # the full 12-run ladder is the last of each scheme, ~1.2% of 7B-4T
    full = cv.groupby("scheme").tail(1)
    assert full["n_runs"].eq(12).all() and np.allclose(full["compute"], full["compute"].iloc[0])
    assert 0.005 < full["compute_fraction"].iloc[0] < 0.02
    # one size only: skipped with a note; fitted ladders have metrics and no note
    first = cv[(cv["scheme"] == "sizes") & (cv["step"] == 1)].iloc[0]
    assert first["n_sizes"] == 1 and np.isnan(first["mae"]) and "N exponent" in first["note"]
    ok = cv[cv["note"] == ""]
    assert len(ok) >= 8 and ok[["mae", "coverage_90", "mean_width_90"]].notna().all().all()
    # held-out 1B runs never train
    assert not any("1B" in r for r in ",".join(cv["runs"]).split(","))


def test_ladder_sequence_flops_order(ladder):
    from ladderfit.analysis.backtest import run_table

    runs = run_table(ladder[ladder["run"].isin(PAPER_LADDER_RUNS[:12])])
    seq = ladder_sequence(runs, "flops")
    assert [len(r) for _, r in seq] == list(range(1, 13))
    assert seq[0][1] == ["190M-1xC"]
    with pytest.raises(LadderDataError, match="unknown scheme"):
        ladder_sequence(runs, "tokens")


def test_cli_backtest_writes_csv(tmp_path, capsys):
    from ladderfit.cli import main

    out = tmp_path / "f.csv"
    rc = main(["backtest", "--method", "least_squares", "--model", "two_step", "--tasks", "hellaswag", "--out", str(out)])
    assert rc == 0
    df = pd.read_csv(out)
    assert list(df.columns) == list(BACKTEST_COLUMNS)
    assert len(df) == 4 and set(df["run"]) == set(ONE_B)
    text = capsys.readouterr().out
    assert "least_squares two_step: MAE" in text and "1B-10xC" in text
    assert main(["backtest", "--method", "least_squares", "--holdout", "nope", "--tasks", "piqa"]) == 2


@pytest.mark.filterwarnings("ignore::UserWarning")  # tiny fits do not converge; only the plumbing is tested
def test_bayes_backtest_tiny(ladder):
    pytest.importorskip("numpyro")
    df = backtest(ladder[ladder["task"].isin(TASKS)], methods=["bayes"], models=["two_step", "compute", "single_step"],
                  fit_options={"chains": 1, "warmup": 150, "draws": 150})
    _check_rows(df)
    assert len(df) == 3 * len(TASKS) * 4 and set(df["method"]) == {"bayes"}
    assert list(dict.fromkeys(df["model"])) == ["two_step", "compute", "single_step"]
    # a predictive interval of the joint model is wider than the least-squares band
    assert df["width_90"].mean() > 1.0


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_cli_backtest_exits_3_when_a_bayesian_fit_did_not_converge(tmp_path, capsys):
    """A fit far too short to converge: the table is still written, the culprit named, exit 3;
    --allow-unconverged exits 0."""
    from ladderfit.cli import main

    out = tmp_path / "bt.csv"
    args = ["backtest", "--method", "bayes", "--tasks", "piqa", "--chains", "1", "--warmup", "20", "--draws", "50",
            "--out", str(out)]  # fmt: skip
    assert main(args) == 3
    err = capsys.readouterr().err
    assert "did not converge" in err and "bayes single_step" in err and out.exists()
    assert main(args + ["--allow-unconverged"]) == 0
