"""The Bayesian workflow's checks: prior predictive, posterior predictive plots, LOO by run,
prior sensitivity. Tiny fits (one chain, a few dozen draws): these test the plumbing, not the
statistics."""

import warnings

import numpy as np
import pytest

import ladderfit
from ladderfit.data.preprocess import Preprocessing
from ladderfit.model.simulate import default_truths, simulate_ladder

RAW = Preprocessing(skip_fraction=0.1, smooth_window=1, step1_last_k=1, thin=1)
TINY = dict(chains=1, warmup=80, draws=80, preprocessing=RAW, progress_bar=False)


@pytest.fixture(scope="module")
def sim():
    return simulate_ladder(default_truths(2, seed=1), seed=1, checkpoints=12)


def test_prior_predictive_respects_E_positive_and_has_dims(sim):
    idata = ladderfit.prior_predictive(sim.data, model="two_step", num_samples=200, preprocessing=RAW, targets=["7B-4T"])
    assert {"prior", "prior_predictive", "observed_data", "constant_data"} <= set(idata.groups())
    E = idata.prior["E"]
    assert E.dims == ("chain", "draw", "task") and E.sizes["draw"] == 200
    assert (E.values > 0).all()  # every kept draw
    assert 0 < idata.attrs["acceptance_rate"] <= 1 and idata.attrs["draws_tried"] >= 200
    pp = idata.prior_predictive
    assert pp["acc_obs"].dims == ("chain", "draw", "checkpoint")
    assert pp["loss_obs"].dims == ("chain", "draw", "step1_point")
    assert pp["target_accuracy"].dims == ("chain", "draw", "target", "task")
    assert set(pp["checkpoint_task"].values) == {"task0", "task1"}
    assert pp.sizes["checkpoint"] == idata.observed_data.sizes["checkpoint"]
    assert np.isfinite(pp["acc_obs"].values).all()


def test_prior_predictive_soft_constraint_is_the_models_factor(sim):
    idata = ladderfit.prior_predictive(sim.data, model="two_step", num_samples=100, preprocessing=RAW, constraint="soft", seed=1)
    assert "soft" in idata.attrs["constraint"]
    # the barrier is 2% of the level wide: E may dip below 0 but only a little
    E, L_c = idata.prior["E"].values, idata.prior["L_c"].values
    assert (E / L_c > -0.2).all()


@pytest.fixture(scope="module")
def tiny_fit(sim):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a one-chain test fit does not converge, by design
        return ladderfit.fit(sim.data, model="two_step", seed=0, **TINY)


def _rug_counts(ax) -> list[int]:
    """Number of observed points in an ArviZ PPC panel: its rug line (marker '|')."""
    return [len(line.get_xdata()) for line in ax.lines if line.get_marker() == "|"]


@pytest.mark.parametrize("step, var, coord", [(1, "loss_obs", "step1_task"), (2, "acc_obs", "checkpoint_task")])
def test_plot_ppc_one_panel_per_task_with_the_tasks_observations(tiny_fit, step, var, coord):
    import matplotlib.pyplot as plt

    from ladderfit.plots import plot_ppc

    fig = plot_ppc(tiny_fit, step=step, num_pp_samples=10)
    obs = tiny_fit.idata.observed_data[coord].values
    assert len(fig.axes) == len(tiny_fit.tasks)
    for ax, task in zip(fig.axes, tiny_fit.tasks):
        assert task in ax.get_title()
        assert _rug_counts(ax) == [int((obs == task).sum())]
    plt.close(fig)
    fig = plot_ppc(tiny_fit, step=step, tasks="task1", num_pp_samples=10)
    assert len(fig.axes) == 1 and _rug_counts(fig.axes[0]) == [int((obs == "task1").sum())]
    plt.close(fig)


def test_plot_loo_pit_and_prior_predictive_render(tiny_fit):
    import matplotlib.pyplot as plt

    from ladderfit.plots import PLOTS, plot_loo_pit, plot_prior_predictive

    assert {"prior", "ppc", "loo_pit"} <= set(PLOTS)
    fig = plot_loo_pit(tiny_fit, step=2)
    assert len(fig.axes) == 2 and all(ax.lines for ax in fig.axes)
    plt.close(fig)
    fig = plot_prior_predictive(tiny_fit, num_samples=100)  # the fit's data and priors
    assert len(fig.axes) == 2
    obs = tiny_fit.idata.observed_data["checkpoint_task"].values
    for ax, task in zip(fig.axes, tiny_fit.tasks):
        points = [c for c in ax.collections if c.get_label() == "observed checkpoints"]
        assert len(points) == 1 and len(points[0].get_offsets()) == (obs == task).sum()
    plt.close(fig)


def test_loo_by_run_has_one_row_per_run(tiny_fit):
    from ladderfit.analysis.comparison import loo_by_run

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # high Pareto k on a tiny fit
        table = loo_by_run(tiny_fit)
        both = loo_by_run(tiny_fit, var_names=("loss_obs", "acc_obs"))
    md = tiny_fit.model_data
    assert list(table.columns) == ["run", "n_obs", "elpd_loo", "p_loo", "pareto_k"]
    assert list(table["run"]) == list(md.runs)
    assert table["n_obs"].sum() == len(md.s2_task)
    assert np.isfinite(table[["elpd_loo", "p_loo", "pareto_k"]].to_numpy()).all()
    assert (both["n_obs"] == table["n_obs"] + md.n_tasks).all()  # one step-1 point per (run, task)
    # compare(by='run') scores the same leave-one-run-out elpd: the sum of the runs' rows
    assert np.isclose(table["elpd_loo"].sum(), ladderfit.compare({"a": tiny_fit, "b": tiny_fit})["elpd_loo"].iloc[0])


def test_compare_by_run_and_by_checkpoint(tiny_fit):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        by_run = ladderfit.compare({"a": tiny_fit, "b": tiny_fit})
        by_ckpt = ladderfit.compare({"a": tiny_fit, "b": tiny_fit}, by="checkpoint")
    for table in (by_run, by_ckpt):
        assert set(table.index) == {"a", "b"} and np.isfinite(table["elpd_loo"]).all()
        assert (table["elpd_diff"] == 0).all()
    # the units differ (16 runs vs every checkpoint), so do the estimates
    assert by_run["elpd_loo"].iloc[0] != by_ckpt["elpd_loo"].iloc[0]
    with pytest.raises(ValueError, match="by must be"):
        ladderfit.compare({"a": tiny_fit, "b": tiny_fit}, by="task")


def test_prior_sensitivity_table(sim):
    opts = dict(TINY, warmup=50, draws=50)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = ladderfit.prior_sensitivity(sim.data, names=("k_mu",), factor=2.0, targets=("7B-4T",),
                                            fit_options=opts)  # fmt: skip
    assert len(table) == 1 * 2 * 1 * 2  # (prior, direction, target, task)
    assert list(table[["prior", "direction", "target"]].drop_duplicates().itertuples(index=False)) == [
        ("k_mu", "wider", "7B-4T"), ("k_mu", "narrower", "7B-4T")]  # fmt: skip
    assert set(table["task"]) == {"task0", "task1"}
    assert np.allclose(table["scale"], [2.0, 2.0, 0.5, 0.5]) and (table["base_scale"] == 1.0).all()
    for col in ("median", "base_median", "median_shift", "shift_in_widths", "width_ratio"):
        assert np.isfinite(table[col]).all()
    with pytest.raises(ValueError, match="no scale"):
        ladderfit.prior_sensitivity(sim.data, names=("level_sd",), fit_options=opts)
