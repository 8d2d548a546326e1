"""read_results_table: per-run results tables (spreadsheet or tracker exports), wide and long."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import ladderfit
from ladderfit import read_results_table
from ladderfit.cli import main
from ladderfit.data.readers import read_data, read_tidy
from ladderfit.data.schema import REQUIRED
from ladderfit.errors import LadderDataError

# small test ladders have one training length per size; validate says so (a fit would need more)
pytestmark = pytest.mark.filterwarnings("ignore:.*single training length:UserWarning")

WIDE = """\
Run,Params,Tokens,HellaSwag,hellaswag_bpb,arc_easy_acc,ARC-Easy BPB,notes
150M-1x,151e6,3.0e9,0.31,1.21,0.48,1.05,first
150M-4x,151e6,12e9,0.34,1.15,0.52,1.00,
400M-1x,400e6,8e9,0.38,1.08,0.55,0.95,
400M-4x,400e6,32e9,0.42,1.02,0.60,0.90,x
"""

WIDE_STEPS = """\
run,step,n_params,train_tokens,piqa,piqa_loss,hellaswag,hellaswag_loss,seed
a,100,1e8,1e9,0.60,1.30,0.30,1.40,1
a,200,1e8,2e9,0.62,1.25,0.31,1.35,1
a,300,1e8,3e9,0.63,1.20,0.33,1.30,1
b,100,4e8,1e9,0.64,1.20,0.35,1.30,1
b,200,4e8,2e9,0.66,1.10,0.38,1.20,1
b,300,4e8,3e9,0.68,1.00,0.40,1.10,1
"""

LONG = """\
model,Task,acc,bpb,wandb_id
small,piqa,0.60,1.30,x1
small,arc_easy,0.45,1.10,x2
large,piqa,0.66,1.10,x3
large,arc_easy,0.55,0.95,x4
"""


def write(tmp_path, text, name="results.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


# ----------------------------------------------------------------------------- wide


def test_wide_final_only_with_aliases(tmp_path):
    df = read_results_table(write(tmp_path, WIDE))
    assert list(df.columns[: len(REQUIRED)]) == list(REQUIRED)
    assert len(df) == 8 and sorted(df["task"].unique()) == ["arc_easy", "hellaswag"]
    row = df[(df["run"] == "400M-4x") & (df["task"] == "arc_easy")].iloc[0]
    assert (row["N"], row["D"], row["step"], row["accuracy"], row["task_loss"]) == (4e8, 32e9, 0, 0.60, 0.90)
    assert sorted(df["size"].unique()) == ["151M", "400M"]
    assert df.attrs["form"] == "wide"
    assert df.attrs["unused_columns"] == ["notes"]
    assert df.attrs["final_only"] and df.attrs["tasks_without_loss"] == []
    notes = " | ".join(df.attrs["notes"])
    assert "final-only ladder" in notes and "N from column 'Params'" in notes and "D from column 'Tokens'" in notes


def test_wide_with_steps(tmp_path):
    df = read_results_table(write(tmp_path, WIDE_STEPS), form="wide")
    assert len(df) == 12 and df.groupby("run")["step"].nunique().tolist() == [3, 3]
    assert df.attrs["unused_columns"] == ["seed"] and not df.attrs["final_only"]
    assert df.loc[(df["run"] == "b") & (df["step"] == 300) & (df["task"] == "piqa"), "task_loss"].item() == 1.0


def test_wide_n_and_d_from_arguments(tmp_path):
    text = "\n".join(",".join(line.split(",")[:2] + line.split(",")[4:]) for line in WIDE_STEPS.splitlines()) + "\n"
    path = write(tmp_path, text)
    df = read_results_table(path, N={"a": 1e8, "b": 4e8}, D=lambda run, step: step * 1e7)
    assert df.groupby("run")["N"].first().to_dict() == {"a": 1e8, "b": 4e8}
    assert df.loc[df["step"] == 300, "D"].unique().tolist() == [3e9]
    notes = df.attrs["notes"]
    assert "N from the N argument" in notes and "D from the D argument" in notes
    # a mapping run -> callable(step), and a callable N
    df = read_results_table(path, N=lambda run: {"a": 1e8, "b": 4e8}[run], D={"a": lambda s: s * 1e7, "b": lambda s: s * 2e7})
    assert df.loc[(df["run"] == "b") & (df["step"] == 100), "D"].unique().tolist() == [2e9]
    # an argument wins over a column, which is then said to be unused
    df = read_results_table(write(tmp_path, WIDE_STEPS, "s.csv"), N={"a": 2e8, "b": 5e8})
    assert df.groupby("run")["N"].first().to_dict() == {"a": 2e8, "b": 5e8}
    assert "N from the N argument; column 'n_params' not used" in df.attrs["notes"]


def test_wide_metric_and_unused(tmp_path):
    text = "run,N,D,piqa_acc,piqa_acc_norm,piqa_acc_stderr\nr1,1e8,1e9,0.6,0.62,0.01\nr2,2e8,1e9,0.65,0.68,0.01\n"
    path = write(tmp_path, text)
    df = read_results_table(path)
    assert df["accuracy"].tolist() == [0.6, 0.65]
    assert df.attrs["unused_columns"] == ["piqa_acc_norm", "piqa_acc_stderr"]
    df = read_results_table(path, metric="acc_norm")
    assert df["accuracy"].tolist() == [0.62, 0.68]
    assert df.attrs["unused_columns"] == ["piqa_acc", "piqa_acc_stderr"]
    assert df.attrs["tasks_without_loss"] == ["piqa"] and "task_loss" not in df.columns


def test_tasks_without_loss_drop_task_loss_unless_selected(tmp_path):
    text = "run,N,D,piqa,piqa_bpb,arc_easy\nr1,1e8,1e9,0.6,1.2,0.4\nr2,2e8,1e9,0.65,1.1,0.45\n"
    path = write(tmp_path, text)
    df = read_results_table(path)
    assert "task_loss" not in df.columns and df.attrs["tasks_without_loss"] == ["arc_easy"]
    assert any("read tasks=['piqa'] to keep it" in n for n in df.attrs["notes"])
    df = read_results_table(path, tasks=["piqa"])
    assert df["task_loss"].tolist() == [1.2, 1.1] and df.attrs["unused_columns"] == ["arc_easy"]


def test_own_task_with_chance(tmp_path):
    text = "run,N,D,my_eval,piqa\nr1,1e8,1e9,0.3,0.6\nr2,2e8,1e9,0.35,0.65\n"
    path = write(tmp_path, text)
    assert read_results_table(path).attrs["unused_columns"] == ["my_eval"]
    df = read_results_table(path, tasks=["my_eval", "piqa"], chance={"my_eval": 0.1})
    assert df.groupby("task")["chance"].first().to_dict() == {"my_eval": 0.1, "piqa": 0.5}
    with pytest.raises(LadderDataError, match=r"unknown task name\(s\) \['my_eval'\]"):
        read_results_table(path, tasks=["my_eval"])


def test_empty_accuracy_cells_are_skipped(tmp_path):
    text = "run,N,D,piqa,arc_easy\nr1,1e8,1e9,0.6,\nr2,2e8,1e9,0.65,0.45\nr3,4e8,1e9,0.7,0.5\n"
    df = read_results_table(write(tmp_path, text))
    assert len(df) == 5
    assert any("1 empty accuracy cell(s) skipped (e.g. run 'r1', task 'arc_easy')" in n for n in df.attrs["notes"])


# ----------------------------------------------------------------------------- long


def test_long_form(tmp_path):
    path = write(tmp_path, LONG)
    df = read_results_table(path, N={"small": 1.5e8, "large": 4e8}, D={"small": 3e9, "large": 8e9})
    assert df.attrs["form"] == "long" and df.attrs["unused_columns"] == ["wandb_id"]
    assert len(df) == 4 and df["task_loss"].notna().all() and df.attrs["final_only"]
    assert df.loc[(df["run"] == "large") & (df["task"] == "arc_easy"), "accuracy"].item() == 0.55
    # with steps and N, D columns
    rows = [f"{r},{s},{n},{s * 1e7},piqa,{0.5 + s / 1e4 + (n > 2e8) / 10}" for r, n in (("a", 1e8), ("b", 4e8))
            for s in (100, 200, 300)]
    df = read_results_table(write(tmp_path, "run,step,N,D,task,accuracy\n" + "\n".join(rows) + "\n", "l.csv"), form="long")
    assert len(df) == 6 and df.attrs["tasks_without_loss"] == ["piqa"]
    # tasks= keeps a subset
    df = read_results_table(path, N={"small": 1.5e8, "large": 4e8}, D={"small": 3e9, "large": 8e9}, tasks="piqa")
    assert df["task"].unique().tolist() == ["piqa"]


def test_long_form_of_a_dataframe():
    raw = pd.DataFrame({"run": ["s", "s", "l", "l"], "task": ["piqa", "sciq"] * 2, "accuracy": [60.0, 70.0, 66.0, 80.0],
                        "params": [1e8, 1e8, 4e8, 4e8], "tokens": [2e9, 2e9, 8e9, 8e9]})
    df = read_results_table(raw, percent=True)
    assert np.allclose(sorted(df["accuracy"]), [0.6, 0.66, 0.7, 0.8])
    assert "accuracy given in percent; divided by 100" in df.attrs["notes"]
    assert raw["accuracy"].tolist() == [60.0, 70.0, 66.0, 80.0]  # the caller's frame is untouched


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "text, kwargs, culprits",
    [
        ("run,D,piqa\nr1,1e9,0.6\nr2,1e9,0.7\n", {}, ["no N for the runs", "params", "N="]),
        ("run,N,D,piqa\nr1,1e8,1e9,0.6\nr2,,1e9,0.7\n", {}, ["run 'r2' has no N"]),
        ("run,N,piqa\nr1,1e8,0.6\nr2,2e8,0.7\n", {"D": {"r1": 1e9}}, ["run 'r2' has no D"]),
        ("run,piqa\nr1,0.6\nr2,0.7\n", {"N": {"r1": 1e8}, "D": {"r1": 1e9, "r2": 1e9}}, ["run 'r2' has no N"]),
        ("run,N,D,piqa\nr1,1e8,1e9,0.6\nr2,2e8,1e9,n/a?\n", {}, ["column 'piqa' must be numeric", "run 'r2'", "'n/a?'"]),
        ("run,N,D,piqa\nr1,1e8,1e9,60%\nr2,2e8,1e9,70%\n", {}, ["column 'piqa'", "percent sign"]),
        ("run,N,D,piqa\nr1,1e8,1e9,61.5\nr2,2e8,1e9,70\n", {}, ["column 'piqa'", "looks like percent; divide by 100",
                                                                  "percent=True", "run 'r1'"]),
        ("run,N,D,piqa\nr1,1e8,1e9,-0.2\nr2,2e8,1e9,0.7\n", {}, ["column 'piqa' must lie in [0, 1]", "run 'r1'"]),
        ("run,N,D,piqa\nr1,1e8,1e9,0.6\nr2,2e8,1e9,0.7\n", {"percent": True}, ["percent=True but every accuracy is <= 1"]),
        ("run,N,D,piqa,piqa_bpb\nr1,1e8,1e9,0.6,x\nr2,2e8,1e9,0.7,1\n", {}, ["column 'piqa_bpb'", "task_loss of task 'piqa'"]),
        ("run,N,D,piqa\nr1,1e8,1e9,0.6\nr1,1e8,2e9,0.7\n", {}, ["run 'r1' has 2 rows", "no step column"]),
        ("name_of_run,N,D,piqa\nr1,1e8,1e9,0.6\n", {}, ["no run column 'run'", "run_column="]),
        ("run,N,D,foo,bar\nr1,1e8,1e9,0.6,1\n", {}, ["neither a long results table", "foo, bar"]),
        ("run,N,D,piqa\nr1,1e8,1e9,0.6\n", {"tasks": ["hellaswag"]}, ["no accuracy column for task(s) ['hellaswag']"]),
        ("run,N,D,piqa\n", {}, ["header but no rows"]),
    ],
)
def test_errors_name_the_culprit(tmp_path, text, kwargs, culprits):
    path = write(tmp_path, text, "bad.csv")
    with pytest.raises(LadderDataError) as err:
        read_results_table(path, **kwargs)
    msg = str(err.value)
    assert msg.startswith(f"{path}:"), msg
    for word in culprits:
        assert word in msg, f"{word!r} not in {msg!r}"


def test_missing_n_or_d_dropped_on_request(tmp_path):
    text = "run,N,D,piqa\nr1,1e8,1e9,0.6\nr2,,1e9,0.7\nr3,4e8,1e9,0.75\n"
    df = read_results_table(write(tmp_path, text), missing_nd="drop")
    assert sorted(df["run"].unique()) == ["r1", "r3"] and df.attrs["runs_without_N_D"] == ["r2"]


def test_bad_arguments():
    with pytest.raises(ValueError, match="form"):
        read_results_table(pd.DataFrame({"run": ["a"]}), form="tall")
    with pytest.raises(ValueError, match="metric"):
        read_results_table(pd.DataFrame({"run": ["a"]}), metric="f1")


# ----------------------------------------------------------------------------- read_data, fit input, CLI


def test_read_data_reads_results_tables_only_when_asked(tmp_path):
    path = write(tmp_path, WIDE)
    with pytest.raises(LadderDataError, match=r"reads as a wide results table.*read_results_table.*--form wide"):
        read_data(path)
    assert len(read_data(path, form="wide")) == 8
    with pytest.raises(LadderDataError, match="give its path"):
        read_data(None, form="wide")


def test_a_final_only_table_passes_the_fit_input_check(tmp_path):
    df = read_results_table(write(tmp_path, WIDE))
    pd.testing.assert_frame_equal(read_data(df), df)  # what fit(df) reads first
    with pytest.raises(LadderDataError, match=r"1 checkpoint\(s\)"):  # a run evaluated once among longer runs
        read_tidy(pd.concat([df, df[df["run"] == "150M-1x"].assign(step=5, D=4e9)]).query("run != '150M-4x'"))
    assert ladderfit.read_results_table is read_results_table


def test_cli_summary_reports_what_it_could_not_use(tmp_path, capsys):
    # hellaswag without its loss column, and a run without N
    text = "\n".join(",".join(p for i, p in enumerate(line.split(",")) if i != 7) for line in WIDE_STEPS.splitlines())
    text += "\nc,100,,1e9,0.6,1.3,0.3,1\n"
    path = write(tmp_path, text)
    assert main(["data", "summary", "--data", str(path), "--form", "wide"]) == 0
    out = capsys.readouterr().out
    assert "2 runs, 2 sizes, 2 tasks" in out
    assert "unused columns: seed" in out
    assert "runs without N or D (left out): c" in out
    assert "tasks without a loss column: hellaswag" in out
    path = write(tmp_path, WIDE, "final.csv")
    assert main(["data", "summary", "--data", str(path), "--form", "auto"]) == 0
    out = capsys.readouterr().out
    assert "runs with one evaluation only: all runs (a final-only ladder)" in out
    assert "unused columns: notes" in out and "tasks without a loss column: none" in out


def test_cli_summary_without_form_names_the_option(tmp_path, capsys):
    path = write(tmp_path, WIDE)
    assert main(["data", "summary", "--data", str(path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "--form wide" in err and "results.csv" in err
    assert main(["data", "summary", "--data", str(write(tmp_path, "run,N,D,piqa\nr1,1e8,1e9,55\n", "p.csv")),
                 "--form", "wide"]) == 2
    err = capsys.readouterr().err
    assert "p.csv" in err and "column 'piqa'" in err and "looks like percent" in err
