"""Figures render (Agg) and hold what they should; the CLI writes images.

One tiny fit (2 tasks, the paper's 16 runs, 1 chain, 80 + 40 iterations, tree depth <= 5) is
shared by every test of the session: :func:`cached_tiny_fit` keeps it (``tests/test_variance.py``
uses it too).
"""

from __future__ import annotations

import functools
import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import PathCollection, PolyCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from ladderfit import plots  # noqa: E402

# ArviZ 0.23 calls a matplotlib API deprecated in 3.11; not ours to fix
pytestmark = pytest.mark.filterwarnings("ignore::matplotlib.MatplotlibDeprecationWarning")

TINY_TASKS = ["arc_easy", "hellaswag"]


@functools.lru_cache(maxsize=1)
def cached_tiny_fit():
    """The session's tiny fit (fitted once, on first use)."""
    import ladderfit
    from ladderfit.data.bundled import PAPER_LADDER_RUNS

    # as cheap as a real fit gets (~15 s, mostly JIT compilation); it does not converge, by design
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ladderfit.fit(
            model="two_step", tasks=TINY_TASKS, runs=list(PAPER_LADDER_RUNS), chains=1, warmup=80, draws=40, max_tree_depth=5, seed=1
        )


@pytest.fixture(scope="session")
def tiny_fit():
    return cached_tiny_fit()


@pytest.fixture(scope="session")
def tiny_fit_path(tiny_fit, tmp_path_factory):
    return tiny_fit.save(tmp_path_factory.mktemp("fit") / "tiny.nc")


@pytest.fixture(autouse=True)
def _no_show_and_close(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("plots must not call plt.show()")

    monkeypatch.setattr(plt, "show", refuse)
    yield
    plt.close("all")


def _n_sizes(fit) -> int:
    return len(np.unique(np.round(fit.model_data.s1_x, 6)))


def _polys(ax) -> list:
    return [c for c in ax.collections if isinstance(c, PolyCollection)]


def _scatters(ax) -> list:
    return [c for c in ax.collections if isinstance(c, PathCollection)]


# ----------------------------------------------------------------------------- step 1


def test_step1_grid_has_a_panel_per_task_with_curves_bands_and_target(tiny_fit):
    fig = plots.plot_step1(tiny_fit)
    assert isinstance(fig, Figure)
    axes = fig.axes
    assert [a.get_title() for a in axes] == TINY_TASKS
    n = _n_sizes(tiny_fit)
    assert n == 4
    for a in axes:
        assert a.get_xscale() == "log"
        assert a.get_xlabel() == "training tokens D"
        assert "task loss" in a.get_ylabel()
        assert len(_polys(a)) == n  # one 90% band per size
        assert len(_scatters(a)) == n  # step-1 points, one colour per size
        curves = [ln for ln in a.get_lines() if len(ln.get_xdata()) > 10]
        assert len(curves) == n + 1  # medians per size + the target's dashed curve
        # the target marker sits at the target's D
        marks = [ln for ln in a.get_lines() if len(ln.get_xdata()) == 1]
        assert marks and np.isclose(marks[0].get_xdata()[0], 3_945_065_873_408.0)
    labels = [t.get_text() for t in axes[0].get_legend().get_texts()]
    assert "7B-4T (90% predictive)" in labels


def test_step1_points_are_the_fits_step1_points(tiny_fit):
    fig = plots.plot_step1(tiny_fit, tasks="hellaswag", target=None)
    (a,) = fig.axes
    y = np.concatenate([c.get_offsets()[:, 1] for c in _scatters(a)])
    md = tiny_fit.model_data
    expected = md.s1_loss[md.s1_task == md.tasks.index("hellaswag")]
    np.testing.assert_allclose(np.sort(y), np.sort(expected))
    assert not [ln for ln in a.get_lines() if len(ln.get_xdata()) == 1]  # no target


def test_step1_along_N_has_a_curve_per_training_length(tiny_fit):
    fig = plots.plot_step1(tiny_fit, tasks=["arc_easy"], x="N", target="13B-5T")
    (a,) = fig.axes
    n_lengths = len(np.unique(np.round(tiny_fit.model_data.s1_z, 4)))
    assert a.get_xlabel() == "parameters N"
    assert len(_polys(a)) == n_lengths
    marks = [ln for ln in a.get_lines() if len(ln.get_xdata()) == 1]
    assert np.isclose(marks[0].get_xdata()[0], 13_202_396_160.0)
    with pytest.raises(ValueError, match="x must be"):
        plots.plot_step1(tiny_fit, x="C")


def test_step1_draws_raw_checkpoints_when_given_data(tiny_fit):
    import ladderfit

    df = ladderfit.load_olmo_ladder()
    fig = plots.plot_step1(tiny_fit, data=df, tasks=["arc_easy"])
    (a,) = fig.axes
    # 4 sizes of step-1 points + one faint series per run
    assert len(_scatters(a)) == 4 + len(tiny_fit.model_data.runs)


# ----------------------------------------------------------------------------- step 2


def test_step2_sigmoid_bands_chance_and_points(tiny_fit):
    fig = plots.plot_step2(tiny_fit)
    md = tiny_fit.model_data
    for a, task in zip(fig.axes, TINY_TASKS):
        assert a.get_title() == task
        assert a.get_ylabel() == "accuracy"
        assert "task loss" in a.get_xlabel()
        assert len(_polys(a)) == 2  # 50% and 90% bands
        assert len(_scatters(a)) == 4  # checkpoints coloured by size
        n_points = sum(len(c.get_offsets()) for c in _scatters(a))
        assert n_points == int((md.s2_task == md.tasks.index(task)).sum())
        chance = md.chance[md.tasks.index(task)]
        flat = [ln for ln in a.get_lines() if np.allclose(ln.get_ydata(), chance)]
        assert len(flat) == 1  # the chance line
        median = [ln for ln in a.get_lines() if ln.get_label() == "fit (median)"]
        assert len(median) == 1
        y = np.asarray(median[0].get_ydata())
        assert np.all(y > 0) and np.all(y < 1)
        assert np.all(np.diff(y) <= 1e-12)  # accuracy falls as loss grows


def test_step2_marks_a_target(tiny_fit):
    fig = plots.plot_step2(tiny_fit, tasks=["hellaswag"], target="13B-5T")
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "13B-5T (90% predictive)" in labels


# ----------------------------------------------------------------------------- chained, forest


def test_chained_intervals_at_targets_and_actual_overlay(tiny_fit):
    fig = plots.plot_chained(tiny_fit, actual={"hellaswag": 0.77})
    axes = fig.axes
    assert [a.get_title() for a in axes] == TINY_TASKS
    for a in axes:
        assert a.get_xscale() == "log"
        assert "6ND" in a.get_xlabel()
        target_marks = [ln for ln in a.get_lines() if "(50/90%)" in ln.get_label()]
        assert len(target_marks) == 2  # 7B-4T and 13B-5T
    stars = [c for c in axes[1].collections if isinstance(c, PathCollection) and c.get_label() == "actual"]
    assert len(stars) == 1 and np.isclose(stars[0].get_offsets()[0, 1], 0.77)
    assert not [c for c in axes[0].collections if c.get_label() == "actual"]


def test_chained_actual_as_dataframe_and_bad_target(tiny_fit):
    actual = pd.DataFrame({"target": ["7B-4T"], "task": ["arc_easy"], "accuracy": [0.7]})
    fig = plots.plot_chained(tiny_fit, tasks=["arc_easy"], targets=["7B-4T"], actual=actual)
    assert [c.get_label() for c in fig.axes[0].collections].count("actual") == 1
    with pytest.raises(ValueError, match="not among the targets"):
        plots.plot_chained(tiny_fit, targets=["7B-4T"], actual={"13B-5T": {"arc_easy": 0.7}})


def test_forest_from_fit_and_from_predictions(tiny_fit):
    fig = plots.plot_forest(tiny_fit)
    (a,) = fig.axes
    assert [t.get_text() for t in a.get_yticklabels()] == TINY_TASKS
    medians = [ln for ln in a.get_lines() if ln.get_label() in ("7B-4T", "13B-5T")]
    assert len(medians) == 2 and all(len(ln.get_xdata()) == 2 for ln in medians)
    assert a.get_xlabel() == "predicted accuracy"
    pred = tiny_fit.predict(["7B-4T"], levels=(50, 90))
    fig2, ax = plt.subplots()
    assert plots.plot_forest(pred, ax=ax, quantity="task_loss") is fig2
    assert ax.get_xlabel() == "predicted task loss"
    with pytest.raises(ValueError, match="lower_50"):
        plots.plot_forest(tiny_fit.predict(["7B-4T"], levels=(90,)))


# ----------------------------------------------------------------------------- axes handling


def test_axes_given_are_used(tiny_fit):
    fig, ax = plt.subplots()
    assert plots.plot_step2(tiny_fit, tasks="arc_easy", ax=ax) is fig
    assert ax.get_title() == "arc_easy"
    fig2, axes = plt.subplots(1, 2)
    assert plots.plot_step1(tiny_fit, ax=axes, target=None) is fig2
    assert [a.get_title() for a in axes] == TINY_TASKS
    with pytest.raises(ValueError, match="one Axes was given for 2 panels"):
        plots.plot_chained(tiny_fit, ax=ax)
    with pytest.raises(ValueError, match="not in the fit"):
        plots.plot_step1(tiny_fit, tasks=["mmlu"])


# ----------------------------------------------------------------------------- variance, diagnostics


def test_variance_plot_has_the_measures(tiny_fit):
    from ladderfit.analysis.variance import variance

    v = variance(fit=tiny_fit)
    fig = plots.plot_variance(v)
    left, right = fig.axes
    assert [t.get_text() for t in left.get_yticklabels()] == list(v["task"])
    acc_series = [ln.get_label() for ln in left.get_lines()]
    assert acc_series == [
        "sd of last checkpoints", "seed-rerun |difference|", "binomial SE",
        "fitted sigma_acc", "90% predictive width",
    ]  # fmt: skip
    assert len(right.get_lines()) == 3
    # values in accuracy points
    sd = left.get_lines()[0].get_xdata()
    np.testing.assert_allclose(sd, 100 * v["acc_sd"].to_numpy())
    fig2, ax = plt.subplots()
    assert plots.plot_variance(v.drop(columns=["sigma_acc", "pred_acc_width90"]), ax=ax) is fig2
    assert len(ax.get_lines()) == 3


def test_arviz_diagnostics_return_figures(tiny_fit):
    for fn in (plots.plot_trace, plots.plot_rank, plots.plot_parameter_forest):
        fig = fn(tiny_fit, var_names=("alpha", "k"), tasks=["hellaswag"])
        assert isinstance(fig, Figure)
        assert fig.axes
    fig = plots.plot_parameter_forest(tiny_fit)
    text = " ".join(t.get_text() for a in fig.axes for t in a.get_yticklabels())
    assert "alpha" in text and "k" in text and "hellaswag" in text


def test_plots_accept_a_saved_fit_path(tiny_fit_path):
    fig = plots.plot_step2(str(tiny_fit_path), tasks=["arc_easy"])
    assert fig.axes[0].get_title() == "arc_easy"


# ----------------------------------------------------------------------------- CLI


def test_cli_plot_writes_png_from_a_saved_fit(tiny_fit_path, tmp_path, capsys):
    from ladderfit.cli import main

    for kind in ("step2", "forest"):
        out = tmp_path / f"{kind}.png"
        assert main(["plot", kind, "--fit", str(tiny_fit_path), "--out", str(out), "--dpi", "40"]) == 0
        assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "wrote" in capsys.readouterr().out


def test_cli_variance_prints_and_writes_csv(tmp_path, capsys):
    from ladderfit.cli import main

    out = tmp_path / "variance.csv"
    assert main(["variance", "--last-n", "5", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "most predictable first" in text and "hellaswag" in text
    df = pd.read_csv(out)
    assert len(df) == 10 and df["last_n"].eq(5).all() and list(df["rank"]) == list(range(1, 11))
