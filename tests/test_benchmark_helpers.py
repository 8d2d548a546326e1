"""Helpers of the benchmark scripts whose logic decides a reported result: the nested choice of
``benchmarks/prior_selection.py`` (no variant chosen on a truth it is scored on) and the cell
rounding of ``benchmarks/results_io.py``; the table of grids at other first targets of
``benchmarks/sampler_grid.py``; the records of ``benchmarks/gpu_check.py``, the commit of a tree without its git folder and
the import times and importers read by ``benchmarks/import_time.py``."""

import importlib
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
prior_selection = importlib.import_module("prior_selection")
results_io = importlib.import_module("results_io")
sampler_grid = importlib.import_module("sampler_grid")
gpu_check = importlib.import_module("gpu_check")


def _table(crps: dict) -> pd.DataFrame:
    """A scored table: one row per (hold-out, run, task) with its CRPS."""
    rows = [{"holdout": h, "run": r, "task": t, "crps": c} for (h, r, t), c in crps.items()]
    return pd.DataFrame(rows)


def test_selection_never_uses_the_scored_runs_truth():
    """Variant b wins on the truth of run r1 only: a choice that looked at r1 would take b for r1's
    pairs; the nested rule takes a there (best on the other hold-outs' other runs)."""
    keys = [("h1", "r1", "t"), ("h2", "r1", "t"), ("h2", "r2", "t"), ("h3", "r3", "t")]
    a = {k: 1.0 for k in keys}
    b = {k: (0.1 if k[1] == "r1" else 2.0) for k in keys}
    selected, chosen = prior_selection.select({"a": _table(a), "b": _table(b)}, fallback=None)
    by = {(c["holdout"], c["run"]): c["variant"] for c in chosen}
    assert by[("h1", "r1")] == "a" and by[("h2", "r1")] == "a"  # in sample, b (0.1) would win them
    assert by[("h3", "r3")] == "b"  # r1's truth is another run's here: b is fairly the better (0.73 vs 1)
    assert len(selected) == len(keys)
    assert selected.loc[selected["run"] == "r1", "crps"].tolist() == [1.0, 1.0]


def test_selection_falls_back_where_no_other_run_is_left():
    keys = [("h1", "big", "t"), ("h2", "big", "t")]  # both hold-outs predict the same run
    tables = {"a": _table({k: 1.0 for k in keys}), "b": _table({k: 0.5 for k in keys})}
    _, chosen = prior_selection.select(tables, fallback="a")
    assert {c["variant"] for c in chosen} == {"a"}


def test_cell_rounds_and_blanks():
    assert results_io.cell(True) == "yes" and results_io.cell(np.bool_(False)) == "no"
    assert results_io.cell(np.int64(3)) == 3 and isinstance(results_io.cell(np.int64(3)), int)
    assert results_io.cell(0.123456) == 0.123 and results_io.cell(0.5, 100, 1) == 50.0
    assert results_io.cell(1.23456, digits=2) == 1.23
    assert results_io.cell(float("nan")) is None and results_io.cell(None) is None
    assert results_io.cell(math.inf, 100, 1) is None and results_io.cell("x") == "x"


def test_chance_summary_splits_the_pairs_by_the_holdouts_own_flags():
    """A task at chance in one hold-out and not in another is counted on each side accordingly
    (the table's ``at_chance``, per hold-out and task)."""
    from ladderfit.analysis.calibration import calibration_columns

    calibration = importlib.import_module("calibration")
    rows = []
    for h, task, d, actual in [("h1", "a", 2.0, 0.9), ("h1", "b", 2.0, 0.5), ("h2", "a", 0.3, 0.5), ("h2", "b", 0.3, 0.5)]:
        rows.append({c: 0.0 for c in calibration_columns()} | {
            "holdout": h, "run": "r", "task": task, "distance": d, "actual": actual, "median": 0.5,
            **{f"{s}_{lev}": 0.5 + (0.1 if s == "upper" else -0.1) for lev in (50, 80, 90, 95) for s in ("lower", "upper")},
            "model": "m", "bin": "", "converged": True, "at_chance": (h, task) == ("h1", "a")})  # fmt: skip
    table = pd.DataFrame(rows)
    out = pd.DataFrame(calibration.chance_summary(table, ("n", "coverage_90", "above_median")))
    at = out[out["at_chance"]].set_index("bin")
    assert list(at.index) == ["far", "all"] and at.loc["far", "n"] == 1 and at.loc["far", "which"] == "h1:a"
    assert at.loc["far", "coverage_90"] == 0.0 and at.loc["far", "above_median"] == 1.0  # 0.9 above [0.4, 0.6]
    rest = out[~out["at_chance"]].set_index("bin")
    assert rest.loc["all", "n"] == 3 and rest.loc["near", "n"] == 2 and rest.loc["far", "coverage_90"] == 1.0
    assert rest["which"].isna().all()


def test_grids_at_other_targets_count_a_fit_sampled_again_by_its_kept_target():
    """A fit kept at a target above its file's first was sampled again; per file and structure,
    the median steps per draw is the middle fit's, the draws and seconds sum; a file without a
    first target in its settings (the defaults' grid) takes its fits' lowest."""
    def fit(model, target, steps, goals=True):
        return {"model": model, "target_accept": target, "goals_met": goals, "steps_per_draw": steps,
                "draws": 500, "seconds": 10.0}

    at_08 = {"commit": "abc", "settings": {"target_accept": 0.8},
             "fits": [fit("single_step", 0.8, 30), fit("single_step", 0.99, 110), fit("single_step", 0.99, 120, False),
                      fit("two_step", 0.8, 60)]}
    default = {"commit": "def", "settings": {}, "fits": [fit("single_step", 0.95, 47), fit("single_step", 0.99, 112)]}
    rows = sampler_grid.combined_rows({"a": at_08, "d": default})
    assert [(r["file"], r["model"], r["target_accept"]) for r in rows] == [
        ("a", "single_step", 0.8), ("a", "two_step", 0.8), ("d", "single_step", 0.95)]
    assert [r["fits_sampled_again"] for r in rows] == [2, 0, 1]
    assert [r["fits_missing_goals"] for r in rows] == [1, 0, 0]
    assert [r["median_steps_per_draw"] for r in rows] == [110, 60, 112]
    assert rows[0]["draws_in_all"] == 1500 and rows[0]["seconds_in_all"] == 30.0 and rows[2]["commit"] == "def"


def test_gpu_check_records_have_every_column_in_order():
    """A row without fit diagnostics (the CLI's, a scale fit stopped at its limit) gets every
    column, None where it has no value, so the results file's records share their keys."""
    rows = [{"what": "fit", "seconds": 1.5, "divergences": 0, "converged": True},
            {"what": "cli", "seconds": 2.0, "converged": False, "note": "stopped after 200 s"}]
    recs = gpu_check.records(rows)
    assert [list(r) for r in recs] == [gpu_check.COLUMNS, gpu_check.COLUMNS]
    assert recs[0]["divergences"] == 0 and recs[0]["note"] is None
    assert recs[1]["min_ess_bulk"] is None and recs[1]["note"] == "stopped after 200 s"


def test_results_name_the_commit_given_where_git_has_none(tmp_path, monkeypatch):
    """On a copy of the tree without ``.git`` (a lent GPU machine), the commit comes from
    LADDERFIT_COMMIT, else '?'; it is never an empty string."""
    import json
    import subprocess

    monkeypatch.setattr(results_io, "ROOT", tmp_path)
    (tmp_path / "benchmarks").mkdir()
    real_run = subprocess.run

    def no_git(cmd, **kw):
        return real_run(["false"], **kw) if cmd[0] == "git" else real_run(cmd, **kw)

    monkeypatch.setattr(subprocess, "run", no_git)
    monkeypatch.setenv("LADDERFIT_COMMIT", "abc1234")
    assert json.loads(results_io.write_results("x", {"summary": []}).read_text())["commit"] == "abc1234"
    monkeypatch.delenv("LADDERFIT_COMMIT")
    assert json.loads(results_io.write_results("x", {"summary": []}).read_text())["commit"] == "?"


def test_import_time_reads_the_cumulative_seconds_of_exactly_the_module():
    """``benchmarks/import_time.py`` takes a module's cumulative time from ``python -X importtime``:
    its own line, not a submodule's or a package's of the same prefix; None where it is absent."""
    import_time = importlib.import_module("import_time")
    stderr = ("import time: self [us] | cumulative | imported package\n"
              "import time:       451 |     717852 |   ml_dtypes._finfo\n"
              "import time:    716120 |     716120 |     ml_dtypes._ml_dtypes_ext\n"
              "import time:      1101 |    1158907 | jax\n")
    assert import_time.cumulative_seconds(stderr, "ml_dtypes._ml_dtypes_ext") == 0.71612
    assert import_time.cumulative_seconds(stderr, "jax") == 1.158907
    assert import_time.cumulative_seconds(stderr, "ml_dtypes") is None


def test_import_time_names_the_module_that_imported_a_package_first():
    """``import_time.py --predict``: children are printed before their importer, one level deeper;
    a package's importer is passed over its own submodule (``import a.b`` imports ``a`` first)."""
    import_time = importlib.import_module("import_time")
    stderr = ("import time: self [us] | cumulative | imported package\n"
              "import time:       300 |        300 |         scipy._lib\n"
              "import time:      2000 |       2300 |       scipy.fft\n"
              "import time:       100 |       2400 |     numpyro.diagnostics\n"
              "import time:        50 |         50 |       jax.extend\n"
              "import time:        20 |         70 |     jax.extend.core\n"
              "import time:        10 |         80 |   numpyro.ops.provenance\n"
              "import time:       500 |       2980 | numpyro\n"
              "import time:        40 |       3020 | ladderfit.model.bayes\n")
    lines = import_time.import_lines(stderr)
    assert [(name, depth) for name, depth, _, _ in lines][:3] == [("scipy._lib", 4), ("scipy.fft", 3),
                                                                 ("numpyro.diagnostics", 2)]
    assert lines[1][2:] == (0.002, 0.0023)
    by_name = {line[0]: i for i, line in enumerate(lines)}
    assert import_time._importer(lines, by_name["scipy.fft"]) == "numpyro.diagnostics"
    assert import_time._importer(lines, by_name["jax.extend"]) == "numpyro.ops.provenance"
    assert import_time._importer(lines, by_name["ladderfit.model.bayes"]) == "-"
