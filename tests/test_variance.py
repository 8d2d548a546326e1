"""Task-variance measures against direct pandas computations on the bundled ladder."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import ladderfit
from ladderfit.data.schema import LadderDataError
from ladderfit.analysis.variance import MEASURES, rank_correlation, variance


@pytest.fixture(scope="module")
def ladder() -> pd.DataFrame:
    return ladderfit.load_olmo_ladder()


@pytest.fixture(scope="module")
def table(ladder) -> pd.DataFrame:
    return variance(ladder)


def _last(df, run, task, n):
    return df[(df["run"] == run) & (df["task"] == task)].sort_values("step").tail(n)


def test_one_row_per_task_sorted_by_accuracy_sd(table, ladder):
    assert sorted(table["task"]) == sorted(ladder["task"].unique())
    assert table["acc_sd"].is_monotonic_increasing
    assert list(table["rank"]) == list(range(1, len(table) + 1))
    for col in ("loss_sd", "loss_cv", "acc_sd", "acc_cv", "rerun_acc_diff", "rerun_loss_diff", "binom_se"):
        assert col in table.columns and table[col].notna().all() and (table[col] > 0).all()
    assert table.attrs["run"] == "1B-10xC" and table.attrs["sort_by"] == "acc_sd"
    assert (table["run"] == "1B-10xC").all() and (table["last_n"] == 10).all()
    # the paper's finding: MMLU and HellaSwag are among the steadiest, BoolQ the noisiest
    assert set(table["task"].head(3)) >= {"mmlu", "hellaswag"}
    assert table["task"].iloc[-1] == "boolq"


def test_paper_measures_match_pandas(table, ladder):
    t = table.set_index("task")
    for task in t.index:
        last = _last(ladder, "1B-10xC", task, 10)
        assert len(last) == 10
        assert t.at[task, "acc_mean"] == pytest.approx(last["accuracy"].mean())
        assert t.at[task, "acc_sd"] == pytest.approx(last["accuracy"].std(ddof=1))
        assert t.at[task, "acc_cv"] == pytest.approx(last["accuracy"].std() / last["accuracy"].mean())
        assert t.at[task, "loss_sd"] == pytest.approx(last["task_loss"].std())
        assert t.at[task, "loss_cv"] == pytest.approx(last["task_loss"].std() / last["task_loss"].mean())


def test_rerun_difference_matches_pandas(table, ladder):
    final = ladder.sort_values("step").groupby(["run", "task"]).tail(1).set_index(["run", "task"])
    t = table.set_index("task")
    sizes = ["190M", "370M", "760M", "1B"]
    for task in t.index:
        acc = [abs(final.at[(f"{s}-1xC", task), "accuracy"] - final.at[(f"{s}-1xC-rerun", task), "accuracy"]) for s in sizes]
        loss = [abs(final.at[(f"{s}-1xC", task), "task_loss"] - final.at[(f"{s}-1xC-rerun", task), "task_loss"]) for s in sizes]
        assert t.at[task, "rerun_acc_diff"] == pytest.approx(np.mean(acc))
        assert t.at[task, "rerun_loss_diff"] == pytest.approx(np.mean(loss))
        assert t.at[task, "n_rerun_pairs"] == 4


def test_binomial_standard_error_at_final_accuracy(table, ladder):
    t = table.set_index("task")
    for task in t.index:
        last = _last(ladder, "1B-10xC", task, 1).iloc[0]
        p, n = last["accuracy"], last["n_items"]
        assert t.at[task, "final_accuracy"] == pytest.approx(p)
        assert t.at[task, "binom_se"] == pytest.approx(np.sqrt(p * (1 - p) / n))


def test_run_last_n_and_sort_by(ladder):
    v = variance(ladder, run="760M-5xC", last_n=5, sort_by="loss_cv").set_index("task")
    last = _last(ladder, "760M-5xC", "piqa", 5)
    assert v.at["piqa", "acc_sd"] == pytest.approx(last["accuracy"].std())
    assert v["loss_cv"].is_monotonic_increasing


def test_default_run_falls_back_to_the_largest(ladder):
    small = ladder[~ladder["size"].eq("1B")]
    v = variance(small, last_n=3)
    assert v.attrs["run"] == "760M-10xC"
    no_rerun = ladder[~ladder["run"].str.endswith("rerun")]
    v2 = variance(no_rerun)
    assert v2["rerun_acc_diff"].isna().all() and (v2["n_rerun_pairs"] == 0).all()


def test_bad_arguments(ladder):
    with pytest.raises(LadderDataError, match="not in the data"):
        variance(ladder, run="7B-4T")
    with pytest.raises(ValueError, match="last_n"):
        variance(ladder, last_n=1)
    with pytest.raises(ValueError, match="sort_by"):
        variance(ladder, sort_by="nope")
    with pytest.raises(LadderDataError, match="lambada_loss"):
        variance(ladder, feature="lambada_loss")


def test_backtest_errors_are_averaged_per_task(ladder):
    bt = pd.DataFrame({"task": ["piqa", "piqa", "mmlu"], "run": ["a", "b", "a"], "abs_error": [1.0, 3.0, 0.5]})
    v = variance(ladder, backtest=bt).set_index("task")
    assert v.at["piqa", "backtest_abs_error"] == 2.0
    assert v.at["mmlu", "backtest_abs_error"] == 0.5
    assert np.isnan(v.at["boolq", "backtest_abs_error"])
    with pytest.raises(LadderDataError, match="abs_error"):
        variance(ladder, backtest=pd.DataFrame({"task": ["piqa"]}))


def test_fit_measures_are_posterior_medians_and_predictive_widths(ladder):
    from test_plots import TINY_TASKS, cached_tiny_fit

    fit = cached_tiny_fit()
    v = variance(ladder, fit=fit, target="13B-5T").set_index("task")
    post = fit.idata.posterior
    for task in TINY_TASKS:
        for name in ("sigma_loss", "sigma_acc"):
            if name not in post:
                assert name not in v.columns
                continue
            assert v.at[task, name] == pytest.approx(float(post[name].sel(task=task).median()))
    pred = fit.predict(["13B-5T"], levels=(90,))
    acc = pred[pred["quantity"] == "accuracy"].set_index("task")
    for task in TINY_TASKS:
        assert v.at[task, "pred_acc_width90"] == pytest.approx(acc.at[task, "upper_90"] - acc.at[task, "lower_90"])
        assert v.at[task, "target"] == "13B-5T"
    others = v.index.difference(TINY_TASKS)
    assert v.loc[others, "sigma_acc"].isna().all()


# ----------------------------------------------------------------------------- rank correlation


def test_rank_correlation_on_a_toy_table():
    tasks = list("abcde")
    v = pd.DataFrame({"task": tasks, "acc_sd": [1, 2, 3, 4, 5.0], "loss_cv": [5, 4, 3, 2, 1.0], "binom_se": [1, 1, 1, 1, 1.0]})
    # two held-out runs per task: errors are averaged first (means 1..5, increasing)
    bt = pd.DataFrame({"task": tasks * 2, "abs_error": [0, 2, 2, 4, 4, 2, 2, 4, 4, 6.0]})
    rc = rank_correlation(v, bt).set_index("measure")
    assert rc.at["acc_sd", "spearman"] == pytest.approx(1.0)
    assert rc.at["loss_cv", "spearman"] == pytest.approx(-1.0)
    assert np.isnan(rc.at["binom_se", "spearman"])  # constant measure
    assert (rc["n_tasks"] == 5).all()
    assert list(rc.index) == ["acc_sd", "loss_cv", "binom_se"]  # highest first, NaN last


def test_rank_correlation_per_method_and_few_tasks():
    v = pd.DataFrame({"task": list("abcd"), "acc_sd": [1, 2, 3, 4.0]})
    bt = pd.DataFrame(
        {
            "method": ["bayes"] * 4 + ["least_squares"] * 4,
            "model": "two_step",
            "task": list("abcd") * 2,
            "abs_error": [1, 2, 3, 4, 4, 3, 2, 1.0],
        }
    )
    rc = rank_correlation(v, bt)
    assert list(rc.columns) == ["method", "model", "measure", "spearman", "p_value", "n_tasks"]
    got = rc.set_index("method")["spearman"]
    assert got["bayes"] == pytest.approx(1.0) and got["least_squares"] == pytest.approx(-1.0)
    two = rank_correlation(v, pd.DataFrame({"task": ["a", "b"], "abs_error": [1.0, 2.0]}))
    assert np.isnan(two["spearman"].iloc[0]) and two["n_tasks"].iloc[0] == 2
    with pytest.raises(LadderDataError):
        rank_correlation(v, pd.DataFrame({"task": ["a"]}))


def test_rank_correlation_takes_every_measure_of_a_variance_table(table):
    bt = pd.DataFrame({"task": table["task"], "abs_error": np.arange(len(table), dtype=float)})
    rc = rank_correlation(table, bt).set_index("measure")
    assert set(rc.index) == {m for m in MEASURES if m in table.columns}
    # the table is sorted by acc_sd, so errors rising with rank correlate perfectly with it
    assert rc.at["acc_sd", "spearman"] == pytest.approx(1.0)
