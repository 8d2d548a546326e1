"""Calibration at every distance: nested hold-outs, distances, the table, its summary, figures, CLI.

One real calibration (2 tasks, 2 hold-outs, 1 chain of 80 + 40 iterations: ~20 s, mostly JIT
compilation) is shared by the module; its fits do not converge, by design: only the plumbing
is tested here. The CLI reuses one of its fits instead of sampling again.
"""

from __future__ import annotations

import warnings

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import ladderfit  # noqa: E402
from ladderfit import LadderDataError, load_olmo_ladder  # noqa: E402
from ladderfit.analysis.backtest import default_pool, run_table  # noqa: E402
from ladderfit.analysis.calibration import (  # noqa: E402
    CALIBRATION_COLUMNS,
    bootstrap_by_run,
    NESTED_HOLDOUTS,
    calibration,
    distance_beyond,
    distance_bin,
    format_by_task,
    format_calibration,
    nested_holdouts,
    pit_counts,
    read_calibration,
    score_holdout,
    summarize_by_task,
    summarize_by_chance,
    format_by_chance,
    summarize_calibration,
)
from ladderfit.cli import main  # noqa: E402
from ladderfit.model.spec import DEFAULT_MODEL  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # tiny fits do not converge

TASKS = ["arc_easy", "hellaswag"]
TINY = {"chains": 1, "warmup": 80, "draws": 40, "max_tree_depth": 5}
SMALL = ["190M-1xC", "190M-2xC", "370M-1xC", "370M-2xC"]
REST = ["190M-5xC", "190M-10xC", "370M-5xC", "370M-10xC", "760M-1xC", "760M-2xC", "760M-5xC", "760M-10xC",
        "1B-1xC", "1B-2xC", "1B-5xC", "1B-10xC"]  # fmt: skip
BOUNDS = [c for c in CALIBRATION_COLUMNS if c.startswith(("lower_", "upper_"))]


@pytest.fixture(scope="module")
def ladder() -> pd.DataFrame:
    return load_olmo_ladder()


@pytest.fixture(scope="module")
def real(ladder):
    """One tiny calibration of two hold-outs; the score hook records what it was given."""
    calls = []

    def recording_score(fit, truth, distance, levels, discrepancy):
        calls.append({"fit": fit, "distance": distance.copy(), "levels": levels, "discrepancy": discrepancy})
        return score_holdout(fit, truth, distance, levels, discrepancy)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = calibration(ladder, holdouts=["largest_size", "small_corner"], tasks=TASKS, fit_options=TINY,
                            seed=1, score=recording_score)  # fmt: skip
    return table, calls


def _hand_table() -> pd.DataFrame:
    """Six pairs, two per distance bin, with the same quantiles and truths placed by hand."""
    q = {"median": 0.50, "lower_50": 0.45, "upper_50": 0.55, "lower_80": 0.40, "upper_80": 0.60,
         "lower_90": 0.35, "upper_90": 0.65, "lower_95": 0.30, "upper_95": 0.70}  # fmt: skip
    rows = [(0.0, 0.50), (0.5, 0.42), (0.7, 0.36), (1.5, 0.65), (2.0, 0.75), (3.0, 0.30)]
    t = pd.DataFrame([{"holdout": "h", "run": f"r{i}", "task": "t", "N": 1e9, "D": 1e10, "distance": d, "actual": y,
                       **q, "crps": 0.01 * (i + 1), "log_score": float(i), "model": "two_step", "bin": "",
                       "converged": True, "fit_seconds": 1.0, "at_chance": False}
                      for i, (d, y) in enumerate(rows)])  # fmt: skip
    t["bin"] = distance_bin(t["distance"])
    return t[list(CALIBRATION_COLUMNS)]


# ----------------------------------------------------------------------------- rules and distances (no fitting)


def test_rules_resolve_on_the_bundled_ladder(ladder):
    splits, skipped = nested_holdouts(ladder, default_pool(ladder))
    assert list(splits) == list(NESTED_HOLDOUTS) and skipped == {}
    sizes = {s: [f"{s}-{m}xC" for m in (1, 2, 5, 10)] for s in ("190M", "370M", "760M", "1B")}
    mult = {m: [f"{s}-{m}xC" for s in ("190M", "370M", "760M", "1B")] for m in (1, 2, 5, 10)}
    assert splits["largest_size"].held == sizes["1B"]
    assert splits["largest_size"].train == sizes["190M"] + sizes["370M"] + sizes["760M"]
    assert splits["two_largest_sizes"].held == sizes["760M"] + sizes["1B"]
    assert set(splits["largest_multiplier"].held) == set(mult[10]) and len(splits["largest_multiplier"].train) == 12
    assert set(splits["two_largest_multipliers"].train) == set(mult[1] + mult[2])
    assert set(splits["corner"].train) == {f"{s}-{m}xC" for s in ("190M", "370M", "760M") for m in (1, 2, 5)}
    assert set(splits["corner"].held) == set(mult[10] + sizes["1B"])
    assert splits["small_corner"].train == SMALL and splits["small_corner"].held == REST
    for train, held in splits.values():  # every rule splits the pool in two
        assert not set(train) & set(held) and set(train) | set(held) == set(default_pool(ladder))


def test_rules_that_do_not_apply_are_skipped_with_a_note(ladder):
    # a Pythia-like ladder: five sizes, one length each, no multiplier
    pythia = pd.DataFrame({"run": ["70m", "160m", "410m", "1b", "1.4b"], "N": [7e7, 1.6e8, 4.1e8, 1e9, 1.4e9],
                           "D": [3e11] * 5})  # fmt: skip
    splits, skipped = nested_holdouts(pythia)
    assert splits["largest_size"] == (["70m", "160m", "410m", "1b"], ["1.4b"])
    assert splits["two_largest_sizes"].held == ["1b", "1.4b"]
    assert set(skipped) == {"largest_multiplier", "two_largest_multipliers", "corner", "small_corner"}
    assert all("multiplier" in why for why in skipped.values())
    _, one = nested_holdouts(pythia.assign(multiplier=1.0), rules=["corner"])
    assert one == {"corner": "the ladder has one multiplier value only"}
    _, two = nested_holdouts(pythia[pythia["run"].isin(["70m", "160m"])], rules=["largest_size", "two_largest_sizes"])
    assert "2 sizes" in two["largest_size"] and "0 training run(s)" in two["two_largest_sizes"]
    with pytest.raises(LadderDataError, match="unknown hold-out rule"):
        nested_holdouts(pythia, rules=["largest_size", "biggest"])
    # calibration says which rules it skipped, and fails clearly when none is left (before any fit)
    with pytest.raises(LadderDataError, match="no hold-out could be scored: corner: the ladder has one multiplier"):
        calibration(ladder[ladder["multiplier"] == 1], runs=["190M-1xC", "370M-1xC", "1B-1xC"], holdouts="corner")


def test_distance_is_the_hand_computation(ladder):
    runs = run_table(ladder)
    train = runs[runs["run"].isin(SMALL)]  # largest N: 370M; largest final D: 370M-2xC
    far = runs[runs["run"] == "1B-10xC"]
    n, d = far[["N", "D"]].iloc[0]
    n_max, d_max = train["N"].max(), train["D"].max()
    assert d_max == runs.loc[runs["run"] == "370M-2xC", "D"].iloc[0]
    want = np.sqrt(np.log(n / n_max) ** 2 + np.log(d / d_max) ** 2)
    assert distance_beyond(far, train)[0] == pytest.approx(want) and want == pytest.approx(3.10, abs=0.01)
    # beyond the hull's 370M edge (N only); beyond its 2xC edge, a line of slope 1 in (log N, log D),
    # though inside the box of the largest N and D (the old definition gave 0.25); and on the hull
    mid = runs[runs["run"].isin(["760M-0.5xC", "190M-5xC", "190M-1xC", "370M-1xC-rerun"])].set_index("run")
    got = dict(zip(mid.index, distance_beyond(mid, train)))
    assert got["760M-0.5xC"] == pytest.approx(np.log(mid.loc["760M-0.5xC", "N"] / n_max))
    d_2x = runs.loc[runs["run"] == "190M-2xC", "D"].iloc[0]
    assert got["190M-5xC"] == pytest.approx(np.log(mid.loc["190M-5xC", "D"] / d_2x) / np.sqrt(2), rel=1e-3)  # slope ~1
    assert got["190M-5xC"] == pytest.approx(0.648, abs=0.001)
    assert got["190M-1xC"] == 0.0 and got["370M-1xC-rerun"] == 0.0
    assert list(distance_bin([0.0, 0.69, 0.7, 1.5, 1.51])) == ["near", "near", "mid", "mid", "far"]
    # the README's figures: the 1B rung beyond 190M-760M, and the paper's targets beyond the 16 runs
    from ladderfit.data.targets import as_targets

    paper = runs[runs["run"].isin(default_pool(ladder))]
    rung = distance_beyond(paper[paper["N"] == paper["N"].max()], paper[paper["N"] < paper["N"].max()])
    assert rung.min() == pytest.approx(0.52, abs=0.01) and rung.max() == pytest.approx(0.74, abs=0.01)
    assert distance_beyond(as_targets(["7B-4T", "13B-5T"]), paper) == pytest.approx([3.2, 3.8], abs=0.05)


# ----------------------------------------------------------------------------- the table (one real calibration)


def test_calibration_table(real, ladder):
    table, calls = real
    assert list(table.columns) == list(CALIBRATION_COLUMNS)
    assert len(table) == len(TASKS) * (4 + 12)
    assert list(dict.fromkeys(table["holdout"])) == ["largest_size", "small_corner"]
    assert set(table.loc[table["holdout"] == "small_corner", "run"]) == set(REST)
    assert table[list(CALIBRATION_COLUMNS)].notna().all().all()
    # at_chance: the hold-out's own training runs (arc_easy and hellaswag are above chance even on 4 runs)
    for rule, fit in zip(["largest_size", "small_corner"], [c["fit"] for c in calls]):
        flags = fit.tasks_at_chance().set_index("task")["at_chance"]
        rows = table[table["holdout"] == rule]
        assert (rows["at_chance"].to_numpy() == flags.loc[rows["task"]].to_numpy()).all()
    assert table["at_chance"].dtype == bool and not table["at_chance"].any()
    # quantiles ordered: lower_95 <= lower_90 <= lower_80 <= lower_50 <= median <= upper_50 <= ... <= upper_95
    order = ["lower_95", "lower_90", "lower_80", "lower_50", "median", "upper_50", "upper_80", "upper_90", "upper_95"]
    assert (np.diff(table[order].to_numpy(), axis=1) >= -1e-12).all()
    # truth: final-checkpoint accuracy at the run's N and final D
    r = table.iloc[-1]
    g = ladder[(ladder["run"] == r["run"]) & (ladder["task"] == r["task"])].sort_values("step")
    assert r["actual"] == pytest.approx(g["accuracy"].iloc[-1]) and r["D"] == g["D"].max()
    # distance beyond each hold-out's own training runs; bins from the distance
    runs = run_table(ladder)
    for (rule, group), call in zip(table.groupby("holdout", sort=False), calls):
        split = table.attrs["fits"][rule]
        want = distance_beyond(runs.set_index("run").loc[group["run"]], runs[runs["run"].isin(split.train)])
        np.testing.assert_allclose(group["distance"], want)
        assert dict(call["distance"]) == pytest.approx(dict(zip(group["run"], group["distance"])))
        assert group["fit_seconds"].nunique() == 1 and group["fit_seconds"].iloc[0] == split.fit_seconds > 0
        assert (group["converged"] == split.converged).all()
    assert list(table["bin"]) == list(distance_bin(table["distance"]))
    assert set(table["bin"]) == {"near", "mid", "far"} and (table["model"] == DEFAULT_MODEL).all()  # none named
    assert table.attrs["skipped"] == {} and set(table.attrs["fits"]) == {"largest_size", "small_corner"}
    assert table.attrs["fits"]["small_corner"].train == tuple(SMALL)
    # the PIT bins inside each interval add up to the pairs it covers
    pit = pit_counts(table)
    for lev, inner in ((50, ["pit_25_50", "pit_50_75"]), (95, [k for k in pit if k not in ("pit_0_2.5", "pit_97.5_100")])):
        covered = ((table[f"lower_{lev}"] <= table["actual"]) & (table["actual"] <= table[f"upper_{lev}"])).sum()
        assert sum(pit[k] for k in inner) == covered


# ----------------------------------------------------------------------------- the summary, by hand


def test_summarize_calibration_by_hand():
    s = summarize_calibration(_hand_table()).set_index("bin")
    assert list(s.index) == ["near", "mid", "far", "all"] and list(s["n"]) == [2, 2, 2, 6]
    assert s.loc["near", ["coverage_50", "coverage_80", "coverage_90", "coverage_95"]].tolist() == [0.5, 1, 1, 1]
    assert s.loc["mid", ["coverage_50", "coverage_80", "coverage_90", "coverage_95"]].tolist() == [0, 0, 1, 1]
    assert s.loc["far", ["coverage_50", "coverage_80", "coverage_90", "coverage_95"]].tolist() == [0, 0, 0, 0.5]
    assert s.loc["all", "coverage_90"] == pytest.approx(4 / 6) and s.loc["all", "coverage_95"] == pytest.approx(5 / 6)
    assert s["mean_width_90"].tolist() == pytest.approx([30.0] * 4)
    assert s["mae"].tolist() == pytest.approx([4.0, 14.5, 22.5, 82 / 6])
    # interval score (points): 30 for a covered pair; 30 + 20 x 10 and 30 + 20 x 5 for the two misses
    assert s["interval_score_90"].tolist() == pytest.approx([30.0, 30.0, 180.0, 80.0])
    assert s.loc["near", "mean_distance"] == pytest.approx(0.25)
    assert s["crps"].tolist() == pytest.approx([1.5, 3.5, 5.5, 3.5]) and s["log_score"].tolist() == [0.5, 2.5, 4.5, 2.5]
    assert s["above_median"].tolist() == pytest.approx([0.0, 0.5, 0.5, 1 / 3])  # truths at 0.50, 0.65 and 0.75
    pit = [c for c in s.columns if c.startswith("pit_")]
    assert pit == ["pit_0_2.5", "pit_2.5_5", "pit_5_10", "pit_10_25", "pit_25_50", "pit_50_75", "pit_75_90",
                   "pit_90_95", "pit_95_97.5", "pit_97.5_100"]  # fmt: skip
    assert s.loc["near", pit].tolist() == [0, 0, 0, 1, 0, 1, 0, 0, 0, 0]
    assert s.loc["mid", pit].tolist() == [0, 0, 1, 0, 0, 0, 0, 1, 0, 0]  # 0.65 = upper_90: inside the 90%
    assert s.loc["far", pit].tolist() == [0, 1, 0, 0, 0, 0, 0, 0, 0, 1]  # 0.30 = lower_95: inside the 95%
    text = format_calibration(s.reset_index())
    assert "near (d < 0.7)" in text and "far (d > 1.5)" in text and "180.00" in text and "97.5-100" in text
    # an empty bin stays, with no metrics
    empty = summarize_calibration(_hand_table().iloc[:2]).set_index("bin")
    assert empty.loc["far", "n"] == 0 and np.isnan(empty.loc["far", "coverage_90"])
    assert "no pairs" in format_calibration(empty.reset_index())


def test_bootstrap_resamples_runs_not_pairs():
    """Ten far runs of ten tasks each, every pair of a run covered or every one missed: over runs
    the 90% coverage is as uncertain as 10 draws (+-0.25 or so); over the 100 pairs it would be
    +-0.08. A bin of one run has no spread."""
    base = _hand_table().iloc[[4]]  # a far pair: truth 0.75 outside [0.35, 0.65]
    rows = []
    for r in range(10):
        for t in range(10):
            row = base.iloc[0].copy()
            row["run"], row["task"], row["holdout"] = f"r{r}", f"t{t}", "h"
            row["actual"] = 0.5 if r % 2 else 0.75  # odd runs covered
            rows.append(row)
    near = _hand_table().iloc[[0]].assign(run="solo", holdout="g")
    table = pd.concat([pd.DataFrame(rows), near], ignore_index=True)
    boot = bootstrap_by_run(table, reps=400, seed=1).set_index("bin")
    point = summarize_calibration(table).set_index("bin")
    assert list(boot.index) == ["near", "far", "all"]  # the empty mid bin is left out
    assert boot.loc["far", "coverage_90"] == point.loc["far", "coverage_90"] == 0.5
    assert boot.loc["far", "runs"] == 10 and boot.loc["far", "n"] == 100
    lo, hi = boot.loc["far", ["coverage_90_lo", "coverage_90_hi"]]
    assert lo <= 0.5 <= hi and hi - lo >= 0.4
    assert boot.loc["near", "coverage_90_lo"] == boot.loc["near", "coverage_90_hi"] == 1.0
    assert boot.loc["all", "runs"] == 11
    # one hold-out scored every far pair: one posterior; the near pair came from another
    assert boot.loc["far", "fits"] == 1 and boot.loc["far", "largest_fit_share"] == 1.0
    assert boot.loc["all", "fits"] == 2 and boot.loc["all", "largest_fit_share"] == pytest.approx(100 / 101)


def test_summarize_by_task_by_hand():
    """Task t is the hand table; task u the same pairs without the far ones: its far columns are empty."""
    t = _hand_table()
    table = pd.concat([t, t[t["bin"] != "far"].assign(task="u")], ignore_index=True)
    by = summarize_by_task(table).set_index("task")
    assert list(by.index) == ["t", "u"] and by["n"].tolist() == [6, 4] and by["far_n"].tolist() == [2, 0]
    whole = summarize_calibration(t).set_index("bin")
    for col in ("coverage_90", "mean_width_90", "mae", "crps", "above_median"):
        assert by.loc["t", col] == pytest.approx(whole.loc["all", col])
    assert by.loc["t", "far_coverage_90"] == 0.0 and by.loc["t", "far_above_median"] == 0.5  # truths 0.75 and 0.30
    assert by.loc["u", "coverage_90"] == 1.0 and by.loc["u", "mae"] == pytest.approx((0 + 8 + 14 + 15) / 4)
    assert np.isnan(by.loc["u", "far_coverage_90"]) and np.isnan(by.loc["u", "far_above_median"])
    text = format_by_task(by.reset_index())
    lines = text.splitlines()
    assert len(lines) == 3 and lines[1].split()[:3] == ["t", "6", "66.7"] and lines[2].split()[-3:] == ["0", "-", "-"]
    with pytest.raises(LadderDataError, match=r"missing column\(s\) \['task'\]"):
        summarize_by_task(t.drop(columns="task"))


def test_summarize_by_chance_by_hand():
    """Task u at chance on its hold-out's runs (the hand table's pairs again): each side is
    summarized as the whole table would be; a side without pairs has no rows; a table without
    the column (written before it) is a clear error."""
    t = _hand_table()
    table = pd.concat([t, t.assign(task="u", at_chance=True)], ignore_index=True)
    by = summarize_by_chance(table)
    whole = summarize_calibration(t)
    assert by["at_chance"].tolist() == [True] * 4 + [False] * 4 and by["bin"].tolist() == ["near", "mid", "far", "all"] * 2
    for side in (True, False):
        got = by[by["at_chance"] == side].drop(columns="at_chance").reset_index(drop=True)
        pd.testing.assert_frame_equal(got, whole)
    only = summarize_by_chance(t)  # no task at chance
    assert not only["at_chance"].any() and len(only) == 4
    lines = format_by_chance(by).splitlines()
    assert len(lines) == 9 and lines[3].split()[:5] == ["at", "chance", "far", "2", "0.0"]
    assert lines[8].split()[:3] == ["others", "all", "6"]
    with pytest.raises(LadderDataError, match="no column 'at_chance'.*rerun ladderfit calibrate"):
        summarize_by_chance(t.drop(columns="at_chance"))
    as_text = table.assign(at_chance=table["at_chance"].map({True: "True", False: "False"}))  # as a CSV may hold it
    pd.testing.assert_frame_equal(summarize_by_chance(as_text), by)
    with pytest.raises(LadderDataError, match=r"'at_chance' must hold True or False; got \['yes'\]"):
        summarize_by_chance(table.assign(at_chance="yes"))


def test_summary_of_a_table_missing_a_column():
    with pytest.raises(LadderDataError, match=r"not a calibration table: missing column\(s\) \['upper_90'\]"):
        summarize_calibration(_hand_table().drop(columns="upper_90"))
    with pytest.raises(LadderDataError, match="non-numeric"):
        summarize_calibration(_hand_table().assign(lower_50="x"))


# ----------------------------------------------------------------------------- figures and the command line


def test_figures_from_a_table():
    import matplotlib.pyplot as plt

    from ladderfit import plots

    t = _hand_table()
    fig = plots.plot_reliability(t)
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    labels = [text.get_text() for text in fig.axes[0].get_legend().get_texts()]
    assert labels[0] == "calibrated" and any(lab.startswith("far (n=2") for lab in labels)
    fig = plots.plot_coverage_vs_distance(t)
    assert len(fig.axes) == 2 and "width" in fig.axes[1].get_ylabel()
    fig, axes = plt.subplots(1, 2)
    assert plots.plot_calibration(t, ax=axes) is fig and all(a.has_data() for a in axes)
    assert plots.PLOTS["calibration"] == "plot_calibration"
    with pytest.raises(ValueError, match="no 99% interval"):
        plots.plot_coverage_vs_distance(t, level=99)
    plt.close("all")


def test_cli_calibrate_writes_the_table_and_plot_draws_it(real, tmp_path, capsys, monkeypatch):
    import ladderfit.model.bayes as bayes

    _, calls = real
    seen = []

    def reuse(*args, **kwargs):  # no sampling: every hold-out gets the module's first fit
        seen.append(kwargs)
        return calls[0]["fit"]

    monkeypatch.setattr(bayes, "fit", reuse)
    out = tmp_path / "calibration.csv"
    args = ["calibrate", "--tasks", ",".join(TASKS), "--holdout", "largest_size", "small_corner", "--chains", "1",
            "--draws", "50", "--seed", "3", "--out", str(out)]  # fmt: skip
    assert main(args) == 3  # the tiny fits did not converge: not a calibration to trust
    assert "did not converge" in capsys.readouterr().err
    assert main(args + ["--allow-unconverged"]) == 0
    assert [k["draws"] for k in seen] == [50] * 4 and seen[0]["seed"] == 3 and seen[0]["tasks"] == TASKS
    table = read_calibration(out)
    assert list(table.columns) == list(CALIBRATION_COLUMNS) and len(table) == len(TASKS) * 16
    text = capsys.readouterr().out
    assert "small_corner: trained on 4 runs, predicted 12" in text and "far (d > 1.5)" in text and "PIT" in text
    by_task = text.split("by task")[1].splitlines()[2:]  # the header line, then one line per task
    assert [line.split()[0] for line in by_task[:len(TASKS)]] == TASKS
    assert "only at chance" not in text  # no task at chance on these hold-outs: no split printed
    # the estimate's priors as Python to paste into fit(priors=...), as the how-to says
    import ast
    import re

    from ladderfit.analysis.discrepancy import GAMMA_GRID
    from ladderfit.model.priors import resolve_priors

    line = next(ln for ln in text.splitlines() if ln.strip().startswith("use it: priors="))
    pasted = resolve_priors(ast.literal_eval(line.split("priors=", 1)[1]))
    said = re.search(r"logit shift d\^([\d.]+) x \(([+-][\d.]+) \+ [\d.]+ eps\): gamma = ([\d.]+) .*log-sd ([\d.]+)", text)
    power, drift, gamma, log_sd = map(float, said.groups())
    assert pasted["discrepancy_power"] == ("Fixed", (power,)) and pasted["discrepancy_drift"] == ("Fixed", (drift,))
    family, (mu, sd) = pasted["discrepancy"]
    assert family == "LogNormal" and sd == pytest.approx(log_sd, abs=0.006)
    assert np.exp(mu) == pytest.approx(max(gamma, GAMMA_GRID[1]), abs=6e-4)  # gamma 0: the grid's smallest above it
    fig = tmp_path / "calibration.png"
    assert main(["plot", "calibration", "--calibration", str(out), "--out", str(fig), "--dpi", "40"]) == 0
    assert fig.stat().st_size > 0


def test_cli_bad_input_is_one_line(tmp_path, capsys):
    def fails(*args):
        try:
            code = main([str(a) for a in args])
        except SystemExit as e:  # argparse
            code = e.code
        err = capsys.readouterr().err.strip()
        assert code == 2 and err.count("\n") == 0 and err.startswith("ladderfit: error:"), err
        return err

    assert "'bogus'" in fails("calibrate", "--holdout", "bogus")
    assert "needs --calibration" in fails("plot", "calibration", "--out", tmp_path / "c.png")
    bad = tmp_path / "bad.csv"
    _hand_table().drop(columns="median").to_csv(bad, index=False)
    assert "missing column(s) ['median']" in fails("plot", "calibration", "--calibration", bad, "--out", tmp_path / "c.png")
    assert "no such file" in fails("plot", "calibration", "--calibration", tmp_path / "nope.csv", "--out", tmp_path / "c.png")
    assert "folder" in fails("calibrate", "--out", tmp_path / "nope" / "c.csv")  # before any fit
    assert not (tmp_path / "c.png").exists()


def test_public_api():
    assert ladderfit.calibration is calibration and ladderfit.summarize_calibration is summarize_calibration


# ----------------------------------------------------------------------------- choosing a model, saving the choice


def test_choose_model_by_crps_with_coverage_as_a_constraint():
    from ladderfit.analysis.calibration import choose_model

    t = _hand_table()
    many = pd.concat([t.assign(run=t["run"] + f"_{i}") for i in range(5)], ignore_index=True)  # 10 pairs per bin
    narrow = many.assign(crps=many["crps"] / 2)  # better scores, but 90% coverage 0 in the far bin
    wide = many.assign(lower_90=0.0, upper_90=1.0)  # covers everything... at 100%: over the 97% bound
    miss = many["run"].isin(["r0_0", "r2_0", "r4_0"])  # one pair in ten per bin outside its interval
    ok = many.assign(lower_90=np.where(miss, 0.99, 0.0), upper_90=1.0)  # 90% in every bin
    ok["crps"] = many["crps"] * 1.5
    chosen, scores = choose_model({"narrow": narrow, "wide": wide, "ok": ok})
    assert chosen == "ok"
    assert list(scores["model"]) == ["narrow", "wide", "ok"]  # sorted by CRPS
    assert scores.set_index("model")["admissible"].to_dict() == {"narrow": False, "wide": False, "ok": True}
    # none admissible: the best score, whatever its coverage
    assert choose_model({"narrow": narrow, "wide": wide})[0] == "narrow"


def test_a_calibration_choice_round_trips_and_is_read_before_any_fit(tmp_path):
    from ladderfit.model.calibrated import read_choice, write_choice

    priors = {"discrepancy": ("LogNormal", (np.log(0.05), 0.3)), "discrepancy_power": ("Fixed", (2.0,)),
              "discrepancy_drift": ("Fixed", (0.05,)), "discrepancy_max_distance": ("Fixed", (3.1,))}
    path = write_choice(tmp_path / "choice.json", "single_step", priors, [{"model": "single_step", "crps": 1.0}], "x.csv")
    got = read_choice(path)
    assert got["model"] == "single_step" and got["source"] == "x.csv"
    assert got["priors"]["discrepancy_drift"] == ("Fixed", (0.05,))
    assert got["priors"]["discrepancy"][1] == pytest.approx(priors["discrepancy"][1])
    # a damaged or foreign file names itself; fit(..., calibration=) fails before sampling
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "something else"}')
    with pytest.raises(LadderDataError, match="bad.json: not a calibration choice"):
        read_choice(bad)
    with pytest.raises(LadderDataError, match="no such file"):
        read_choice(tmp_path / "missing.json")
    with pytest.raises(LadderDataError, match="made for model 'single_step', not 'two_step'"):
        ladderfit.fit(None, model="two_step", calibration=path)
