"""The bundled Pythia ladder: loads, validates, holds what shared/pythia-evals/README.md says."""

from __future__ import annotations

import runpy
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

import ladderfit
from ladderfit.data.bundled import PYTHIA_FILE, load_pythia_ladder
from ladderfit.data.schema import validate

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "src" / "ladderfit" / "data" / "bundled_data" / PYTHIA_FILE

# From shared/pythia-evals/README.md (written out here, independent of the script).
PYTHIA_N = {
    "pythia-70m": 18_915_328,
    "pythia-160m": 85_056_000,
    "pythia-410m": 302_311_424,
    "pythia-1b-deduped": 805_736_448,
    "pythia-1.4b": 1_208_602_624,
}
SIZES = {"pythia-70m": "70M", "pythia-160m": "160M", "pythia-410m": "410M", "pythia-1b-deduped": "1B",
         "pythia-1.4b": "1.4B"}
TOKENS_PER_STEP = 2_097_152
FINAL_STEP = 143_000
TASKS = {"arc_easy", "arc_challenge", "piqa", "sciq", "winogrande", "lambada_openai", "logiqa", "wsc", "mmlu"}
SINGLE_LENGTH = r"single training length"


@pytest.fixture(scope="module")
def pythia() -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=f".*{SINGLE_LENGTH}")
        return load_pythia_ladder()


def test_loads_validated_and_exported(pythia):
    assert ladderfit.load_pythia_ladder is load_pythia_ladder
    assert "load_pythia_ladder" in ladderfit.__all__
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=f".*{SINGLE_LENGTH}")
        pd.testing.assert_frame_equal(validate(pythia), pythia)
    assert list(pythia.columns) == ["run", "size", "N", "D", "step", "task", "n_items", "accuracy", "lambada_loss"]
    assert SHIPPED.stat().st_size < 50_000  # a compact derived table, not the raw files


def test_single_training_length_warns_at_the_callers_line():
    with pytest.warns(UserWarning, match=SINGLE_LENGTH) as record:
        load_pythia_ladder()
    assert any(Path(w.filename).resolve() == Path(__file__).resolve() for w in record)


def test_runs_sizes_and_parameter_counts(pythia):
    per_run = pythia.groupby("run").agg(N=("N", "first"), size=("size", "first"), n_N=("N", "nunique"))
    assert set(per_run.index) == set(PYTHIA_N)
    assert (per_run["n_N"] == 1).all()
    assert_allclose(per_run["N"].to_numpy(), [PYTHIA_N[r] for r in per_run.index], rtol=0)
    assert per_run["size"].to_dict() == SIZES


def test_tokens_follow_the_step_and_every_run_ends_at_300b(pythia):
    assert_allclose(pythia["D"], pythia["step"] * TOKENS_PER_STEP, rtol=0)
    assert (pythia["step"] > 0).all()  # step 0 (D = 0) is left out
    final = pythia.groupby("run").agg(step=("step", "max"), D=("D", "max"))
    assert (final["step"] == FINAL_STEP).all()
    assert (final["D"] == FINAL_STEP * TOKENS_PER_STEP).all()
    assert final["D"].nunique() == 1


def test_every_task_at_every_checkpoint_of_every_run(pythia):
    assert set(pythia["task"]) == TASKS
    grid = pythia.groupby(["run", "task"])["step"].apply(lambda s: tuple(sorted(s)))
    assert len(grid) == len(PYTHIA_N) * len(TASKS)
    assert grid.nunique() == 1
    assert FINAL_STEP in grid.iloc[0]
    assert not pythia.duplicated(["run", "step", "task"]).any()


def test_accuracies_and_item_counts(pythia):
    assert pythia["accuracy"].notna().all()
    assert pythia["accuracy"].between(0, 1).all()
    assert (pythia.groupby("task")["n_items"].nunique() == 1).all()
    # accuracies are fractions k / n_items: rounding kept k exact
    k = pythia["accuracy"] * pythia["n_items"]
    assert np.abs(k - np.round(k)).max() < 0.01


def test_lambada_loss_positive_shared_and_falls_with_size(pythia):
    assert (pythia["lambada_loss"] > 0).all()
    assert (pythia.groupby(["run", "step"])["lambada_loss"].nunique() == 1).all()
    final = pythia[pythia["step"] == FINAL_STEP].groupby("run").agg(N=("N", "first"), loss=("lambada_loss", "first"))
    final = final.sort_values("N")
    assert np.all(np.diff(final["loss"].to_numpy()) < 0)


def test_runs_argument(pythia):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=f".*{SINGLE_LENGTH}")
        two = load_pythia_ladder(["pythia-70m", "pythia-1.4b"])
        assert set(two["run"]) == {"pythia-70m", "pythia-1.4b"}
        with pytest.raises(KeyError, match="pythia-7b"):
            load_pythia_ladder(["pythia-7b"])
        with pytest.raises(ValueError, match="list of run names"):
            load_pythia_ladder("pythia-70m")


def test_regenerate_bundled_file(shared_dir, tmp_path, monkeypatch, capsys):
    src = shared_dir / "pythia-evals"
    if not src.exists():
        pytest.skip(f"{src} not present")
    out = tmp_path / PYTHIA_FILE
    monkeypatch.setattr(sys, "argv", ["make_pythia_data.py", "--src", str(src), "--out", str(out)])
    runpy.run_path(str(REPO / "scripts" / "make_pythia_data.py"), run_name="__main__")
    assert "1170 rows, 5 runs, 9 tasks" in capsys.readouterr().out
    fresh = pd.read_csv(out, compression="gzip")
    shipped = pd.read_csv(SHIPPED, compression="gzip")
    pd.testing.assert_frame_equal(fresh, shipped, check_exact=True)


def test_bundled_ladders_by_name():
    from ladderfit.data.readers import read_data
    from ladderfit.errors import LadderDataError

    assert read_data("bundled:pythia")["run"].nunique() == 5
    assert read_data("bundled:olmo")["run"].nunique() == 24
    with pytest.raises(LadderDataError, match="no bundled ladder 'gpt'; expected one of bundled:olmo, bundled:pythia"):
        read_data("bundled:gpt")
