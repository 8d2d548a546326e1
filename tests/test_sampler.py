"""The sampler's speed levers keep the posterior: the sigmoid sampled through its centre (same
prior, by its Jacobian), and draws sized by need."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from numpyro import handlers

import ladderfit
from ladderfit.model import bayes, joint
from ladderfit.model import draws as draws_module
from ladderfit.model.config import RETRY_WARMUP_FACTOR, FIRST_DRAWS, FitConfig
from ladderfit.model.priors import resolve_priors
from ladderfit.model.simulate import default_truths, simulate_ladder
from ladderfit.model.spec import ModelSpec

jax.config.update("jax_enable_x64", True)


def _theta(phi_w, phi_s, u_c, chance):
    """(floor shift, log k) from the sampler's (logit p_c, log s) at u_c, as the model maps them."""
    with handlers.seed(rng_seed=0), handlers.trace() as tr:
        with handlers.substitute(data={"centre_accuracy": phi_w, "centre_slope": phi_s}):
            from numpyro.distributions import Normal

            joint._curve_by_centre(u_c, chance, resolve_priors(), Normal(1.5, 0.5))
    return tr["floor_shift"]["value"], tr["log_k"]["value"], tr["curve_prior"]["fn"].log_prob(0.0)


def test_curve_by_centre_jacobian_is_exact():
    """The factor's log-Jacobian equals log |det d(delta, log k)/d(logit p_c, log s)| computed by
    autodiff at random points, so the sampler's density is the model's prior, re-expressed."""
    priors = resolve_priors()
    rng = np.random.default_rng(0)
    from numpyro.distributions import Normal

    k_prior = Normal(1.5, 0.5)
    for _ in range(20):
        w, s, u, c = rng.normal(0, 1.5), rng.normal(-1, 1), rng.normal(-1, 1.5), rng.choice([0.2, 0.25, 0.5])

        def to_theta(phi):
            d, lk, _ = _theta(phi[0], phi[1], u, c)
            return jnp.stack([d, lk])

        J = jax.jacfwd(to_theta)(jnp.array([w, s]))
        log_det = float(jnp.log(jnp.abs(jnp.linalg.det(J))))
        delta, log_k, factor = _theta(w, s, u, c)
        expected = float(ladderfit.model.priors.prior(priors, "floor_shift").log_prob(delta) + k_prior.log_prob(log_k) + log_det)
        assert float(factor) == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_secant_shift_is_the_centre_slope_over_the_secant():
    """For a term a e^{-alpha x} over [lo, hi]: exp(secant_shift) is its derivative at x = 0 over
    its secant slope, exactly; it tends to e^{alpha (lo + hi) / 2} as alpha Delta -> 0 (no
    cancellation) and is 0 for a range that is a point; secant_values inverts _slope_by_secant."""
    rng = np.random.default_rng(1)
    for _ in range(20):
        alpha, lo, hi = rng.uniform(0.05, 8.0), -rng.uniform(0.1, 1.5), rng.uniform(0.1, 1.5)
        secant = (np.exp(-alpha * lo) - np.exp(-alpha * hi)) / (hi - lo)  # per unit a
        assert float(np.exp(joint.secant_shift(alpha, lo, hi))) == pytest.approx(alpha / secant, rel=1e-10)
    assert float(joint.secant_shift(1e-9, -0.5, 0.3)) == pytest.approx(1e-9 * (-0.1), abs=1e-14)
    assert float(joint.secant_shift(2.0, 0.4, 0.4)) == 0.0
    md = bayes.build_model_data(simulate_ladder(default_truths(2, seed=3), seed=3).data, FitConfig(model="two_step").model)
    g_N, alpha, g_D, beta = np.array([0.04, 0.09]), np.array([0.3, 2.0]), np.array([0.05, 0.02]), np.array([0.5, 4.0])
    phi = joint.secant_values(md, g_N, alpha, g_D, beta)
    x_lo, x_hi, z_lo, z_hi = md.s1_ranges()
    assert (x_lo < 0).all() and (x_hi > 0).all() and (z_lo < 0).all() and (z_hi > 0).all()
    priors = resolve_priors()
    with handlers.trace() as tr:
        got = joint._slope_by_secant(jnp.asarray(phi["secant_slope_N"]), alpha, x_lo, x_hi, priors, "slope_N")
    np.testing.assert_allclose(np.asarray(got), g_N, rtol=1e-12)
    from numpyro.distributions import LogNormal

    expected = LogNormal(*priors["slope_N"][1]).log_prob(g_N).sum() + np.log(g_N).sum()  # p(g) |dg / dlog g_sec|
    assert float(tr["slope_N_prior"]["fn"].log_prob(0.0).sum()) == pytest.approx(float(expected), rel=1e-12)


def test_centre_values_invert_the_map():
    """initial_values' (logit p_c, log s) map back to the (delta, log k) they came from."""
    u, delta, log_k, chance = np.array([-2.0, 0.5]), np.array([0.01, -0.03]), np.array([1.2, 2.5]), np.array([0.25, 0.5])
    phi = joint.centre_values(u, delta, log_k, chance)
    from numpyro.distributions import Normal

    for t in range(2):
        d, lk, _ = _theta(phi["centre_accuracy"][t], phi["centre_slope"][t], u[t], chance[t])
        assert float(d) == pytest.approx(delta[t], abs=1e-10)
        assert float(lk) == pytest.approx(log_k[t], abs=1e-10)
    assert Normal  # the import above is the one _theta uses


@pytest.fixture(scope="module")
def one_task():
    sim = simulate_ladder(default_truths(1, seed=2), seed=2)
    return sim.data


def test_draws_by_need_continue_when_the_ess_is_short(one_task):
    """draws=None: FIRST_DRAWS (700) per chain, then more (no new warmup) in chunks of
    EXTEND_CHUNK while the ESS is below the target, up to max_draws; a reachable target stops at
    the first 700; a number is exact."""
    common = dict(chains=2, warmup=150, seed=0, progress_bar=False)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ladderfit.ConvergenceWarning)
        short = ladderfit.fit(one_task, model="two_step", ess_target=50.0, **common)
        more = ladderfit.fit(one_task, model="two_step", ess_target=1e6, max_draws=850, **common)
        exact = ladderfit.fit(one_task, model="two_step", draws=120, ess_target=1e6, **common)
    n0 = FitConfig().first_draws
    assert n0 == FIRST_DRAWS == 700
    # a reachable ESS target: the first 700 draws, continued only while R-hat is above 1.01, by
    # one chunk each time (at most twice)
    def r_hat_met(n):
        first = short.idata.isel(draw=slice(0, n))
        report = bayes.Draws({k: v.values for k, v in first.posterior.items()},
                             {"diverging": first.sample_stats["diverging"].values}).convergence()
        return report.as_dict()["max_r_hat"] <= 1.01

    chunk = bayes.EXTEND_CHUNK
    expected = n0 if r_hat_met(n0) else n0 + chunk if r_hat_met(n0 + chunk) else n0 + 2 * chunk
    assert short.idata.posterior.sizes["draw"] == expected
    assert more.idata.posterior.sizes["draw"] == 850
    assert exact.idata.posterior.sizes["draw"] == 120
    # the continued chains are one sample: no jump in the mean between the two runs
    x = more.idata.posterior["L0"].values[..., 0]
    first, second = x[:, :n0].mean(), x[:, n0:].mean()
    assert abs(first - second) < 4 * x.std() / np.sqrt(40)
    assert more.provenance["sampler"]["draws_taken"] == 850
    # how many and why, said with the fit
    assert "850 draws per chain: the first 700 had ESS" in more.idata.sample_stats.attrs["ladderfit_draws"]
    assert exact.idata.sample_stats.attrs["ladderfit_draws"] == "120 draws per chain (as asked)"


def test_more_draws_projects_the_ess_in_whole_chunks_and_stops_at_max_draws():
    """A continuation adds what the ESS so far projects, a quarter more for margin, in whole
    chunks; R-hat alone short adds one chunk; nothing goes past max_draws."""
    c, chunk = FitConfig(), bayes.EXTEND_CHUNK
    assert bayes.more_draws(500, 400.0, c) == chunk  # ESS met: R-hat alone is short
    # 500 draws gave ESS 300: 1.25 * 500 * 400 / 300 = 833 draws, 333 more: two chunks
    assert bayes.more_draws(500, 300.0, c) == 2 * chunk
    assert bayes.more_draws(500, 399.0, c) == chunk
    assert bayes.more_draws(1100, 10.0, c) == c.max_draws - 1100  # cut at max_draws
    assert bayes.more_draws(c.max_draws, 10.0, c) == 0
    assert bayes.more_draws(500, 0.0, c) == c.max_draws - 500  # no ESS at all: as far as allowed


def test_draws_by_need_is_documented_in_the_config():
    c = FitConfig()
    assert c.draws is None and c.first_draws == 700 and c.ess_target == 400 and c.max_draws == 1200
    with pytest.raises(ValueError, match="ess_target"):
        FitConfig(ess_target=0)
    with pytest.raises(ValueError, match="draws"):
        FitConfig(draws=0)
    assert FitConfig.from_json(FitConfig(draws=None).to_json()).draws is None


def test_sampler_geometry_matches_the_model_posterior(one_task):
    """NUTS in the sampler's geometry and in the model's own give the same posterior of the
    sigmoid and of step 1's slopes and level (within Monte Carlo error) on a simulated task."""
    from numpyro.infer import MCMC, NUTS, init_to_value

    config = FitConfig(chains=2, warmup=300, draws=400, progress_bar=False, model="two_step")
    md = bayes.build_model_data(one_task, config.model, config.preprocessing)
    priors = resolve_priors()
    out = {}
    for geometry in (True, False):
        kernel = NUTS(joint.ladder_model, init_strategy=init_to_value(values=bayes.initial_values(md, priors)))
        mcmc = MCMC(kernel, num_warmup=300, num_samples=400, num_chains=2, chain_method="sequential", progress_bar=False)
        mcmc.run(jax.random.PRNGKey(0), md, priors, for_sampler=geometry)
        out[geometry] = {k: np.asarray(mcmc.get_samples()[k]).ravel()
                         for k in ("floor_shift", "log_k", "logit_centre", "slope_N", "slope_D", "level")}
    for k in out[True]:
        a, b = out[True][k], out[False][k]
        sd = np.sqrt((a.var() + b.var()) / 2)
        assert abs(a.mean() - b.mean()) < 0.35 * sd, k  # ~ 4 MCSE at an ESS of ~200
        assert 0.7 < a.std() / b.std() < 1.4, k


def test_run_offsets_integrated_out_give_the_posterior_of_the_drawn_ones(one_task):
    """Run effects: NUTS with the offsets integrated out (the sampler's model) and NUTS drawing
    them as parameters (``run_z``, the model's own form) give the same posterior of the curve,
    both noise ratios and, through the conditional draws, the offsets (within Monte Carlo error)."""
    from numpyro.infer import MCMC, NUTS, init_to_value

    from ladderfit.model.spec import ModelSpec

    md = bayes.build_model_data(one_task, ModelSpec(run_effects=True), FitConfig().preprocessing)
    priors = resolve_priors()
    init = bayes.initial_values(md, priors)
    names = ("floor_shift", "log_k", "logit_centre", "noise_ratio", "checkpoint_ratio")
    out = {}
    for marginal in (True, False):
        values = init if marginal else {**init, "run_z": np.zeros((md.n_tasks, md.n_runs))}
        kernel = NUTS(joint.ladder_model, init_strategy=init_to_value(values=values), target_accept_prob=0.95)
        mcmc = MCMC(kernel, num_warmup=400, num_samples=500, num_chains=2, chain_method="sequential", progress_bar=False)
        mcmc.run(jax.random.PRNGKey(0), md, priors, for_sampler=marginal)
        draws = {k: np.asarray(v) for k, v in mcmc.get_samples().items()}
        if marginal:  # the offsets from their conditional given each draw, as fit() draws them (the
            # sampler records floor_shift and log_k, drawn through the sigmoid's centre, as deterministic sites)
            latent = {k: v for k, v in draws.items() if k in joint.SAMPLED_SITES}
            draws["run_effect"] = draws_module._run_effect_draws(joint.ladder_model, md, priors, latent, seed=0)["run_effect"]
        out[marginal] = {k: draws[k].reshape(len(draws[k]), -1) for k in names + ("run_effect",)}
    for k in out[True]:
        for j in range(out[True][k].shape[1]):
            a, b = out[True][k][:, j], out[False][k][:, j]
            sd = np.sqrt((a.var() + b.var()) / 2)
            assert abs(a.mean() - b.mean()) < 0.35 * sd, (k, j)  # ~ 4 MCSE at an ESS of ~200
            assert 0.7 < a.std() / b.std() < 1.4, (k, j)


def _ragged_shuffled_ladder():
    """Three simulated tasks with run effects; task 1 keeps ~40% of its checkpoints, and the
    checkpoints are shuffled: a grid with padding, in no particular order."""
    from ladderfit.model.spec import ModelSpec

    df = simulate_ladder(default_truths(3, seed=1), seed=1).data
    md = bayes.build_model_data(df, ModelSpec(run_effects=True))
    rng = np.random.default_rng(3)
    keep = np.flatnonzero(~((md.s2_task == 1) & (rng.random(len(md.s2_task)) < 0.6)))  # task 1: fewer
    keep = rng.permutation(keep)
    return dataclasses.replace(md, **{f: getattr(md, f)[keep] for f in
                                      ("s2_task", "s2_run", "s2_step", "s2_loss", "s2_acc", "s2_nsmooth")})


def _checkpoint_logpdf(md, v):
    """The docstring's step-2 likelihood, checkpoint by checkpoint, at the traced values ``v``."""
    from scipy.stats import norm

    t, r = md.s2_task, md.s2_run
    u = v["logit_centre"][t] - v["k"][t] * (md.s2_loss - md.loss_centre[t])
    q = 1 / (1 + np.exp(-u))
    f = v["floor"][t]
    mean = f + (1 - f) * q + v["run_effect"][t, r]
    return norm.logpdf(md.s2_acc, mean, np.sqrt(_checkpoint_var(md, v)))


def _checkpoint_var(md, v):
    """With run effects: a checkpoint's variance around its run's offset (its scatter within the
    run, then the measured jitter and the loss noise through the curve's slope)."""
    t = md.s2_task
    u = v["logit_centre"][t] - v["k"][t] * (md.s2_loss - md.loss_centre[t])
    q = 1 / (1 + np.exp(-u))
    slope = (1 - v["floor"][t]) * q * (1 - q) * v["k"][t]
    return v["sigma_checkpoint"][t] ** 2 + (md.acc_jitter[t] ** 2 + (slope * md.loss_noise[t]) ** 2) / md.s2_nsmooth


def _run_marginal_logpdf(md, v):
    """The same with each run's offset integrated out: per (task, run) a normal of covariance
    diag(var) + sigma_acc^2 11^T, by scipy's dense multivariate normal."""
    from scipy.stats import multivariate_normal

    t, r = md.s2_task, md.s2_run
    u = v["logit_centre"][t] - v["k"][t] * (md.s2_loss - md.loss_centre[t])
    mean = v["floor"][t] + (1 - v["floor"][t]) / (1 + np.exp(-u))
    var, total = _checkpoint_var(md, v), 0.0
    for task, run in set(zip(t.tolist(), r.tolist())):
        i = np.flatnonzero((t == task) & (r == run))
        cov = np.diag(var[i]) + v["sigma_acc"][task] ** 2
        total += multivariate_normal(mean[i], cov).logpdf(md.s2_acc[i])
    return total


def test_step2_grid_gives_each_checkpoint_its_own_likelihood():
    """The step-2 likelihood, computed on the (task, checkpoint) grid for speed, equals the
    per-checkpoint formula of the docstring, checkpoint by checkpoint, on ragged data (tasks
    with different numbers of checkpoints) in shuffled order, with run effects."""
    md = _ragged_shuffled_ladder()
    index, position = md.s2_grid()
    assert index.shape == (3, np.bincount(md.s2_task).max()) and (index < 0).any()
    assert np.array_equal(index.ravel()[position], np.arange(len(md.s2_task)))
    priors = resolve_priors()
    with handlers.seed(rng_seed=4), handlers.trace() as tr:
        joint.ladder_model(md, priors)
    v = {k: np.asarray(s["value"]) for k, s in tr.items()}
    site = tr["acc_obs"]
    np.testing.assert_allclose(np.asarray(site["fn"].log_prob(site["value"])), _checkpoint_logpdf(md, v), rtol=1e-12)


def test_run_offsets_are_drawn_from_their_gaussian_conditional():
    """The offsets NUTS integrated out are drawn from nu | curve, data: per (task, run), the
    mean and variance of Gaussian conditioning with the dense covariance diag(d) + s^2 11^T
    (checked on 3 tasks x 4 runs, ragged, with 20,000 draws: means within 4 MCSE, variances
    within 3%); padding and a run without checkpoints leave the prior N(0, s^2)."""
    rng = np.random.default_rng(0)
    T, C, R = 3, 9, 4
    run = rng.integers(0, R - 1, size=(T, C))  # run R-1 has no checkpoints
    valid = rng.random((T, C)) > 0.2
    onehot = ((run[..., None] == np.arange(R)) & valid[..., None]).astype(float)
    var = np.where(valid, rng.uniform(1e-5, 4e-5, (T, C)), np.inf)
    resid = rng.normal(0, 0.01, (T, C))
    s = np.array([0.004, 0.01, 0.02])
    S = 20000
    nu = np.asarray(joint.run_effect_conditional(jax.random.PRNGKey(1), np.broadcast_to(resid, (S, T, C)),
                                                 np.broadcast_to(var, (S, T, C)), onehot, np.broadcast_to(s, (S, T))))
    for t in range(T):
        for r in range(R):
            i = np.flatnonzero(onehot[t, :, r] > 0)
            if len(i) == 0:
                mean, v = 0.0, s[t] ** 2
            else:
                cov = np.diag(var[t, i]) + s[t] ** 2
                gain = s[t] ** 2 * np.linalg.solve(cov, np.ones(len(i)))
                mean, v = gain @ resid[t, i], s[t] ** 2 - s[t] ** 2 * gain.sum()
            draws = nu[:, t, r]
            assert abs(draws.mean() - mean) < 4 * np.sqrt(v / S), (t, r)
            assert draws.var() == pytest.approx(v, rel=0.03), (t, r)


@pytest.mark.parametrize("dtype, rtol", [("float64", 1e-12), ("float32", 1e-6)])
def test_sampler_observes_each_step_on_a_grid_with_the_same_likelihood(dtype, rtol):
    """For NUTS (``for_sampler=True``) each step's points are one term of the density, computed
    on a grid with padding (a task with fewer points, shuffled order): the terms equal the
    per-point sums of the docstring's likelihoods, to float64 precision, and to 1e-6 with the
    checkpoints' terms in float32; with run effects, the checkpoints' term is their density
    with each run's offset integrated out (a dense multivariate normal per run)."""
    from scipy.stats import norm

    md = _ragged_shuffled_ladder()
    keep1 = np.flatnonzero(~((md.s1_task == 2) & (np.cumsum(md.s1_task == 2) % 3 == 0)))  # ragged
    md = dataclasses.replace(md, **{f: getattr(md, f)[keep1] for f in
                                    ("s1_task", "s1_run", "s1_x", "s1_z", "s1_loss", "s1_acc", "s1_nlast", "s1_config")})
    assert (md.s1_grid()[0] < 0).any() and (md.s2_grid()[0] < 0).any()
    priors = resolve_priors()
    with handlers.seed(rng_seed=5), handlers.trace() as prior_tr:
        joint.ladder_model(md, priors)
    u = {k: np.asarray(s["value"]) for k, s in prior_tr.items()}
    centre = {**joint.centre_values(u["logit_centre"], u["floor_shift"], u["log_k"], md.chance),
              **joint.secant_values(md, u["slope_N"], u["alpha"], u["slope_D"], u["beta"])}  # the sampler's geometry
    with handlers.seed(rng_seed=5), handlers.substitute(data=centre), handlers.trace() as tr:
        joint.ladder_model(md, priors, for_sampler=True, likelihood_dtype=dtype)
    v = {k: np.asarray(s["value"]) for k, s in tr.items()}
    acc_term = float(tr["acc_obs"]["fn"].log_prob(tr["acc_obs"]["value"]).sum())
    # run effects: NUTS integrates each run's offset out (in float64 whatever the dtype)
    np.testing.assert_allclose(acc_term, _run_marginal_logpdf(md, v), rtol=1e-10)
    plain = dataclasses.replace(md, spec=dataclasses.replace(md.spec, run_effects=False))
    with handlers.seed(rng_seed=5), handlers.substitute(data=centre), handlers.trace() as tr0:
        joint.ladder_model(plain, priors, for_sampler=True, likelihood_dtype=dtype)
    v0 = {k: np.asarray(s["value"]) for k, s in tr0.items()}
    t = md.s2_task
    u = v0["logit_centre"][t] - v0["k"][t] * (md.s2_loss - md.loss_centre[t])
    q = 1 / (1 + np.exp(-u))
    slope = (1 - v0["floor"][t]) * q * (1 - q) * v0["k"][t]
    sd = np.sqrt(v0["sigma_acc"][t] ** 2 + (md.acc_jitter[t] ** 2 + (slope * md.loss_noise[t]) ** 2) / md.s2_nsmooth)
    expected = norm.logpdf(md.s2_acc, v0["floor"][t] + (1 - v0["floor"][t]) * q, sd).sum()
    np.testing.assert_allclose(float(tr0["acc_obs"]["fn"].log_prob(tr0["acc_obs"]["value"]).sum()), expected, rtol=rtol)
    t1 = md.s1_task
    a, b = v["A"] * np.exp(-v["alpha"] * md.logN_c), v["B"] * np.exp(-v["beta"] * md.logD_c)  # at the centre
    mean1 = np.log(v["E"][t1] + a[t1] * np.exp(-v["alpha"][t1] * md.s1_x) + b[t1] * np.exp(-v["beta"][t1] * md.s1_z))
    loss_term = np.asarray(tr["loss_obs"]["fn"].log_prob(tr["loss_obs"]["value"])).sum()
    # step 1's sd: a run's deviation from the law and the measured noise of its mean of n evaluations
    sd1 = np.sqrt(v["sigma_loss"][t1] ** 2 + (md.loss_noise / md.loss_centre)[t1] ** 2 / md.s1_nlast)
    assert (sd1 > v["sigma_loss"][t1]).all()
    np.testing.assert_allclose(loss_term, norm.logpdf(np.log(md.s1_loss), mean1, sd1).sum(), rtol=1e-12)


def test_float32_likelihood_gives_the_float64_posterior():
    """The checkpoints' terms in float32 (the default) leave the posterior as float64 gives it,
    on real data (three tasks of the bundled ladder, 873 checkpoints): the log density at the
    posterior draws within 0.01 nats, and every parameter's mean and sd within Monte Carlo error."""
    from numpyro.infer.util import log_density

    tasks = ["arc_easy", "hellaswag", "piqa"]
    fits = {flag: ladderfit.fit(model="two_step", tasks=tasks, float32_likelihood=flag, progress_bar=False) for flag in (True, False)}
    fit = fits[True]
    md, priors = fit.model_data, fit.priors
    post = fit.idata.posterior
    sampled = {k: post[k].values for k in post.data_vars if k in joint.SAMPLED_SITES}
    centre = {**joint.centre_values(sampled["logit_centre"], sampled["floor_shift"], sampled["log_k"], md.chance),
              **joint.secant_values(md, sampled["slope_N"], post["alpha"].values, sampled["slope_D"], post["beta"].values)}
    params = {k: v for k, v in {**sampled, **centre}.items() if k not in ("floor_shift", "log_k", "slope_N", "slope_D")}
    gaps = []
    for c, d in [(0, 0), (1, 100), (2, 200), (3, 399)]:
        point = {k: v[c, d] for k, v in params.items()}
        lp = {dt: log_density(joint.ladder_model, (md, priors), dict(for_sampler=True, likelihood_dtype=dt), point)[0]
              for dt in ("float32", "float64")}
        gaps.append(abs(float(lp["float32"]) - float(lp["float64"])))
    assert max(gaps) < 0.01, gaps
    for name, a in sampled.items():
        a, b = a.reshape(-1, *a.shape[2:]), fits[False].idata.posterior[name].values
        b = b.reshape(-1, *b.shape[2:])
        sd = np.sqrt((a.var(0) + b.var(0)) / 2)
        assert np.all(np.abs(a.mean(0) - b.mean(0)) < 0.2 * sd), name  # ~ 4 MCSE of the difference at ESS ~800 each
        assert np.all((0.75 < a.std(0) / b.std(0)) & (a.std(0) / b.std(0) < 1.33)), name


def test_float32_likelihood_is_a_checked_switch_saved_with_the_fit():
    assert FitConfig().float32_likelihood is True
    assert bayes.sampler_options(FitConfig())["likelihood_dtype"] == "float32"
    assert bayes.sampler_options(FitConfig(float32_likelihood=False))["likelihood_dtype"] == "float64"
    assert FitConfig.from_json(FitConfig(float32_likelihood=False).to_json()).float32_likelihood is False
    with pytest.raises(ValueError, match="float32_likelihood must be True or False"):
        FitConfig(float32_likelihood="no")


# ---- the single step's geometry: the floor and logit slopes through the centre's accuracy and slopes

POPS = ((0.2, 0.6), (-0.5, 0.8))  # the slopes' populations (mu, tau) of log g_N, log g_D


def _single_theta(phi, u_c, chance, measured=(True, True), one_length=False, shifts=None):
    """(floor shift, log g_N, log g_D), the prior factor, and the prior of (delta, log g) there,
    from the sampler's (centre accuracy, N slope, D slope) sites (``shifts``: the secant shifts, (2,))."""
    from numpyro.distributions import Normal

    data = {"centre_accuracy": phi[0], "centre_slope_N": phi[1], "centre_slope_D": phi[2]}
    with handlers.seed(rng_seed=0), handlers.trace() as tr, handlers.substitute(data=data):
        joint._single_step_by_centre(u_c, chance, resolve_priors(), POPS, np.array([measured]), one_length,
                                     None if shifts is None else jnp.asarray([shifts]))
    theta = jnp.stack([jnp.ravel(tr["floor_shift"]["value"])[0], jnp.log(jnp.ravel(tr["logit_slope_N"]["value"])[0]),
                       jnp.log(jnp.ravel(tr["logit_slope_D"]["value"])[0])])
    expected = (ladderfit.model.priors.prior(resolve_priors(), "floor_shift").log_prob(theta[0])
                + Normal(*POPS[0]).log_prob(theta[1]) + Normal(*POPS[1]).log_prob(theta[2]))
    return theta, tr["curve_prior"]["fn"].log_prob(0.0).sum(), expected


MEASURED = [(True, True, False), (True, False, False), (False, True, False), (False, False, False),
            (True, False, True), (False, False, True)]  # (N slope measured, D slope measured, one length)


@pytest.mark.parametrize("measured", MEASURED)
def test_single_step_by_centre_jacobian_is_exact(measured):
    """The single step's factor is the prior of (delta, log g_N, log g_D) plus log |det| of the
    map from the sampler's sites, by autodiff at random points, for every mix of measured
    slopes (through the centre's accuracy and slopes) and unmeasured ones (as in the model;
    the D slope of a ladder of one length non-centred)."""
    rng = np.random.default_rng(1)
    for _ in range(20):
        phi = jnp.array([rng.normal(0, 1.5) if measured[0] else rng.normal(0, 0.05), rng.normal(-2, 1), rng.normal(-2, 1)])
        u, c = rng.normal(-1, 1.5), rng.choice([0.2, 0.25, 0.5])
        shifts = rng.normal(0.3, 0.2, 2)  # an axis of two values: the measured slope is the secant's
        J = jax.jacfwd(lambda p: _single_theta(p, u, c, measured[:2], measured[2], shifts)[0])(phi)
        log_det = float(jnp.log(jnp.abs(jnp.linalg.det(J))))
        _, factor, prior_part = _single_theta(phi, u, c, measured[:2], measured[2], shifts)
        assert float(factor) == pytest.approx(float(prior_part) + log_det, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("measured", MEASURED)
def test_single_step_centre_values_invert_the_map(measured):
    """initial_values' sampler sites map back to the (delta, g_N, g_D) they came from."""
    u, delta = np.array([-2.0, 0.5]), np.array([0.01, -0.03])
    g_N, g_D, chance = np.array([0.3, 1.2]), np.array([0.05, 0.8]), np.array([0.25, 0.5])
    shifts = np.array([[0.0, 0.4], [0.25, 0.0]])  # secant shifts: an axis of two values
    phi = joint.single_step_centre_values(u, delta, g_N, g_D, chance, np.array([measured[:2]] * 2), POPS, measured[2],
                                          shifts)
    for t in range(2):
        theta, _, _ = _single_theta([phi[k][t] for k in ("centre_accuracy", "centre_slope_N", "centre_slope_D")],
                                    u[t], chance[t], measured[:2], measured[2], shifts[t])
        np.testing.assert_allclose(np.asarray(theta), [delta[t], np.log(g_N[t]), np.log(g_D[t])], atol=1e-10)


def test_single_step_slope_on_two_sizes_is_drawn_by_its_secant():
    """On a sub-ladder of two sizes (OLMo's two smallest) the sampler draws a task's measured N
    slope through its secant: the logit's rise between the two sizes over their log distance is
    exp(centre_slope_N) / (dacc/du at the centre), whatever the exponent alpha; the D slope
    (four lengths) stays the centre's."""
    import warnings

    from ladderfit.analysis.holdouts import default_pool

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        olmo = ladderfit.load_olmo_ladder()
    pool = [r for r in default_pool(olmo) if r.startswith(("190M-", "370M-"))]
    small = olmo[olmo["run"].isin(pool)]
    md = bayes.build_model_data(small, ModelSpec.parse("single_step"), FitConfig().preprocessing)
    assert joint.secant_axes(md)[:, 0].all() and not joint.secant_axes(md)[:, 1].any()
    measured = joint.measured_slopes(md)
    t = md.tasks.index("hellaswag")
    assert measured[t, 0]
    priors = resolve_priors(None, "single_step")
    values = {k: np.asarray(v) for k, v in bayes.initial_values(md, priors).items()
              if k not in ("floor_shift", "logit_slope_N", "logit_slope_D")}  # the sampler's sites only
    lo, hi = joint.single_step_ranges(md)[t, 0]
    rises = []
    for alpha_z in (-1.5, 0.0, 1.5):
        data = {**values, "alpha_z": np.full(md.n_tasks, alpha_z)}
        with handlers.seed(rng_seed=0), handlers.trace() as tr, handlers.substitute(data=data):
            joint.single_step_model(md, priors, for_sampler=True)
        g, alpha = float(tr["logit_slope_N"]["value"][t]), float(tr["alpha"]["value"][t])
        rise = g / alpha * (np.exp(-alpha * lo) - np.exp(-alpha * hi))  # u(hi) - u(lo) in the N term
        rises.append(rise / (hi - lo))
    np.testing.assert_allclose(rises, rises[0], rtol=1e-9)  # the secant does not move with alpha


def _single_step_nuts(seed: int, geometry: bool, samples: int = 500):
    """NUTS on a simulated 2-task ladder in the sampler's geometry or the model's own: (draws, mean steps)."""
    from numpyro.infer import MCMC, NUTS, init_to_value

    df = simulate_ladder(default_truths(2, seed=seed), seed=seed).data
    md = bayes.build_model_data(df, ModelSpec.parse("single_step"), FitConfig().preprocessing)
    priors = resolve_priors(structure="single_step")
    kernel = NUTS(joint.single_step_model, init_strategy=init_to_value(values=bayes.initial_values(md, priors)))
    mcmc = MCMC(kernel, num_warmup=300, num_samples=samples, num_chains=2, chain_method="sequential", progress_bar=False)
    mcmc.run(jax.random.PRNGKey(1), md, priors, for_sampler=geometry, extra_fields=("num_steps",))
    return mcmc.get_samples(), float(np.mean(mcmc.get_extra_fields()["num_steps"]))


def test_single_step_geometry_matches_the_model_posterior():
    """NUTS in the single step's sampler geometry and in the model's own give the same posterior
    (within Monte Carlo error) on a simulated 2-task ladder; over three simulated ladders the
    sampler's geometry takes fewer leapfrog steps (on one of them, seed 4, it does not: the
    steps per draw vary by 30-50% between sampler seeds on a ladder this easy)."""
    out, steps = {}, {True: 0.0, False: 0.0}
    for geometry in (True, False):
        s, steps[geometry] = _single_step_nuts(4, geometry)
        out[geometry] = {k: np.asarray(s[k]) for k in ("floor_shift", "logit_slope_N", "logit_slope_D", "logit_centre", "alpha",
                                                       "logit_slope_N_by_centre", "logit_slope_D_by_centre")}
    for k in out[True]:
        a, b = out[True][k], out[False][k]
        sd = np.sqrt((a.var(0) + b.var(0)) / 2)
        assert np.all(np.abs(a.mean(0) - b.mean(0)) < 0.35 * sd), k
        assert np.all((0.7 < a.std(0) / b.std(0)) & (a.std(0) / b.std(0) < 1.4)), k
    for seed in (5, 6):
        for geometry in (True, False):
            steps[geometry] += _single_step_nuts(seed, geometry, samples=300)[1]
    assert steps[True] < steps[False], steps


def _fake_draws(n_div: int) -> "bayes.Draws":
    """A run of 4 x 500 independent draws (it meets R-hat and ESS) with ``n_div`` divergences."""
    diverging = np.zeros((4, 500), bool)
    diverging.flat[:n_div] = True
    x = np.random.default_rng(n_div).standard_normal((4, 500))
    return bayes.Draws({"alpha_mu": x}, {"diverging": diverging}, note="10 draws per chain")


@pytest.mark.parametrize("first_div, retry, runs", [(3, 0.99, 2), (0, 0.99, 1), (3, None, 1), (3, 0.9, 1)])
def test_divergent_fit_is_sampled_again_with_smaller_steps(monkeypatch, first_div, retry, runs):
    """Divergences at target_accept: one new run (new warmup, same seed) at retry_target_accept,
    said in the draws' note, and the config returned records the target its draws came from;
    none, no retry asked for, or a retry target not above the first: the first run stands."""
    seen = []

    def fake_sample(mcmc, config, md, *args, **kwargs):
        seen.append((config.target_accept, config.seed))
        return _fake_draws(first_div if len(seen) == 1 else 0)

    monkeypatch.setattr(bayes, "sample", fake_sample)
    monkeypatch.setattr(bayes, "make_mcmc", lambda md, priors, config: None)
    config = FitConfig(retry_target_accept=retry, seed=7)
    used, draws = bayes.sample_converging(None, {}, config)
    assert len(seen) == runs and all(s == 7 for _, s in seen)
    if runs == 2:
        assert [t for t, _ in seen] == [0.95, 0.99] and used.target_accept == 0.99
        assert draws.note == ("10 draws per chain; sampled again at target_accept 0.99 (smaller steps): "
                              "3 divergent transitions at target_accept 0.95")
        assert int(draws.extra["diverging"].sum()) == 0
    else:
        assert used.target_accept == 0.95 and draws.note == "10 draws per chain"
        assert int(draws.extra["diverging"].sum()) == first_div


def test_retry_target_accept_is_checked():
    assert FitConfig().retry_target_accept == 0.99
    for bad in (0.0, 1.0, 1.5, "high"):
        with pytest.raises(ValueError, match="retry_target_accept"):
            FitConfig(retry_target_accept=bad)


def test_a_fit_that_diverges_is_sampled_again_and_says_so(one_task):
    """In a real fit: large steps (target_accept 0.3) diverge on the simulated task; the fit warms
    up again at retry_target_accept, keeps only those draws and records the target it used."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ladderfit.ConvergenceWarning)
        fit = ladderfit.fit(one_task, model="single_step", chains=2, warmup=150, draws=100, seed=0,
                            progress_bar=False, target_accept=0.3)
    note = fit.idata.sample_stats.attrs["ladderfit_draws"]
    assert "sampled again at target_accept 0.99 (smaller steps)" in note and "transitions at target_accept 0.3" in note
    assert fit.config.target_accept == fit.provenance["sampler"]["target_accept"] == 0.99
    assert int(fit.idata.sample_stats["diverging"].sum()) == 0
    assert fit.idata.posterior.sizes["draw"] == 100


class _ScriptedMCMC:
    """What :func:`bayes.sample` needs of NumPyro's MCMC, drawing N(0, 1) and diverging from the
    ``diverge_from``-th call to ``run`` on (0: the first run)."""

    def __init__(self, first: int, diverge_from: int):
        self.num_samples, self.calls, self.diverge_from = first, 0, diverge_from
        self.rng, self.last_state, self.post_warmup_state = np.random.default_rng(0), None, None

    def run(self, key, *args, **kwargs):
        self.calls += 1
        self.x = self.rng.standard_normal((2, self.num_samples))
        self.div = np.zeros((2, self.num_samples), bool)
        self.div[0, 0] = self.calls > self.diverge_from
        self.last_state = type("State", (), {"rng_key": key})()

    def get_samples(self, group_by_chain=True):
        return {"alpha_mu": self.x}  # a site the convergence report reads

    def get_extra_fields(self, group_by_chain=True):
        return {"diverging": self.div, "num_steps": np.ones_like(self.x)}


@pytest.mark.parametrize("stop", [True, False])
def test_a_run_to_be_sampled_again_draws_no_more_after_a_divergence(stop):
    """stop_if_divergent (a first run that sample_converging will sample again): no chunk after
    the one where a transition diverged; otherwise the chains go on to what the ESS asks."""
    config = FitConfig(ess_target=1e6, max_draws=1100, progress_bar=False)
    mcmc = _ScriptedMCMC(config.first_draws, diverge_from=1)  # the first chunk diverges
    draws = bayes.sample(mcmc, config, None, stop_if_divergent=stop)
    assert draws.n_draws == (config.first_draws + bayes.EXTEND_CHUNK if stop else 1100)
    assert ("stopped at a divergent transition" in draws.note) == stop
    mcmc = _ScriptedMCMC(config.first_draws, diverge_from=0)  # the first run diverges: no chunk at all
    assert bayes.sample(mcmc, config, None, stop_if_divergent=stop).n_draws == (config.first_draws if stop else 1100)


def test_a_retry_that_diverges_more_keeps_the_first_run(monkeypatch):
    """Smaller steps that diverge more often (a funnel, not the step), also after a longer warmup:
    the first run is kept, with its target_accept and warmup, and the note gives every count."""
    counts = iter([2, 5, 4])
    monkeypatch.setattr(bayes, "sample", lambda mcmc, config, md, *a, **k: _fake_draws(next(counts)))
    monkeypatch.setattr(bayes, "make_mcmc", lambda md, priors, config: None)
    used, draws = bayes.sample_converging(None, {}, FitConfig())
    assert used.target_accept == 0.95 and used.warmup == 300 and int(draws.extra["diverging"].sum()) == 2
    assert draws.note == ("10 draws per chain; 2 divergent transitions at target_accept 0.95, and when sampled "
                          "again 5 at 0.99, 4 at 0.99 after 600 warmup iterations: the first run is kept")


@pytest.mark.parametrize("counts, kept", [((3, 2, 0), 2), ((3, 1, 2), 1), ((3, 2, 1), 2), ((3, 2, 2), 2)])
def test_a_retry_that_still_diverges_is_warmed_up_longer(monkeypatch, counts, kept):
    """A second run (at retry_target_accept) that still diverges: a third, at the same target and
    seed, warmed up RETRY_WARMUP_FACTOR times as long; each later run is kept unless it diverged
    more often per draw than the one kept before it, and the config returned is the kept run's.
    The runs that a later one may replace stop at a divergence; the last one does not."""
    seen, results = [], iter(counts)

    def fake_sample(mcmc, config, md, *args, stop_if_divergent=False, **kwargs):
        seen.append((config.target_accept, config.warmup, config.seed, stop_if_divergent))
        return _fake_draws(next(results))

    monkeypatch.setattr(bayes, "sample", fake_sample)
    monkeypatch.setattr(bayes, "make_mcmc", lambda md, priors, config: None)
    used, draws = bayes.sample_converging(None, {}, FitConfig(seed=3))
    longer = RETRY_WARMUP_FACTOR * 300
    assert seen == [(0.95, 300, 3, True), (0.99, 300, 3, True), (0.99, longer, 3, False)]
    assert (used.target_accept, used.warmup) == ((0.99, longer) if kept == 2 else (0.99, 300))
    assert int(draws.extra["diverging"].sum()) == counts[kept]
    if kept == 2:
        assert draws.note.startswith(f"10 draws per chain; sampled again at target_accept 0.99 (smaller steps) after "
                                     f"{longer} warmup iterations: 3 divergent transitions at target_accept 0.95; {counts[1]} at 0.99")
    else:
        assert draws.note == ("10 draws per chain; sampled again at target_accept 0.99 (smaller steps): 3 divergent "
                              f"transitions at target_accept 0.95; 2 at 0.99 after {longer} warmup iterations")


def test_single_step_slope_population_mean_moves_with_the_centre_logit():
    """log g_{N,t} ~ N(mu + c 3 tanh((u_c,t + 2) / 3), tau) in the model's own parameterization
    (likewise g_D): linear in the centre logit near -2, bounded by 3 logits; with the prior of c
    Fixed at 0 the model has one mean and no site for c."""
    from numpyro.distributions import LogNormal

    df = simulate_ladder(default_truths(3, seed=2), seed=2).data
    md = bayes.build_model_data(df, ModelSpec.parse("single_step"), FitConfig().preprocessing)
    priors = resolve_priors(structure="single_step")
    u_c, g = jnp.array([-4.0, -2.0, 7.5]), jnp.array([0.4, 0.5, 0.3])
    values = {"logit_centre": u_c, "logit_slope_N": g, "logit_slope_D": g, "logit_slope_N_mu": -0.7,
              "logit_slope_N_tau": 0.4, "logit_slope_N_by_centre": -0.3, "logit_slope_D_mu": -0.5,
              "logit_slope_D_tau": 0.6, "logit_slope_D_by_centre": 0.2}
    with handlers.seed(rng_seed=0), handlers.trace() as tr, handlers.substitute(data=values):
        joint.single_step_model(md, priors)
    for name, mu, tau, c in (("logit_slope_N", -0.7, 0.4, -0.3), ("logit_slope_D", -0.5, 0.6, 0.2)):
        expected = LogNormal(mu + c * 3.0 * jnp.tanh((u_c + 2.0) / 3.0), tau).log_prob(g)
        np.testing.assert_allclose(np.asarray(tr[name]["fn"].log_prob(g)), np.asarray(expected), rtol=1e-12)
        assert tr[f"{name}_by_centre"]["type"] == "sample"
    pull = np.asarray(joint.centre_pull(jnp.array([-60.0, -2.1, -1.9, 60.0])))  # bounded; slope 1 at u_ref
    np.testing.assert_allclose(pull, [-3.0, -0.1, 0.1, 3.0], atol=1e-3)
    one_mean = resolve_priors({"logit_slope_N_by_centre": ("Fixed", (0.0,)), "logit_slope_D_by_centre": ("Fixed", (0.0,))},
                              "single_step")
    with handlers.seed(rng_seed=0), handlers.trace() as tr:
        joint.single_step_model(md, one_mean)
    assert "logit_slope_N_by_centre" not in tr and "logit_slope_D_by_centre" not in tr
    with pytest.raises(ValueError, match="logit_slope_N_by_centre' must be Fixed or Normal"):
        resolve_priors({"logit_slope_N_by_centre": ("LogNormal", (0.0, 1.0))})


def test_first_draws_is_the_count_of_fewest_expected_seconds_on_both_ladders():
    """FIRST_DRAWS is the first draws per chain (of those measured) whose fits, continued as
    ``sample`` continues them, cost the fewest expected seconds of drawing on a cold cache,
    averaged over the seeds of each bundled ladder and then over the two, for the default model,
    in ``benchmarks/results/first_draws.json`` (``sampler_levers.py --first-draws``). A count
    whose fits never continued ends at itself."""
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "first_draws.json"
    if not path.exists():
        pytest.skip("first_draws.json not measured")
    import json

    saved = json.loads(path.read_text())
    cost = saved["first_draws_cost"]
    assert {r["model"] for r in cost} == {FitConfig().model.name}
    assert {r["ladder"] for r in cost} == {"olmo", "pythia", "both"}
    both = [r for r in cost if r["ladder"] == "both"]
    for r in both:  # "both" is the mean of the two ladders' rows
        per = [x for x in cost if x["draws"] == r["draws"] and x["ladder"] != "both"]
        assert r["cold_s"] == pytest.approx(np.mean([x["cold_s"] for x in per]), abs=2e-3)
    for r in cost:
        assert r["mean_draws_final"] >= r["draws"] and (r["continued"] > 0 or r["mean_draws_final"] == r["draws"])
    best = min(both, key=lambda r: r["cold_s"])["draws"]
    assert saved["first_draws_best"] == best == FIRST_DRAWS, (best, FIRST_DRAWS)


def _draws_of(x: np.ndarray, note: str = "1000 draws per chain") -> "bayes.Draws":
    return bayes.Draws({"alpha_mu": x}, {"diverging": np.zeros(x.shape, bool)}, note=note)


@pytest.mark.parametrize("retry_mixes", [True, False])
def test_an_unconverged_run_is_sampled_again_with_smaller_steps(monkeypatch, retry_mixes):
    """No divergence, but R-hat and ESS still short after the draws by need: one new run at
    retry_target_accept, kept when it meets the goals (said in the note, the config records its
    target); a retry that mixes no better leaves the first run, with a note giving both."""
    rng = np.random.default_rng(0)
    stuck = rng.standard_normal((2, 1000)) + np.array([[0.0], [3.0]])  # two chains apart: R-hat ~ 2
    mixed = rng.standard_normal((2, 1000))
    runs = iter([_draws_of(stuck), _draws_of(mixed if retry_mixes else stuck + 0.1)])
    seen = []

    def fake_sample(mcmc, config, md, *args, **kwargs):
        seen.append(config.target_accept)
        return next(runs)

    monkeypatch.setattr(bayes, "sample", fake_sample)
    monkeypatch.setattr(bayes, "make_mcmc", lambda md, priors, config: None)
    used, draws = bayes.sample_converging(None, {}, FitConfig())
    assert seen == [0.95, 0.99]
    if retry_mixes:
        assert used.target_accept == 0.99 and draws.convergence().converged
        assert "sampled again at target_accept 0.99 (smaller steps): R-hat" in draws.note
    else:
        assert used.target_accept == 0.95 and not draws.convergence().converged
        assert "the first run is kept" in draws.note
    # draws asked for by number are what the user asked for: never sampled again
    runs, seen[:] = iter([_draws_of(stuck)]), []
    used, _ = bayes.sample_converging(None, {}, FitConfig(draws=1000))
    assert seen == [0.95] and used.target_accept == 0.95
    runs, seen[:] = iter([_draws_of(mixed)]), []  # a run that met the goals stands
    used, _ = bayes.sample_converging(None, {}, FitConfig())
    assert seen == [0.95] and used.target_accept == 0.95


def test_only_the_single_step_is_traced_without_numpyros_checks():
    """runtime.unchecked: NumPyro's argument and support checks off for the single step's programs
    (the same density at its start), on for the two steps' (they ran no faster without them)."""
    import numpyro.distributions as dist
    from numpyro.infer import init_to_value
    from numpyro.infer.util import initialize_model

    from ladderfit.model.runtime import UNCHECKED_STRUCTURES, unchecked

    assert UNCHECKED_STRUCTURES == {"single_step"}
    for structure, checked in (("single_step", False), ("two_step", True), (None, True)):
        with unchecked(structure):
            assert dist.Normal(0.0, 1.0)._validate_args is checked
    assert dist.Normal(0.0, 1.0)._validate_args  # restored
    config = FitConfig(model="single_step")
    md = bayes.build_model_data(bayes._ladder_data(None, tasks=["arc_easy", "hellaswag"]), config.model, config.preprocessing)
    priors = resolve_priors(config.priors, "single_step")

    def potential():
        info = initialize_model(jax.random.PRNGKey(0), joint.model_for(md.structure), model_args=(md, priors),
                                model_kwargs=bayes.sampler_options(config),
                                init_strategy=init_to_value(values=bayes.initial_values(md, priors)))
        return float(info.potential_fn(info.param_info.z)), len(jax.make_jaxpr(info.potential_fn)(info.param_info.z).eqns)

    checked_value, checked_ops = potential()
    with unchecked("single_step"):
        value, ops = potential()
    assert value == pytest.approx(checked_value, rel=1e-12) and ops < checked_ops
