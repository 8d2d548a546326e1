"""Statistical tests of the joint model: prior predictive, recovery, coverage, convergence, determinism."""

import warnings

import arviz as az
import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom

import ladderfit
from ladderfit.model.diagnostics import PARAMETERS, ConvergenceWarning
from ladderfit.data.preprocess import Preprocessing
from ladderfit.model.simulate import default_truths, simulate_ladder

# Simulated checkpoints carry independent noise: no smoothing is needed (the default moving
# average is for real, autocorrelated logs and would bias the curve on these coarse ladders).
RAW = Preprocessing(skip_fraction=0.1, smooth_window=1, step1_last_k=1, thin=1)
FAST = dict(chains=2, warmup=600, draws=800, preprocessing=RAW)
TARGETS = pd.DataFrame({"target": ["3B-60B", "7B-150B"], "N": [3e9, 7e9], "D": [6e10, 1.5e11]})


def max_rhat(idata) -> float:
    """The largest R-hat of the parameters convergence is judged on, unrounded (``az.summary``
    rounds it to 2 decimals: 1.014 would read 1.01)."""
    names = [v for v in PARAMETERS if v in idata.posterior]
    rhat = az.rhat(idata, var_names=names)
    return float(np.max(np.concatenate([np.ravel(v) for v in rhat.data_vars.values()])))  # a NaN stays NaN: fails


def binomial_range(n: int, level: float, mass: float = 0.99) -> tuple[int, int]:
    """Central ``mass`` range of the count of ``level`` intervals covering, out of ``n``, if calibrated."""
    lo, hi = binom.interval(mass, n, level)
    return int(lo), int(hi)


@pytest.fixture(scope="module")
def sim():
    return simulate_ladder(default_truths(3, seed=1), seed=1)


@pytest.fixture(scope="module")
def sim_fit(sim):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        return ladderfit.fit(sim.data, model="two_step", seed=0, **FAST)


def test_fit_converges_on_simulated_ladder(sim_fit):
    d = sim_fit.diagnostics.as_dict()
    assert d["converged"], sim_fit.diagnostics.problems()
    assert max_rhat(sim_fit.idata) <= 1.01 and d["divergences"] == 0
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


@pytest.fixture(scope="module")
def sim_fit_runs(sim):
    """The run-effects variant: the model the simulation draws from."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        return ladderfit.fit(sim.data, model="two_step", seed=0, run_effects=True, **FAST)


def _inside(fit, truths, names=("alpha", "beta", "E", "k", "L0", "floor")) -> tuple[int, int]:
    params = fit.parameters().set_index(["task", "parameter"])
    inside = total = 0
    for tr in truths:
        for name in names:
            value = tr.chance if name == "floor" else getattr(tr, name)
            r = params.loc[(tr.name, name)]
            inside += r["lower_90"] <= value <= r["upper_90"]
            total += 1
    return inside, total


def test_parameters_recovered(sim_fit_runs, sim):
    # one ladder, 18 values: "most" inside; the multi-seed slow test below holds 80% over 96
    inside, total = _inside(sim_fit_runs, sim.truths)
    assert inside >= 0.7 * total, f"only {inside}/{total} true values inside 90% intervals"


def test_default_step1_parameters_recovered(sim_fit, sim):
    # The default has no run effects: its step-1 intervals are honest, its step-2 ones too
    # narrow when runs sit off the curve (see test_interval_coverage_and_recovery_over_seeds).
    inside, total = _inside(sim_fit, sim.truths, names=("alpha", "beta", "E"))
    assert inside >= 0.8 * total, f"only {inside}/{total} true values inside 90% intervals"


def test_target_accuracy_close_to_truth(sim_fit, sim):
    pred = sim_fit.predict(TARGETS)
    acc = pred[pred["quantity"] == "accuracy"].merge(sim.truth_at(TARGETS, noisy=False), on=["target", "task"])
    err = (acc["median"] - acc["accuracy"]).abs()
    assert err.max() < 0.05, acc
    assert (acc["lower_90"] <= acc["median"]).all() and (acc["median"] <= acc["upper_90"]).all()


def test_predict_table_columns_and_no_nan(sim_fit):
    pred = sim_fit.predict(TARGETS, levels=(50, 80))
    assert list(pred.columns) == [
        "target", "task", "N", "D", "distance", "location", "quantity", "mean", "median", "sd",
        "lower_50", "upper_50", "lower_80", "upper_80",
    ]  # fmt: skip
    assert len(pred) == 2 * 3 * 2
    assert np.isfinite(pred.select_dtypes("number").to_numpy()).all()
    acc = pred[pred["quantity"] == "accuracy"]
    assert acc[["lower_80", "upper_80"]].stack().between(0, 1).all()
    assert (acc["upper_80"] - acc["lower_80"] > acc["upper_50"] - acc["lower_50"]).all()


def test_predictive_vectorised_over_draws_draws_numpyros_numbers(sim_fit):
    """The predictive at targets runs vectorised over the draws; NumPyro's default Predictive
    (one draw at a time, op by op) draws the same numbers but for floating-point rounding."""
    import jax
    from numpyro.infer import Predictive

    from ladderfit.data.targets import as_targets
    from ladderfit.model.joint import model_for
    from ladderfit.model.runtime import unchecked

    got = sim_fit.predictive_draws(TARGETS, seed=5)
    md = sim_fit.model_data
    x, z = md.target_xz(as_targets(TARGETS))
    with unchecked(md.structure):
        ref = Predictive(model_for(md.structure), posterior_samples=sim_fit._posterior_samples(),
                         return_sites=["target_accuracy", "target_loss"])(
            jax.random.PRNGKey(5), md, sim_fit.priors, target_x=x, target_z=z)
    assert got["accuracy"].shape == ref["target_accuracy"].shape and got["accuracy"].std() > 0
    np.testing.assert_allclose(got["accuracy"], ref["target_accuracy"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(got["task_loss"], ref["target_loss"], rtol=1e-12)


@pytest.mark.parametrize("model", ["single_step", "two_step+run_effects"])
def test_inference_data_is_built_on_first_use_and_predictions_do_not_wait_for_it(sim, model):
    """A fresh fit keeps its draws; predictions read them, and InferenceData (with the posterior
    predictive and log-likelihood, and the runs' offsets of run effects) is built when first asked
    for: the same predictions either way."""
    fit = ladderfit.fit(sim.data, model=model, seed=0, **FAST)
    lazy = fit.predict(TARGETS, seed=3)
    assert fit._idata is None  # predicting built nothing
    pd.testing.assert_frame_equal(fit.predict(TARGETS, seed=3), lazy)  # the same program again
    fit.predict(TARGETS.iloc[:1], seed=3)
    assert len(fit._predictors) == 2  # one compiled predictive per set of targets
    chains, draws, note = fit.n_chains, fit.n_draws, fit.draws_note
    assert (chains, draws) == (2, 800) and note.startswith("800 draws per chain")
    idata = fit.idata
    assert {"posterior", "posterior_predictive", "log_likelihood", "sample_stats"} <= set(idata.groups())
    assert (idata.posterior.sizes["chain"], idata.posterior.sizes["draw"]) == (chains, draws)
    assert idata.sample_stats.attrs["ladderfit_draws"] == note
    assert fit.idata is idata and (fit.n_chains, fit.n_draws, fit.draws_note) == (chains, draws, note)
    pd.testing.assert_frame_equal(fit.predict(TARGETS, seed=3), lazy)


def test_interval_wider_for_noisier_task():
    truths = default_truths(2, seed=3)
    from dataclasses import replace

    truths = [replace(truths[0], name="quiet", sigma_acc=0.002, n_items=20000, run_tau=0.002),
              replace(truths[0], name="noisy", sigma_acc=0.02, n_items=300, run_tau=0.02)]  # fmt: skip
    sim = simulate_ladder(truths, seed=2)
    fit = ladderfit.fit(sim.data, model="two_step", seed=0, **FAST)
    pred = fit.predict(TARGETS[:1]).query("quantity == 'accuracy'").set_index("task")
    width = pred["upper_90"] - pred["lower_90"]
    assert width["noisy"] > 2 * width["quiet"]


def test_run_effects_variant(sim_fit_runs, sim):
    fit = sim_fit_runs
    post = fit.idata.posterior
    assert list(post["run_effect"].dims) == ["chain", "draw", "task", "run"]
    assert post.sizes["run"] == sim.data["run"].nunique()
    # NUTS integrated the offsets out; their draws are the model's: sigma_acc z, z ~ N(0, 1) a priori
    np.testing.assert_allclose(post["run_effect"], post["sigma_acc"] * post["run_z"], rtol=1e-10)
    assert "sigma_checkpoint" in post and fit.converged, fit.diagnostics.problems()
    # the posterior predictive replicates each run with its own offset: closer to the data than
    # the curve alone is
    obs = fit.idata.observed_data["acc_obs"]
    rep = fit.idata.posterior_predictive["acc_obs"].mean(("chain", "draw"))
    assert float(abs(rep - obs).mean()) < float(obs.std())
    assert np.isfinite(fit.predict(TARGETS).select_dtypes("number").to_numpy()).all()


def test_same_seed_same_numbers(sim):
    data = sim.data[sim.data["task"] == "task0"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # a short run: only determinism matters here
        a = ladderfit.fit(data, model="two_step", seed=5, chains=1, warmup=100, draws=100).predict(TARGETS)
        b = ladderfit.fit(data, model="two_step", seed=5, chains=1, warmup=100, draws=100).predict(TARGETS)
    pd.testing.assert_frame_equal(a, b)


def test_planted_nonconvergence_warns(sim):
    data = sim.data[sim.data["task"] == "task0"]
    with pytest.warns(ConvergenceWarning, match="did NOT converge"):
        fit = ladderfit.fit(data, model="two_step", seed=0, chains=2, warmup=5, draws=20)
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

    import ladderfit.model.bayes
    from ladderfit.model.inputs import build_model_data
    from ladderfit.model.joint import ladder_model
    from ladderfit.model.priors import resolve_priors

    ladderfit.model.bayes.enable_x64()
    md = build_model_data(sim.data)
    prior = Predictive(ladder_model, num_samples=500)(jax.random.PRNGKey(0), md, resolve_priors(), observe=False)
    log_loss = np.asarray(prior["loss_obs"])
    acc = np.asarray(prior["acc_obs"])
    assert np.isfinite(log_loss).all() and np.isfinite(acc).all()
    # the prior centres losses on the data's scale without pinning them. Centred: every observed
    # loss lies in the central 40% of its prior draws (its prior PIT within 0.5 +- 0.2; measured
    # 0.43-0.60: the prior median is within 0.12 in log of each point). The Monte Carlo SE of a
    # PIT from 500 draws is at most 0.022, so 0.2 is the systematic 0.1 plus 4.5 SE. A prior
    # off by a factor 1.5 in scale (0.4 in log, about 0.8 of the prior's sd) breaks it; the
    # former bound (median ratio within 0.5-2) let a factor 2 through.
    pit = np.mean(log_loss < np.log(md.s1_loss), axis=0)
    assert np.all(np.abs(pit - 0.5) < 0.2), pit
    # not pinned: the prior lets each loss vary by more than a factor e^0.3 (measured sd 0.5-2.8)
    assert np.all(log_loss.std(axis=0) > 0.3), log_loss.std(axis=0)
    assert 0.05 < np.mean(acc < md.s2_acc) < 0.95
    # accuracies mostly between chance-ish and 1
    assert np.mean((acc > 0.0) & (acc < 1.05)) > 0.95


def test_compare_variants_by_loo(sim_fit, sim_fit_runs, sim):
    from ladderfit.analysis.comparison import compare
    from ladderfit.data.schema import LadderDataError

    table = compare({"default": sim_fit, "run_effects": sim_fit_runs})
    assert set(table.index) == {"default", "run_effects"}
    assert {"elpd_loo", "p_loo", "elpd_diff", "weight", "se", "dse", "rank"} <= set(table.columns)
    assert np.isfinite(table[["elpd_loo", "p_loo", "elpd_diff", "weight", "se", "dse"]].to_numpy()).all()
    # the values: ranked by elpd (best first, rank 0), each elpd_diff the best's elpd minus its
    # own (0 for the best, whose dse is 0 too), standard errors positive, weights a distribution
    assert table["elpd_loo"].is_monotonic_decreasing and list(table["rank"]) == [0, 1]
    assert np.allclose(table["elpd_diff"], table["elpd_loo"].iloc[0] - table["elpd_loo"])
    assert table["dse"].iloc[0] == 0 and table["dse"].iloc[1] > 0 and (table["se"] > 0).all()
    assert (table["weight"] >= 0).all() and table["weight"].sum() == pytest.approx(1.0)
    # by run (the default): each fit's elpd is the sum of its runs' leave-one-run-out elpds
    from ladderfit.analysis.comparison import loo_by_run

    for name, fit in {"default": sim_fit, "run_effects": sim_fit_runs}.items():
        runs = loo_by_run(fit)
        assert len(runs) == sim.data["run"].nunique()
        assert table.loc[name, "elpd_loo"] == pytest.approx(runs["elpd_loo"].sum(), rel=1e-9)
        assert table.loc[name, "p_loo"] == pytest.approx(runs["p_loo"].sum(), rel=1e-6, abs=1e-6)
    smaller = ladderfit.fit(sim.data[sim.data["task"] == "task0"], model="two_step", seed=0, **FAST)
    with pytest.raises(LadderDataError, match="other acc_obs observations"):
        compare({"default": sim_fit, "one task": smaller})


@pytest.mark.slow
def test_interval_coverage_and_recovery_over_seeds():
    """4 simulated ladders x 4 tasks x 2 targets: the default's 90% intervals cover fresh target
    runs near nominally; the run-effects variant (the simulation's own model) recovers the true
    parameters; the default recovers step 1's but is overconfident about step 2's."""
    cov = {"default": [0, 0], "runs": [0, 0]}
    cov50 = {"default": 0, "runs": 0}
    rec = {"default_step1": [0, 0], "default_step2": [0, 0], "runs": [0, 0]}
    for seed in range(4):
        sim = simulate_ladder(default_truths(4, seed=10 + seed), seed=10 + seed)
        truth = sim.truth_at(TARGETS, seed=100 + seed, noisy=True)
        for name, opts in (("default", {}), ("runs", {"run_effects": True})):
            fit = ladderfit.fit(sim.data, model="two_step", seed=seed, **FAST, **opts)
            m = fit.predict(TARGETS, levels=(50, 90)).query("quantity == 'accuracy'").merge(truth, on=["target", "task"])
            cov[name][0] += int(((m["lower_90"] <= m["accuracy"]) & (m["accuracy"] <= m["upper_90"])).sum())
            cov[name][1] += len(m)
            cov50[name] += int(((m["lower_50"] <= m["accuracy"]) & (m["accuracy"] <= m["upper_50"])).sum())
            parts = {"runs": ("alpha", "beta", "E", "k", "L0", "floor")} if name == "runs" else {
                "default_step1": ("alpha", "beta", "E"), "default_step2": ("k", "L0", "floor")}
            for key, names in parts.items():
                i, n = _inside(fit, sim.truths, names)
                rec[key][0] += i
                rec[key][1] += n
    print(f"target coverage at 90% {cov}, at 50% {cov50}; parameters inside 90% intervals {rec}")
    # 32 pairs per variant, within the 99% binomial range of the nominal level. At 90% that
    # range is 24-32: all 32 covered has probability 0.9^32 = 3.4%, so no upper bound at 90%
    # can fail with 32 pairs; too wide intervals are caught at 50% (range 9-23 of 32): the
    # run-effects variant (the simulation's own model) within both bounds, the default below
    # the upper one (its too-narrow step 2 may leave it short at 50%).
    for name in cov:
        lo, hi = binomial_range(cov[name][1], 0.9)
        assert lo <= cov[name][0] <= hi, (name, cov, (lo, hi))
    lo50, hi50 = binomial_range(cov["runs"][1], 0.5)
    assert lo50 <= cov50["runs"] <= hi50 and cov50["default"] <= hi50, (cov50, (lo50, hi50))
    # parameters (48 values per group: 4 ladders x 4 tasks x 3; the run-effects variant's 96):
    # at least the 99% binomial range's lower bound (intervals of parameters may be conservative)
    for key in ("runs", "default_step1"):
        lo, _ = binomial_range(rec[key][1], 0.9)
        assert rec[key][0] >= lo, (key, rec, lo)
    # the default's step-2 intervals are overconfident: fewer true values inside than a
    # calibrated 90% interval would give in 99% of ladders
    lo, _ = binomial_range(rec["default_step2"][1], 0.9)
    assert rec["default_step2"][0] < lo, rec


@pytest.mark.parametrize("variant", ["compute", "single_step"])
def test_variants_fit_and_predict(sim, variant):
    data = sim.data.assign(flops=6 * sim.data["N"] * sim.data["D"])
    # draws by need, as a user's fit (the fixed 2 x 800 left the single step at R-hat 1.014)
    fit = ladderfit.fit(data, seed=0, model=variant, **{**FAST, "draws": None})
    assert fit.converged, fit.diagnostics.problems()
    pred = fit.predict(TARGETS)
    quantities = {"compute": {"task_loss", "accuracy"}, "single_step": {"accuracy"}}[variant]
    assert set(pred["quantity"]) == quantities
    acc = pred[pred["quantity"] == "accuracy"].merge(sim.truth_at(TARGETS, noisy=False), on=["target", "task"])
    assert (acc["median"] - acc["accuracy"]).abs().max() < 0.08, acc
    assert np.isfinite(pred.select_dtypes("number").to_numpy()).all()
    if variant == "compute":
        assert "beta" not in fit.idata.posterior and "alpha" in fit.idata.posterior
    from ladderfit import plots

    with pytest.raises(ValueError, match=f"this fit is the '{variant}' structure"):
        plots.plot_step1(fit)


def test_compute_variant_without_flops_takes_6ND(sim):
    from ladderfit.model.inputs import build_model_data
    from ladderfit.model.spec import as_spec

    assert "flops" not in sim.data.columns
    md = build_model_data(sim.data, as_spec("compute"))
    assert md.flops_coef == pytest.approx((np.log(6.0), 1.0), abs=1e-9)


def _median_and_mcse(da) -> tuple[np.ndarray, np.ndarray]:
    """Median over (chain, draw) of a DataArray, and its Monte Carlo SE (ArviZ's, of the 0.5 quantile)."""
    med = da.median(("chain", "draw")).values
    mcse = az.mcse(da.to_dataset(name="x"), method="quantile", prob=0.5)["x"].values
    return med, mcse


def test_same_seed_same_numbers_whatever_the_chain_method(sim):
    """The same seed and chain method give the same numbers, exactly. Across methods (parallel:
    one device per chain; vectorized: one program for all chains) the per-chain random keys are the
    same, but XLA sums in another order and NUTS trajectories amplify the last digits, so the
    two methods' draws are two samples of one posterior: their medians (of k, and of the
    predicted accuracies) agree within K = 4 of the Monte Carlo SE of their difference,
    sqrt(mcse_a^2 + mcse_b^2), each run's MCSE of the median by ArviZ. For independent runs
    a 4-SE miss has probability 6e-5 per median (9 medians here: 6e-4 together); runs that
    kept the same trajectory agree far closer."""
    K = 4.0
    draws, preds, k_post = {}, {}, {}
    for method in ("parallel", "parallel_again", "vectorized"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = ladderfit.fit(sim.data, model="two_step", chains=2, warmup=50, draws=30, seed=3, max_tree_depth=5,
                                chain_method=method.replace("_again", ""))  # fmt: skip
        draws[method] = fit.idata.posterior["k"].values
        k_post[method] = fit.idata.posterior["k"]
        fit.predict(TARGETS, store=True)
        preds[method] = fit.idata.predictions["accuracy"]  # (chain, draw, target, task)
    np.testing.assert_array_equal(draws["parallel_again"], draws["parallel"])
    np.testing.assert_array_equal(preds["parallel_again"].values, preds["parallel"].values)
    for what in (k_post, preds):
        (m_p, se_p), (m_v, se_v) = _median_and_mcse(what["parallel"]), _median_and_mcse(what["vectorized"])
        se = np.sqrt(se_p**2 + se_v**2)
        assert np.isfinite(se).all() and (se > 0).all(), se
        assert (np.abs(m_v - m_p) < K * se).all(), (m_p, m_v, se)


def _rerun_log_differences(md) -> dict[int, np.ndarray]:
    """Per law: log step-1 loss of each replicated configuration's two seeds, one minus the other."""
    out = {}
    for c in np.unique(md.s1_config[md.s1_config >= 0]):
        i = np.flatnonzero(md.s1_config == c)
        out.setdefault(int(md.s1_task[i[0]]), []).append(np.log(md.s1_loss[i[0]]) - np.log(md.s1_loss[i[1]]))
    return {t: np.array(d) for t, d in out.items()}


def test_seed_reruns_are_replicates_of_one_configuration():
    """The bundled 1xC reruns: each pair of seeds is one configuration on the law (its deviation
    drawn once), and their difference informs the seed part of the step-1 noise, seed_share
    (prior Beta(2, 2): mean 0.5, sd 0.224), which a ladder without reruns does not even have.

    piqa keeps its real reruns, whose differences imply a share near the prior's mean (rms
    difference / sqrt 2 / sigma_loss ~ 0.5): its posterior cannot move, but it narrows. hellaswag's
    reruns are moved toward their originals (each difference x 0.25, an implied share ~ 0.13):
    its posterior must move there. A likelihood that ignored seed_share leaves both at the prior."""
    from ladderfit.data.bundled import PAPER_LADDER_RUNS, load_olmo_ladder
    from ladderfit.model.inputs import build_model_data, replicated_configs

    df = load_olmo_ladder()
    reruns = [r for r in df["run"].unique() if r.endswith("-rerun")]
    tasks = ["hellaswag", "piqa"]
    data = df[df["task"].isin(tasks) & df["run"].isin(list(PAPER_LADDER_RUNS) + reruns)].copy()
    md = build_model_data(data)
    assert len(md.s1_task) == 2 * 20 and md.n_replicated == 2 * 4  # 20 runs, 16 configurations per task
    assert (np.bincount(md.s1_config[md.s1_config >= 0]) == 2).all()
    assert build_model_data(data[~data["run"].isin(reruns)]).n_replicated == 0
    p1 = pd.DataFrame({"task": ["a", "a", "a", "b"], "N": [1e8, 1e8, 2e8, 1e8], "D": [1e9, 1e9, 1e9, 1e9]})
    assert replicated_configs(p1).tolist() == [0, 0, -1, -1]
    # hellaswag's reruns: each one's task loss scaled so that its step-1 difference is x 0.25
    runs = np.array(md.runs)
    h = md.tasks.index("hellaswag")
    for r in reruns:
        s1 = {run: md.s1_loss[(runs[md.s1_run] == run) & (md.s1_task == h)][0] for run in (r, r.removesuffix("-rerun"))}
        d = np.log(s1[r] / s1[r.removesuffix("-rerun")])
        data.loc[(data["run"] == r) & (data["task"] == "hellaswag"), "task_loss"] *= np.exp(-0.75 * d)
    diffs = _rerun_log_differences(build_model_data(data))
    assert np.allclose(diffs[h], 0.25 * _rerun_log_differences(md)[h])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = ladderfit.fit(data, model="two_step", runs=list(PAPER_LADDER_RUNS) + reruns, chains=2, warmup=200, draws=200, seed=0)
    post = fit.idata.posterior
    assert "config_raw" in post and post["config_raw"].sizes["replicated_config"] == 8
    share = post["seed_share"]
    assert share.sizes["task"] == 2
    mean, sd = share.mean(("chain", "draw")), share.std(("chain", "draw"))
    prior_sd = np.sqrt(0.05)  # Beta(2, 2)
    # the share the differences imply: seed sd (rms difference / sqrt 2) over the posterior sigma_loss
    implied = {t: np.sqrt(np.mean(diffs[i] ** 2) / 2) / float(post["sigma_loss"].sel(task=t).mean())
               for i, t in enumerate(fit.model_data.tasks)}  # fmt: skip
    assert implied["hellaswag"] < 0.2 and 0.35 < implied["piqa"] < 0.65, implied
    # hellaswag moved from the prior mean at least half-way to the implied share (measured 0.23
    # against 0.5 and 0.13; MCSE of the mean ~0.01); piqa stayed near 0.5 but narrowed: posterior
    # sd below 0.85 of the prior's (measured 0.69; the sd's MC error ~5%). Both learnt.
    assert float(mean.sel(task="hellaswag")) < 0.5 - 0.5 * (0.5 - implied["hellaswag"]), (mean.values, implied)
    assert float(mean.sel(task="piqa")) > float(mean.sel(task="hellaswag")) + 0.15, mean.values
    assert float(sd.sel(task="piqa")) < 0.85 * prior_sd and float(sd.sel(task="hellaswag")) < 0.85 * prior_sd, sd.values


def test_locate_says_where_each_target_lies(sim_fit):
    """Distance from the hull of the ladder's runs (the discrepancy's d), inside/beyond/beside,
    and whether d is past the distance the discrepancy was calibrated on."""
    from ladderfit.model.geometry import hull_distance

    md = sim_fit.model_data
    i = int(np.argmax(md.s1_x + md.s1_z))  # the largest run: a vertex of the hull
    N0, D0 = np.exp(md.s1_x[i] + md.logN_c), np.exp(md.s1_z[i] + md.logD_c)
    targets = pd.DataFrame({"target": ["on", "far", "small"], "N": [N0, N0 * 40, N0 / 100], "D": [D0, D0 * 40, D0 / 100]})
    where = sim_fit.locate(targets).set_index("target")
    x, z = md.target_xz(targets)
    np.testing.assert_allclose(where["distance"], hull_distance(np.column_stack([md.s1_x, md.s1_z]), x, z))
    assert where.loc["on", "location"] == "inside" and where.loc["on", "distance"] == pytest.approx(0, abs=1e-9)
    assert where.loc["far", "location"] == "beyond" and where.loc["small", "location"] == "beside"
    top = sim_fit.priors["discrepancy_max_distance"][1][0]
    assert where.loc["far", "distance"] > top and where.loc["far", "extrapolated"]
    assert not where.loc["on", "extrapolated"]


def test_single_step_logit_is_its_centre_level_and_slopes():
    """At the ladder's centre the single step's logit is u_c, with slopes g_N and g_D along log N
    and log D; far out it saturates at u_c + g_N/alpha + g_D/beta (NumPy and JAX alike)."""
    import jax.numpy as jnp

    from ladderfit.model.curves import single_step_logit

    u_c, g_N, g_D, alpha, beta, h = -0.7, 0.6, 0.3, 0.4, 0.25, 1e-6
    law = lambda x, z: single_step_logit(x, z, u_c, g_N / alpha, alpha, g_D / beta, beta)  # noqa: E731
    assert law(0.0, 0.0) == u_c
    assert abs((law(h, 0.0) - law(-h, 0.0)) / (2 * h) - g_N) < 1e-8
    assert abs((law(0.0, h) - law(0.0, -h)) / (2 * h) - g_D) < 1e-8
    assert abs(law(200.0, 200.0) - (u_c + g_N / alpha + g_D / beta)) < 1e-12
    on_jax = single_step_logit(jnp.asarray(1.0), 2.0, u_c, 1.5, alpha, 1.2, beta)
    assert isinstance(on_jax, jnp.ndarray)
    assert abs(float(on_jax) - single_step_logit(1.0, 2.0, u_c, 1.5, alpha, 1.2, beta)) < 1e-14


@pytest.mark.parametrize("with_reruns", [False, True])
def test_step1_sd_adds_the_measured_jitter_of_the_mean(with_reruns):
    """Step 1's sd is sqrt(sigma_loss^2 + j^2 / n): a run's deviation from the law and the
    measured noise of the mean of its last n evaluations (j the task loss's checkpoint jitter in
    log units), on the sampler's grid and per point, with and without seed reruns. With
    sigma_loss near 0 the sd is the measured part alone, not 0."""
    from numpyro import handlers

    from ladderfit.data.bundled import PAPER_LADDER_RUNS, load_olmo_ladder
    from ladderfit.data.preprocess import checkpoint_jitter
    from ladderfit.model.bayes import initial_values
    from ladderfit.model.inputs import build_model_data
    from ladderfit.model.joint import ladder_model
    from ladderfit.model.priors import resolve_priors

    df = load_olmo_ladder()
    runs = list(PAPER_LADDER_RUNS) + ([r for r in df["run"].unique() if r.endswith("-rerun")] if with_reruns else [])
    data = df[df["task"].isin(["hellaswag", "piqa"]) & df["run"].isin(runs)]
    md = build_model_data(data)
    assert (md.s1_nlast == 5).all() and bool(md.n_replicated) == with_reruns
    j = checkpoint_jitter(data, "task_loss", 0.1, log=True).reindex(md.tasks).to_numpy()
    assert (j > 0).all()
    want = np.sqrt(1e-6**2 + j[md.s1_task] ** 2 / 5)
    if with_reruns:  # the seed part of sigma_loss for the reruns' points: still the measured floor
        want = np.sqrt((1e-6 * 0.5) ** 2 * (md.s1_config >= 0) + 1e-6**2 * (md.s1_config < 0) + j[md.s1_task] ** 2 / 5)
    priors = resolve_priors(None, "two_step")
    for for_sampler in (True, False):
        values = initial_values(md, priors) if for_sampler else {}
        values.update(sigma_loss=np.full(md.n_tasks, 1e-6), seed_share=np.full(md.n_tasks, 0.5))
        model = handlers.substitute(handlers.seed(ladder_model, 0), data=values)
        site = handlers.trace(model).get_trace(md, priors, for_sampler=for_sampler)["loss_obs"]
        scale = np.asarray(site["fn"].base_dist.scale if hasattr(site["fn"], "base_dist") else site["fn"].scale)
        if scale.ndim == 2:  # the grid: a row per law, padding masked out
            index, _ = md.s1_grid()
            order = index[index >= 0]
            got = np.empty(len(md.s1_task))
            got[order] = scale[index >= 0]
            scale = got
        np.testing.assert_allclose(scale, want, rtol=1e-6)


@pytest.mark.parametrize(
    "devices, backend, chains, expected",
    [(4, "cpu", 4, "parallel"), (1, "cpu", 4, "sequential"), (1, "gpu", 4, "vectorized"), (1, "gpu", 1, "sequential"),
     (4, "gpu", 4, "parallel")],
)
def test_auto_chain_method_is_vectorized_on_one_gpu(monkeypatch, devices, backend, chains, expected):
    """``chain_method="auto"``: a device per chain runs them in parallel; one GPU runs them in
    lockstep (3x faster there than one after another, benchmarks/results/gpu_check.json);
    otherwise one after another. A method named explicitly is kept."""
    from ladderfit.model import bayes
    from ladderfit.model.config import FitConfig

    monkeypatch.setattr(bayes.jax, "local_device_count", lambda: devices)
    monkeypatch.setattr(bayes.jax, "default_backend", lambda: backend)
    assert bayes._chain_method(FitConfig(chains=chains)) == expected
    assert bayes._chain_method(FitConfig(chains=chains, chain_method="sequential")) == "sequential"
