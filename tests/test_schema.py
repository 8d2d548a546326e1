"""validate(): every kind of bad input gives a LadderDataError naming the column and value."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from ladderfit.data.schema import LOSS_COLUMNS, LadderDataError, validate


def table() -> pd.DataFrame:
    """A small valid table: 2 runs x 3 checkpoints x 2 tasks, rows deliberately unsorted."""
    rows = []
    for run, size, n in (("B-1xC", "B", 2e8), ("A-1xC", "A", 1e8)):
        for step in (30, 10, 20):
            for task in ("piqa", "hellaswag"):
                rows.append({"run": run, "size": size, "N": n, "D": step * 1e8, "step": step, "task": task,
                             "accuracy": 0.3 + step / 100, "task_loss": 2.0 - step / 100})
    return pd.DataFrame(rows)


def bad(col, value, row=0, df=None):
    df = table() if df is None else df
    df[col] = df[col].astype(object)
    df.loc[row, col] = value
    return df


def test_valid_table_is_cleaned_and_sorted():
    out = validate(table())
    assert out[["run", "task", "step"]].values.tolist()[:3] == [["A-1xC", "hellaswag", 10], ["A-1xC", "hellaswag", 20],
                                                                 ["A-1xC", "hellaswag", 30]]
    assert out["step"].dtype == np.int64 and out["N"].dtype == float
    # numbers given as strings are converted
    out = validate(table().astype({"N": str, "accuracy": str}))
    assert out["N"].dtype == float


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: table().drop(columns="accuracy"), r"missing required column 'accuracy' \(columns found: run, size"),
        (lambda: table().rename(columns={"accuracy": "acuracy"}), r"missing required column 'accuracy'; did you mean 'acuracy'\?"),
        (lambda: table().rename(columns={"step": "Step"}), r"missing required column 'step'; did you mean 'Step'\?"),
        (lambda: bad("N", "abc", row=3), r"column 'N' must be numeric; row 3 \(run 'B-1xC', step 10, task 'hellaswag'\): N='abc'; 1 bad value\(s\) in all"),
        (lambda: bad("task_loss", "1.2.3"), r"column 'task_loss' must be numeric; .*task_loss='1.2.3'"),
        (lambda: bad("accuracy", np.nan), r"column 'accuracy' must be finite \(no NaN or inf\); row 0 .*accuracy=nan"),
        (lambda: bad("D", np.inf), r"column 'D' must be finite \(no NaN or inf\); .*D=inf"),
        (lambda: bad("task_loss", -np.inf), r"column 'task_loss' must be finite .*task_loss=-inf"),
        (lambda: bad("accuracy", 1.5), r"column 'accuracy' must lie in \[0, 1\] \(a fraction, not percent\); .*accuracy=1.5"),
        (lambda: bad("accuracy", 65.0), r"column 'accuracy' must lie in \[0, 1\].*accuracy=65.0"),
        (lambda: bad("accuracy", -0.1), r"column 'accuracy' must lie in \[0, 1\].*accuracy=-0.1"),
        (lambda: bad("N", 0.0), r"column 'N' must be > 0; .*N=0.0"),
        (lambda: bad("D", -5.0), r"column 'D' must be > 0; .*D=-5.0"),
        (lambda: bad("task_loss", 0.0), r"column 'task_loss' must be > 0; .*task_loss=0.0"),
        (lambda: table().assign(lambada_loss=-1.0), r"column 'lambada_loss' must be > 0"),
        (lambda: bad("step", 2.5), r"column 'step' must hold non-negative integers; .*step=2.5"),
        (lambda: bad("step", -1), r"column 'step' must hold non-negative integers; .*step=-1"),
        (lambda: bad("run", None), r"column 'run' has missing values: row 0 .*run=None"),
        (lambda: bad("task", "hellaswagg"), r"unknown task name\(s\) \['hellaswagg'\] in column 'task'; expected one of .*hellaswag.*or add a 'chance' column"),
        (lambda: table().assign(chance=1.0), r"column 'chance' must lie in \[0, 1\); .*chance=1.0"),
        (lambda: bad("N", 5e8), r"column 'N' must take one value per run; run 'B-1xC' has \[200000000.0, 500000000.0\]"),
        (lambda: bad("size", "Z"), r"column 'size' must take one value per run; run 'B-1xC' has \['B', 'Z'\]"),
        (lambda: pd.concat([table(), table().iloc[[4]]]), r"duplicate \(run, step, task\) rows; expected one row each: .*run 'B-1xC', step 20, task 'piqa'"),
        (lambda: table().query("step == 10 or run == 'B-1xC'"), r"run 'A-1xC' \(task 'hellaswag'\) has 1 checkpoint\(s\); expected at least 2 per run"),
        (lambda: table().iloc[:0], r"the table is empty; expected one row per \(run, checkpoint, task\)"),
        (lambda: table().to_dict("list"), r"expected a pandas DataFrame, got dict"),
        (lambda: table().values, r"expected a pandas DataFrame, got ndarray"),
    ],
)
def test_bad_input(make, message):
    with pytest.raises(LadderDataError, match=r"^my.csv: " + message):
        validate(make(), source="my.csv")


def test_chance_column_allows_a_new_task():
    df = table().replace({"task": {"hellaswag": "my_task"}})
    with pytest.raises(LadderDataError, match=r"unknown task name\(s\) \['my_task'\]"):
        validate(df)
    out = validate(df.assign(chance=np.where(df["task"] == "my_task", 0.1, 0.5)))
    assert set(out["task"]) == {"my_task", "piqa"}


def test_min_checkpoints_and_require():
    one = table().query("step == 10")
    assert len(validate(one, min_checkpoints=1)) == 4
    with pytest.raises(LadderDataError, match=r"missing required column 'c4_loss'"):
        validate(table(), require=("c4_loss",))
    assert "lambada_loss" in LOSS_COLUMNS
    assert len(validate(table().assign(lambada_loss=3.0), require=("lambada_loss",))) == len(table())


@pytest.mark.parametrize(
    "make",
    [table, lambda: table().astype({"N": str}), lambda: bad("accuracy", np.nan), lambda: bad("N", "abc"),
     lambda: table().rename(columns={0: "x"}).set_axis([*table().columns[:-1], 7], axis=1)],
)
def test_caller_frame_never_modified(make):
    df = make()
    before = copy.deepcopy(df)
    try:
        validate(df)
    except LadderDataError:
        pass
    pd.testing.assert_frame_equal(df, before)
    assert df.columns.tolist() == before.columns.tolist()
