"""ladderfit.data.plausibility: units and values that pass the schema but cannot be right."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import ladderfit
from ladderfit.data.plausibility import (
    MULTIPLIER_FACTOR,
    OVERRIDE,
    TOKENS_PER_PARAM,
    check_plausibility,
    plausibility_check_off,
    size_label_value,
)
from ladderfit.data.schema import validate
from ladderfit.data.targets import TARGET_RANGE
from ladderfit.errors import LadderDataError, LadderDataWarning


def ladder(sizes=(1e8, 2e8, 4e8, 8e8), mults=(1, 2, 4), tasks=("piqa", "arc_easy"), n_ckpt=4, batch=None):
    """A plausible ladder with a multiplier column; ``batch`` tokens per step (default: 6 steps per run)."""
    rows = []
    for N in sizes:
        for m in mults:
            total = 20 * N * m
            per_step = batch or total / 600
            for k in range(1, n_ckpt + 1):
                D = total * k / n_ckpt
                for task in tasks:
                    loss = 0.8 + 30 / N**0.2 + 40 / D**0.15
                    acc = 0.5 + 0.4 / (1 + np.exp(4 * (loss - 1.2)))
                    rows.append({"run": f"{N / 1e6:g}M-{m}xC", "size": f"{N / 1e6:g}M", "multiplier": float(m),
                                 "N": N, "D": D, "step": int(round(D / per_step)), "task": task,
                                 "accuracy": acc, "task_loss": loss})
    return pd.DataFrame(rows)


def quiet(df, only_plausibility=False, **kwargs):
    """Validate with warnings as errors (only LadderDataWarning, with ``only_plausibility``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore" if only_plausibility else "error")
        warnings.simplefilter("error", LadderDataWarning)
        return validate(df, **kwargs)


def scaled(df, runs, col, factor):
    df = df.copy()
    df.loc[df["run"].isin(runs), col] *= factor
    return df


# ----------------------------------------------------------------------------- real and simulated ladders pass


def test_plausible_ladders_pass_without_warnings(shared_dir):
    from ladderfit.data.bundled import PYTHIA_N, PYTHIA_TOKENS_PER_STEP
    from ladderfit.model.simulate import simulate_ladder

    quiet(ladder())
    olmo = ladderfit.load_olmo_ladder()
    quiet(olmo)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # one training length, D of step 0
        pythia = ladderfit.load_pythia_ladder()
        lm_eval = ladderfit.read_lm_eval(shared_dir / "pythia-evals", PYTHIA_N,
                                         lambda run, step: step * PYTHIA_TOKENS_PER_STEP,
                                         run=lambda path, doc: Path(path).parent.name)
    for df in (olmo, pythia, lm_eval):
        with warnings.catch_warnings():
            warnings.simplefilter("error", LadderDataWarning)
            check_plausibility(df)
    for seed in range(3):
        quiet(simulate_ladder(seed=seed).data)
        quiet(simulate_ladder(seed=seed, items=True).data)


def test_size_labels():
    assert size_label_value("190M") == 1.9e8
    assert size_label_value("pythia-1.4b") == 1.4e9
    assert size_label_value("70m") == 7e7
    assert size_label_value("A") is None and size_label_value("1xC") is None


# ----------------------------------------------------------------------------- 1. ranges, 2. tokens per parameter


def test_n_in_millions_names_the_scale():
    with pytest.raises(LadderDataError, match=r"N = 100 for run '100M-1xC' is outside the sane range .*"
                                              r"looks like millions; expected parameters, e.g. 1e\+08") as err:
        validate(ladder().assign(N=lambda d: d["N"] / 1e6))
    assert OVERRIDE in str(err.value) and "12 run(s)" in str(err.value)


def test_d_in_billions_names_the_scale():
    with pytest.raises(LadderDataError, match=r"D = 2 for run '100M-1xC' .*looks like billions; expected training "
                                              r"tokens, e.g. 2e\+09"):
        validate(ladder().assign(D=lambda d: d["D"] / 1e9))


@pytest.mark.parametrize("col", ["N", "D"])
def test_huge_values_are_out_of_range(col):
    df = ladder()
    df.loc[df["run"] == "800M-4xC", col] = 1.3e299
    with pytest.raises(LadderDataError) as err:
        validate(df)
    lo, hi = TARGET_RANGE[col]
    assert f"{col} = 1.3e+299 for run '800M-4xC' is outside the sane range [{lo:g}, {hi:g}]" in str(err.value)


def test_n_and_d_swapped_in_a_final_only_table():
    df = ladder(n_ckpt=1).drop(columns="multiplier")
    df[["N", "D"]] = df[["D", "N"]].to_numpy()
    df["size"] = "s" + df["size"]  # labels without a count: only the tokens per parameter tell
    with pytest.raises(LadderDataError, match=r"implausible tokens per parameter .* run.* '100M-1xC' \(N = 2e\+09, "
                                              r"final D = 1e\+08, D/N = 0.05\)"):
        validate(df, min_checkpoints=1)


def test_tokens_per_parameter_bounds():
    lo, hi = TOKENS_PER_PARAM
    df = ladder(n_ckpt=1).drop(columns="multiplier").assign(size=lambda d: "s" + d["size"])
    quiet(df.assign(D=df["N"] * lo * 1.01), only_plausibility=True, min_checkpoints=1)
    with pytest.raises(LadderDataError, match="tokens per parameter"):
        validate(df.assign(D=df["N"] * hi * 2), min_checkpoints=1)


def test_n_swapped_between_two_sizes():
    df = ladder()
    df.loc[df["size"] == "100M", "N"], df.loc[df["size"] == "800M", "N"] = 8e8, 1e8
    with pytest.raises(LadderDataError, match=r"sizes '100M' and '200M' have N = 8e\+08 and 2e\+08"):
        validate(df)


def test_n_far_from_its_label():
    df = ladder().assign(N=lambda d: d["N"] / 1e3)  # N in thousands: inside the range, 1000x off the labels
    with pytest.raises(LadderDataError, match=r"size '100M' has N = 1e\+05, 1/1e\+03 of its label"):
        validate(df)


# ----------------------------------------------------------------------------- 3. multiplier


def test_d_10x_beyond_the_multiplier():
    with pytest.raises(LadderDataError, match=r"runs '200M-2xC' \(multiplier 2 but D / \(20 N\) = 20\), '400M-4xC' "
                                              r"\(multiplier 4 but D / \(20 N\) = 40\).*beyond the run's length"):
        validate(scaled(ladder(), ["200M-2xC", "400M-4xC"], "D", 10))


def test_d_10x_short_of_the_multiplier():
    df = ladder(batch=1e6)  # one batch size: the short runs have 10x fewer tokens per step
    with pytest.raises(LadderDataError, match=r"'200M-2xC' \(multiplier 2 but D / \(20 N\) = 0.2\).*short of the run"):
        validate(scaled(df, ["200M-2xC", "400M-4xC"], "D", 0.1))


def test_runs_in_progress_warn():
    df = ladder(batch=1e6, n_ckpt=8)
    short = df[~((df["run"] == "200M-4xC") & (df["D"] > 20 * 2e8 * 4 / 4 * 1.01))]  # a quarter done
    with pytest.warns(LadderDataWarning, match=r"run '200M-4xC' .*runs in progress, or D too small"):
        validate(short)


def test_multiplier_within_the_factor_passes():
    quiet(scaled(ladder(), ["200M-2xC"], "D", MULTIPLIER_FACTOR * 0.9))


# ----------------------------------------------------------------------------- 4. chance, 5. trend


def test_accuracy_divided_by_100():
    with pytest.raises(LadderDataError, match=r"task 'arc_easy': 48 of 48 accuracies lie below half its chance "
                                              r"level 0.25 .*looks divided by 100, or the task is mislabelled"):
        validate(ladder().assign(accuracy=lambda d: d["accuracy"] / 100))


def test_some_accuracies_far_below_chance_warn():
    df = ladder()
    df.loc[(df["task"] == "piqa") & (df["run"] == "100M-1xC"), "accuracy"] = 0.1
    with pytest.warns(LadderDataWarning, match=r"task 'piqa': 4 of 48 accuracies lie below half its chance level 0.5"):
        validate(df)


def test_chance_column_and_chance_zero():
    df = ladder(tasks=("my_task",)).assign(chance=0.6)
    with pytest.raises(LadderDataError, match=r"task 'my_task': .* below half its chance level 0.6"):
        validate(df.assign(accuracy=0.2))
    quiet(df.assign(chance=0.0, accuracy=df["accuracy"] / 100 + 1e-3))  # no chance level: nothing to compare


def test_accuracy_falling_with_compute_warns():
    df = ladder()
    order = {r: i for i, r in enumerate(sorted(df["run"].unique(), key=lambda r: (df["N"] * df["D"])[df["run"] == r].max()))}
    df["accuracy"] = 0.9 - 0.02 * df["run"].map(order)
    with pytest.warns(LadderDataWarning, match=r"task 'arc_easy': the final accuracy falls with training compute "
                                               r"across its 12 runs \(Spearman rank correlation -0.9"):
        validate(df)


def test_task_loss_rising_with_compute_warns():
    df = ladder()
    df["task_loss"] = 2.0 + 1e-10 * df["N"]
    with pytest.warns(LadderDataWarning, match=r"final task_loss rises with training compute"):
        validate(df)


def test_too_few_runs_for_a_trend():
    df = ladder(sizes=(1e8, 2e8, 4e8), mults=(1,))
    df["accuracy"] = 0.9 - df["N"] / 1e10
    with warnings.catch_warnings():
        warnings.simplefilter("error", LadderDataWarning)
        validate(df)


# ----------------------------------------------------------------------------- 6. overrides


def test_override_by_keyword_is_remembered():
    bad = ladder().assign(N=lambda d: d["N"] / 1e6)
    out = validate(bad, check_plausibility=False)
    assert out.attrs["plausibility_check"] is False
    validate(out)  # a table read unchecked is not checked again (as a fit of it validates it)
    with pytest.raises(LadderDataError, match="looks like millions"):
        validate(out, check_plausibility=True)
    ok = validate(validate(ladder(), check_plausibility=False), check_plausibility=True)
    assert "plausibility_check" not in ok.attrs


def test_override_in_a_block():
    bad = ladder().assign(accuracy=lambda d: d["accuracy"] / 100)
    with plausibility_check_off():
        validate(bad)
    with pytest.raises(LadderDataError):
        validate(bad)


def test_readers_take_the_keyword(tmp_path):
    bad = ladder().assign(N=lambda d: d["N"] / 1e6)
    path = tmp_path / "bad.csv"
    bad.to_csv(path, index=False)
    for read in (ladderfit.read_tidy, ladderfit.read_data):
        with pytest.raises(LadderDataError, match="looks like millions"):
            read(path)
        assert read(path, check_plausibility=False)["N"].max() == 800
    wide = pd.DataFrame({"run": ["a", "b", "c"], "params": [100, 200, 400], "tokens": [2e9, 4e9, 8e9],
                         "piqa": [0.6, 0.62, 0.65]})
    with pytest.raises(LadderDataError, match="N = 100 .*looks like millions"):
        ladderfit.read_results_table(wide)
    out = ladderfit.read_results_table(wide, check_plausibility=False)
    assert out.attrs["plausibility_check"] is False and "notes" in out.attrs
