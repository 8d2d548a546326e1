"""Statistical tests of the joint model: prior predictive, recovery, coverage, convergence, determinism."""

import warnings

import numpy as np
import pandas as pd
import pytest

import ladderfit
from ladderfit.diagnostics import ConvergenceWarning
from ladderfit.preprocess import Preprocessing
from ladderfit.simulate import default_truths, simulate_ladder

# Simulated checkpoints carry independent noise: no smoothing is needed (the default moving
# average is for real, autocorrelated logs and would bias the curve on these coarse ladders).
RAW = Preprocessing(skip_fraction=0.1, smooth_window=1, step1_last_k=1, thin=1)
FAST = dict(chains=2, warmup=600, draws=800, preprocessing=RAW)
TARGETS = pd.DataFrame({"target": ["3B-60B", "7B-150B"], "N": [3e9, 7e9], "D": [6e10, 1.5e11]})


@pytest.fixture(scope="module")
def sim():
    return simulate_ladder(default_truths(3, seed=1), seed=1)


@pytest.fixture(scope="module")
def sim_fit(sim):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        return ladderfit.fit(sim.data, seed=0, **FAST)


def test_fit_converges_on_simulated_ladder(sim_fit):
    d = sim_fit.diagnostics.as_dict()
    assert d["converged"], sim_fit.diagnostics.problems()
    assert d["max_r_hat"] <= 1.01 and d["divergences"] == 0
    assert d["min_ess_bulk"] >= 200


def test_inference_data_has_dims_and_coords(sim_fit, sim):
    idata = sim_fit.idata
    for group in ("posterior", "posterior_predictive", "observed_data", "log_likelihood", "sample_stats"):
        assert group in idata.groups()
    assert list(idata.posterior["alpha"].dims) == ["chain", "draw", "task"]
    assert list(idata.posterior["task"].values) == ["task0", "task1", "task2"]
    obs = idata.observed_data
    assert set(np.unique(obs["checkpoint_task"].values)) == {"task0", "task1", "task2"}
    assert "checkpoint_run" in obs.coords and "step1_run" in obs.coords
    assert idata.log_likelihood["acc_obs"].sizes["checkpoint"] == obs.sizes["checkpoint"]


def test_parameters_recovered(sim_fit, sim):
    params = sim_fit.parameters().set_index(["task", "parameter"])
    inside, total = 0, 0
    for tr in sim.truths:
        for name in ("alpha", "beta", "E", "k", "L0"):
            r = params.loc[(tr.name, name)]
            total += 1
            inside += r["lower_90"] <= getattr(tr, name) <= r["upper_90"]
    assert inside >= 0.7 * total, f"only {inside}/{total} true values inside 90% intervals"


def test_target_accuracy_close_to_truth(sim_fit, sim):
    pred = sim_fit.predict(TARGETS)
    acc = pred[pred["quantity"] == "accuracy"].merge(sim.truth_at(TARGETS, noisy=False), on=["target", "task"])
    err = (acc["median"] - acc["accuracy"]).abs()
    assert err.max() < 0.05, acc
    assert (acc["lower_90"] <= acc["median"]).all() and (acc["median"] <= acc["upper_90"]).all()


def test_predict_table_columns_and_no_nan(sim_fit):
    pred = sim_fit.predict(TARGETS, levels=(50, 80))
    assert list(pred.columns) == [
        "target", "task", "N", "D", "quantity", "mean", "median", "sd",
        "lower_50", "upper_50", "lower_80", "upper_80",
    ]  # fmt: skip
    assert len(pred) == 2 * 3 * 2
    assert np.isfinite(pred.select_dtypes("number").to_numpy()).all()
    acc = pred[pred["quantity"] == "accuracy"]
    assert acc[["lower_80", "upper_80"]].stack().between(0, 1).all()
    assert (acc["upper_80"] - acc["lower_80"] > acc["upper_50"] - acc["lower_50"]).all()


def test_interval_wider_for_noisier_task():
    truths = default_truths(2, seed=3)
    from dataclasses import replace

    truths = [replace(truths[0], name="quiet", sigma_acc=0.002, n_items=20000, run_tau=0.002),
              replace(truths[0], name="noisy", sigma_acc=0.02, n_items=300, run_tau=0.02)]  # fmt: skip
    sim = simulate_ladder(truths, seed=2)
    fit = ladderfit.fit(sim.data, seed=0, **FAST)
    pred = fit.predict(TARGETS[:1]).query("quantity == 'accuracy'").set_index("task")
    width = pred["upper_90"] - pred["lower_90"]
    assert width["noisy"] > 2 * width["quiet"]


def test_run_effects_variant(sim):
    data = sim.data[sim.data["task"].isin(["task0", "task1"])]
    fit = ladderfit.fit(data, seed=0, run_effects=True, **FAST)
    post = fit.idata.posterior
    assert list(post["run_effect"].dims) == ["chain", "draw", "task", "run"]
    assert post.sizes["run"] == sim.data["run"].nunique()
    # zero-sum over runs: the effects cannot move the curve's level
    assert np.allclose(post["run_effect"].sum("run"), 0.0, atol=1e-9)
    assert fit.converged, fit.diagnostics.problems()
    assert np.isfinite(fit.predict(TARGETS).select_dtypes("number").to_numpy()).all()


def test_same_seed_same_numbers(sim):
    data = sim.data[sim.data["task"] == "task0"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # a short run: only determinism matters here
        a = ladderfit.fit(data, seed=5, chains=1, warmup=100, draws=100).predict(TARGETS)
        b = ladderfit.fit(data, seed=5, chains=1, warmup=100, draws=100).predict(TARGETS)
    pd.testing.assert_frame_equal(a, b)


def test_planted_nonconvergence_warns(sim):
    data = sim.data[sim.data["task"] == "task0"]
    with pytest.warns(ConvergenceWarning, match="did NOT converge"):
        fit = ladderfit.fit(data, seed=0, chains=2, warmup=5, draws=20)
    assert not fit.converged
    assert fit.diagnostics.problems()


def test_save_load_roundtrip(sim_fit, tmp_path):
    path = sim_fit.save(tmp_path / "fit.nc")
    back = ladderfit.load(path)
    assert back.config.to_dict() == sim_fit.config.to_dict()
    assert back.tasks == sim_fit.tasks
    pd.testing.assert_frame_equal(back.predict(TARGETS, seed=3), sim_fit.predict(TARGETS, seed=3))


def test_load_rejects_foreign_file(tmp_path):
    import arviz as az

    path = tmp_path / "other.nc"
    az.from_dict(posterior={"x": np.zeros((1, 5))}).to_netcdf(str(path))
    with pytest.raises(ValueError, match="not a ladderfit fit"):
        ladderfit.load(path)


def test_prior_predictive_is_plausible(sim):
    """Prior draws of the curves stay in a plausible range of losses and accuracies."""
    import jax
    from numpyro.infer import Predictive

    from ladderfit.model import build_model_data, ladder_model
    from ladderfit.priors import resolve_priors

    ladderfit.fitting.enable_x64()
    md = build_model_data(sim.data)
    prior = Predictive(ladder_model, num_samples=500)(jax.random.PRNGKey(0), md, resolve_priors(), observe=False)
    loss = np.exp(np.asarray(prior["loss_obs"]))
    acc = np.asarray(prior["acc_obs"])
    assert np.isfinite(loss).all() and np.isfinite(acc).all()
    # the prior centres losses on the data's scale without pinning them
    ratio = np.median(loss, axis=0) / md.s1_loss
    assert np.all((ratio > 0.5) & (ratio < 2.0))
    assert 0.05 < np.mean(acc < md.s2_acc) < 0.95
    # accuracies mostly between chance-ish and 1
    assert np.mean((acc > 0.0) & (acc < 1.05)) > 0.95


def test_compare_variants_by_loo(sim_fit, sim):
    from ladderfit.model_comparison import compare
    from ladderfit.schema import LadderDataError

    other = ladderfit.fit(sim.data, seed=1, run_effects=True, **FAST)
    table = compare({"default": sim_fit, "run_effects": other})
    assert set(table.index) == {"default", "run_effects"}
    assert {"elpd_loo", "p_loo", "elpd_diff", "weight"} <= set(table.columns)
    assert np.isfinite(table["elpd_loo"]).all()
    smaller = ladderfit.fit(sim.data[sim.data["task"] == "task0"], seed=0, **FAST)
    with pytest.raises(LadderDataError, match="other acc_obs observations"):
        compare({"default": sim_fit, "one task": smaller})
