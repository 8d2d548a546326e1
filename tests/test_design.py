"""Ladder design (which rung next): expected width at a target by importance re-weighting.

On a simulated 3 x 3 ladder (190M-760M at 1, 2, 5 xC, 2 tasks): a rung far beyond the ladder
narrows the target's interval more than one inside it, a duplicate of an existing rung least;
expected widths never exceed the current one beyond Monte Carlo error; bad input is one clear
error. The slow test checks the expected widths against real refits.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import ladderfit
from ladderfit.analysis.design import DesignResult, as_candidates, candidate_grid, design, weighted_quantile
from ladderfit.errors import LadderDataError
from ladderfit.model.diagnostics import ConvergenceWarning
from ladderfit.model.simulate import default_truths, simulate_ladder

SIZES = {"190M": 1.9e8, "370M": 3.7e8, "760M": 7.6e8}
MULTS = (1, 2, 5)
TARGET = "T-7B=7e9,1.4e12"
CANDIDATES = [
    ("far", 2.0e9, 20 * 2.0e9 * 10),  # beyond the ladder in N and D
    ("inside", 2.7e8, 20 * 2.7e8 * 3),  # a new point inside it
    ("duplicate", 3.7e8, 20 * 3.7e8 * 2),  # the rung 370M-2xC again
]
SAMPLER = dict(chains=2, warmup=250, draws=250, seed=0, progress_bar=False)


@pytest.fixture(scope="module")
def sim():
    return simulate_ladder(default_truths(2, seed=1), sizes=SIZES, multipliers=MULTS, checkpoints=20, seed=1)


@pytest.fixture(scope="module")
def sim_fit(sim):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return ladderfit.fit(sim.data, model="two_step", **SAMPLER)


@pytest.fixture(scope="module")
def result(sim_fit):
    # its time is measured in benchmarks/, not asserted here
    return design(sim_fit, TARGET, CANDIDATES, outcomes=48, greedy_steps=3, seed=0)


def _mean(res: DesignResult) -> pd.DataFrame:
    return res.ranking.set_index("candidate")


def test_table_has_the_issue_columns(result):
    cols = {"candidate", "N", "D", "flops", "task", "width_90_now", "width_90_expected", "reduction_per_eflop",
            "width_90_expected_se", "ess", "reliable", "rank"}  # fmt: skip
    assert cols <= set(result.table.columns)
    assert len(result.table) == len(CANDIDATES) * 2
    assert list(result.ranking["rank"]) == [1, 2, 3]
    for _, part in result.ranking.groupby("detectable"):  # detectable gains first, then per FLOP
        assert part["reduction_per_eflop"].is_monotonic_decreasing
    assert result.ranking["detectable"].is_monotonic_decreasing
    # 6 N D on a ladder without flops
    row = result.ranking.set_index("candidate").loc["far"]
    assert row["flops"] == pytest.approx(6 * row["N"] * row["D"])


def test_far_rung_helps_more_than_inside_and_duplicate_least(result):
    r = _mean(result)
    se = r["width_90_expected_se"]
    assert r.loc["far", "reduction"] > r.loc["inside", "reduction"] + 2 * se.loc[["far", "inside"]].max()
    assert r.loc["far", "distance_after"] < r.loc["far", "distance_now"]
    assert r.loc["inside", "distance_after"] == pytest.approx(r.loc["inside", "distance_now"])
    assert r.loc["duplicate", "reduction"] <= r.loc[["far", "inside"], "reduction"].min() + 2 * se.max()
    assert "far" in r.index[r["tasks_helped"].str.len() > 0]


def test_expected_width_never_above_current(result):
    t = result.table
    assert (t["width_90_expected"] <= t["width_90_now"] + 3 * t["width_90_expected_se"] + 1e-9).all()
    assert (t["mae_expected"] <= t["mae_now"] * 1.05 + 1e-9).all()
    assert (t["ess"] > 1).all()


def test_greedy_stopping_view(result):
    """Three steps asked, three candidates: the far rung first, then a stop, because neither
    the inside rung nor the duplicate narrows the interval detectably (by more than 2% of the
    width and 2 SE), alone (the ranking) or after the far one. Each recorded step meets the
    stopping rule's condition, and step 1 is the ranking's far rung seen again: its width
    within Monte Carlo error, its distance and FLOPs exactly."""
    g, r = result.greedy, _mean(result)
    assert list(g["step"]) == [0, 1] and list(g["candidate"]) == ["(current ladder)", "far"], g
    assert not r.loc[["inside", "duplicate"], "detectable"].any() and r.loc["far", "detectable"]
    # step 0 is the current ladder as the table has it
    assert g["width_90_expected"].iloc[0] == pytest.approx(result.table.groupby("task")["width_90_now"].first().mean())
    assert g["cumulative_flops"].iloc[0] == pytest.approx(result.ladder_flops) and g["flops"].iloc[0] == 0
    assert g["share_of_target"].tolist() == pytest.approx((g["cumulative_flops"] / result.target["flops"]).tolist())
    # every step taken narrowed the previous width by more than min_reduction (2%) of it
    w = g["width_90_expected"].to_numpy()
    assert (w[1:] < (1 - 0.02) * w[:-1]).all(), w
    # step 1 conditions on the far rung alone: the ranking's expected width (PSIS-smoothed
    # weights there, raw ones here, the same outcomes) within 3 of its Monte Carlo SE
    far = g.iloc[1]
    assert abs(far["width_90_expected"] - r.loc["far", "width_90_expected"]) < 3 * r.loc["far", "width_90_expected_se"]
    assert far["distance"] == pytest.approx(r.loc["far", "distance_after"]) and far["distance"] < g["distance"].iloc[0]
    assert far["flops"] == pytest.approx(r.loc["far", "flops"])
    assert far["cumulative_flops"] == pytest.approx(result.ladder_flops + r.loc["far", "flops"])


def test_plot_design(result):
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    from ladderfit.plots import PLOTS, plot_design

    fig = plot_design(result)
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    fig2, ax = plt.subplots()
    assert plot_design(result.greedy, ax=ax) is fig2
    assert PLOTS["design"] == "plot_design"
    plt.close("all")
    with pytest.raises(TypeError):
        plot_design(result.table)


def test_weighted_quantile_matches_percentile_with_equal_weights():
    x = np.random.default_rng(0).normal(size=4001)
    q = weighted_quantile(x, np.ones((len(x), 1)), [0.05, 0.5, 0.95])[:, 0]
    assert np.allclose(q, np.percentile(x, [5, 50, 95]), atol=0.01)
    w = (x > 0).astype(float)[:, None]  # all weight on the positive half: its median
    assert weighted_quantile(x, w, [0.5])[0, 0] == pytest.approx(np.median(x[x > 0]), abs=0.01)


def test_candidates_parse_and_grid():
    c = as_candidates(["1B-20xC=1.28e9,5.1e11", "3.2e9,6.3e10", ("x", 1e9, 2e10)])
    assert list(c["candidate"]) == ["1B-20xC", "3.2B-0.98xC", "x"]
    g = candidate_grid([1e9, 3e9], [1, 2, 5, 10])
    assert len(g) == 8 and g["D"].iloc[1] == pytest.approx(2 * 20 * 1e9) and g["candidate"].iloc[0] == "1B-1xC"


@pytest.mark.parametrize("bad, shown", [
    ("3B=-3e9,1e10", "-3e9"), ("3B=abc,1e10", "abc"), ("nonsense", "nonsense"), ("3B=3e9,0", "'0'"),
])  # fmt: skip
def test_bad_candidate_is_a_clear_error(bad, shown):
    with pytest.raises(LadderDataError, match=r"candidate .*" + ".*".join(map(__import__("re").escape, [shown]))):
        as_candidates([bad])


def test_bad_task_and_target_are_clear_errors(sim_fit):
    with pytest.raises(LadderDataError, match="no_such_task"):
        design(sim_fit, TARGET, CANDIDATES[:1], tasks=["no_such_task"])
    with pytest.raises(LadderDataError, match="one target at a time"):
        design(sim_fit, ["7B-4T", "13B-5T"], CANDIDATES[:1])
    with pytest.raises(LadderDataError, match="no candidates"):
        design(sim_fit, TARGET, [])


@pytest.mark.parametrize("argv, shown", [
    (["--candidate", "3B=-3e9,1e10"], "-3e9"),
    (["--candidate", "3B:3e9"], "3B:3e9"),
    (["--sizes", "1e9,x", "--multipliers", "1"], "'x'"),
    (["--sizes", "1e9"], "--multipliers"),
    (["--candidate", "a=1e9,2e10", "--tasks", "no_such_task"], "no_such_task"),
])  # fmt: skip
def test_cli_prints_bad_input_without_traceback(argv, shown, capsys):
    from ladderfit.cli import main

    assert main(["design", "--target", "7B-4T", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ladderfit: error:") and shown in err and "Traceback" not in err


def test_cli_design_from_saved_fit(sim_fit, tmp_path, capsys):
    from ladderfit.cli import main

    path = sim_fit.save(tmp_path / "fit.nc")
    out, greedy = tmp_path / "design.csv", tmp_path / "greedy.csv"
    code = main(["design", "--fit", str(path), "--target", TARGET, "--candidate", "far=2e9,4e11",
                 "--sizes", "2.7e8", "--multipliers", "3", "--outcomes", "16", "--max-draws", "200",
                 "--greedy", "2", "--out", str(out), "--greedy-out", str(greedy)])  # fmt: skip
    text = capsys.readouterr().out
    assert code == 0 and "far" in text and "270M-3xC" in text and "stopping view" in text
    table = pd.read_csv(out)
    assert {"candidate", "N", "D", "flops", "task", "width_90_now", "width_90_expected", "reduction_per_eflop"} <= set(
        table.columns)
    steps = pd.read_csv(greedy)  # --greedy 2: the current ladder, then at most 2 rungs; far first
    assert len(table) == 4 and len(steps) <= 3 and list(steps["candidate"][:2]) == ["(current ladder)", "far"]
    fig = tmp_path / "design.png"
    assert main(["plot", "design", "--fit", str(path), "--target", TARGET, "--candidate", "far=2e9,4e11",
                 "--candidate", "near=3e8,2e10", "--greedy", "2", "--out", str(fig)]) == 0  # fmt: skip
    assert fig.stat().st_size > 0


@pytest.mark.slow
def test_expected_widths_track_real_refits(sim, sim_fit, result):
    """Refit with each candidate's real simulated run added: the ranking of the expected widths
    is the ranking of the refits' widths, and each is within 25% of it."""
    truths = default_truths(2, seed=1)
    actual = {}
    for name, N, D in CANDIDATES:
        extra = simulate_ladder(truths, sizes={name: N}, multipliers=(D / (20 * N),), checkpoints=20, seed=7).data
        data = pd.concat([sim.data, extra.assign(run=name, size=name)], ignore_index=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            refit = ladderfit.fit(data, model="two_step", **SAMPLER)
        p = refit.predict(TARGET, levels=(90,)).query("quantity == 'accuracy'")
        actual[name] = float((p["upper_90"] - p["lower_90"]).mean())
    expected = _mean(result)["width_90_expected"]
    order_expected = sorted(actual, key=lambda c: expected[c])
    order_actual = sorted(actual, key=actual.get)
    assert order_expected[0] == order_actual[0] == "far"
    for name, width in actual.items():
        assert expected[name] == pytest.approx(width, rel=0.25), name
