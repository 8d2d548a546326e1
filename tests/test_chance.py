"""Tasks at chance on a ladder (:mod:`ladderfit.model.chance`): named from the data, no sampling."""

import numpy as np
import pytest

import ladderfit
from ladderfit.model.chance import AT_CHANCE_SDS, tasks_at_chance
from ladderfit.model.inputs import build_model_data
from ladderfit.model.spec import as_spec

SMALL_CORNER = ["190M-1xC", "190M-2xC", "370M-1xC", "370M-2xC"]


def _at_chance(runs=None):
    df = ladderfit.load_olmo_ladder()
    df = df[df["run"].isin(runs or ladderfit.data.bundled.default_runs(df))]
    return df, tasks_at_chance(build_model_data(df, as_spec("single_step")))


def test_the_small_corner_shows_three_tasks_at_chance_the_paper_ladder_none():
    df, table = _at_chance(SMALL_CORNER)
    assert sorted(table.loc[table["at_chance"], "task"]) == ["arc_challenge", "openbookqa", "winogrande"]
    # by hand for Winogrande (1,267 items, chance 1/2): the best of the fit's final points (each
    # run's mean of its last evaluations), in binomial sds above chance
    md = build_model_data(df, as_spec("single_step"))
    best = md.s1_acc[md.s1_task == list(md.tasks).index("winogrande")].max()
    row = table.set_index("task").loc["winogrande"]
    assert row["chance"] == 0.5 and row["n_items"] == 1267 and row["best_accuracy"] == best
    assert row["sds_above_chance"] == pytest.approx((best - 0.5) / np.sqrt(0.25 / 1267))
    assert 0.50 < row["best_accuracy"] < 0.5 + AT_CHANCE_SDS * np.sqrt(0.25 / 1267)
    assert not table["at_chance"].where(table["task"] == "hellaswag", False).any()
    _, full = _at_chance()
    assert not full["at_chance"].any() and (full["sds_above_chance"] > AT_CHANCE_SDS).all()


def test_the_threshold_is_the_callers():
    _, table = _at_chance(SMALL_CORNER)
    z = table.set_index("task")["sds_above_chance"]
    loose = tasks_at_chance(build_model_data(_at_chance(SMALL_CORNER)[0], as_spec("two_step")), sds=z["mmlu"] + 0.01)
    assert set(loose.loc[loose["at_chance"], "task"]) == set(z[z < z["mmlu"] + 0.01].index)


def test_a_task_without_guessing_is_at_chance_only_at_zero():
    df, _ = _at_chance(SMALL_CORNER)
    md = build_model_data(df.assign(chance=np.where(df["task"] == "piqa", 0.0, df["task"].map(
        lambda t: ladderfit.data.tasks.task_value(df, t, "chance")))), as_spec("single_step"))
    with np.errstate(all="raise"):  # no division by a zero sd
        row = tasks_at_chance(md).set_index("task").loc["piqa"]
    assert row["sds_above_chance"] == np.inf and not row["at_chance"]
