"""Convergence at the defaults on every bundled ladder split (the grid of
``benchmarks/sampler_grid.py``), and the parameterizations that make it: the single step's D
slope non-centred on a ladder of one length."""

import warnings

import jax
import numpy as np
import pytest
from numpyro import handlers

import ladderfit
from ladderfit.analysis.holdouts import default_pool, nested_holdouts
from ladderfit.model.bayes import initial_values
from ladderfit.model.inputs import build_model_data
from ladderfit.model.joint import single_step_model
from ladderfit.model.priors import resolve_priors
from ladderfit.model.spec import as_spec


def _quiet(load):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load()


def _sites(df):
    md = build_model_data(df, as_spec("single_step"))
    priors = resolve_priors(None, "single_step")
    values = initial_values(md, priors)
    model = handlers.substitute(handlers.seed(single_step_model, 0), data={k: np.asarray(v) for k, v in values.items()})
    trace = handlers.trace(model).get_trace(md, priors)
    return md, {name: site["type"] for name, site in trace.items()}


def test_one_length_ladder_draws_the_d_slope_non_centred():
    """The sampler draws a slope the runs do not measure non-centred: every D slope of a ladder
    of one length (Pythia), and the N slope of a task near chance; the measured ones centred,
    through the centre's accuracy slope."""
    from ladderfit.model.joint import measured_slopes

    pythia = _quiet(ladderfit.load_pythia_ladder)  # every run the same D
    md, sites = _sites(pythia)
    assert md.one_length
    assert sites["logit_slope_D"] == "sample"  # the model's own geometry: the population's log-normal
    centred = measured_slopes(md)
    assert not centred[:, 1].any()
    assert centred[md.tasks.index("arc_easy"), 0] and centred[md.tasks.index("lambada_openai"), 0]
    assert not centred[md.tasks.index("wsc"), 0]  # near chance: its N slope is barely measured
    olmo = _quiet(ladderfit.load_olmo_ladder)
    md, sites = _sites(olmo)
    assert not md.one_length
    centred = measured_slopes(md)
    assert centred[md.tasks.index("hellaswag")].all() and not centred[md.tasks.index("boolq")].all()
    priors = resolve_priors(None, "single_step")
    values = {k: np.asarray(v) for k, v in initial_values(md, priors).items()}
    with handlers.seed(rng_seed=0), handlers.trace() as tr, handlers.substitute(data=values):
        single_step_model(md, priors, for_sampler=True)
    assert tr["centre_slope_N"]["type"] == tr["centre_slope_D"]["type"] == "sample"
    assert tr["logit_slope_N"]["type"] == tr["logit_slope_D"]["type"] == "deterministic"


def test_non_centred_d_slope_keeps_its_prior():
    """On a one-length ladder g_D is the population's log-normal (the model's own geometry), its
    mean at the task's centre logit: ``mu + c s tanh((u_c - u_ref) / s)``."""
    from numpyro.infer import Predictive

    from ladderfit.model.joint import centre_pull

    pythia = _quiet(ladderfit.load_pythia_ladder)
    md = build_model_data(pythia, as_spec("single_step"))
    priors = resolve_priors(None, "single_step")
    draws = Predictive(single_step_model, num_samples=4000, return_sites=[
        "logit_slope_D", "logit_slope_D_mu", "logit_slope_D_tau", "logit_slope_D_by_centre", "logit_centre"])(
        jax.random.PRNGKey(1), md, priors, observe=False)
    mean = draws["logit_slope_D_mu"][:, None] + draws["logit_slope_D_by_centre"][:, None] * centre_pull(draws["logit_centre"])
    z = (np.log(draws["logit_slope_D"]) - mean) / draws["logit_slope_D_tau"][:, None]
    assert abs(z.mean()) < 0.05 and abs(z.std() - 1) < 0.05  # standard normal given the population


def _grid():
    """(ladder, split, model): the default model on every bundled split, and run effects on the
    full OLMo ladder."""
    cases = []
    for ladder in ("olmo", "pythia"):
        names = ["full", "largest_size", "two_largest_sizes"]
        if ladder == "olmo":
            names += ["largest_multiplier", "two_largest_multipliers", "corner", "small_corner"]
        cases += [(ladder, name, None) for name in names]
    return cases + [("olmo", "full", "two_step+run_effects")]  # offsets integrated out


@pytest.mark.slow
@pytest.mark.parametrize("ladder, split, model", _grid())
def test_default_fit_converges_on_every_bundled_split(ladder, split, model):
    """The default model (and run effects on the full ladder), seed 0, at the package's sampler
    defaults (a fit that diverges is sampled again with smaller steps): no divergent
    transition in the draws kept, R-hat <= 1.01 unrounded, bulk and tail ESS >= 400."""
    df = _quiet(ladderfit.load_olmo_ladder if ladder == "olmo" else ladderfit.load_pythia_ladder)
    pool = default_pool(df)
    runs = pool if split == "full" else nested_holdouts(df, pool)[0][split].train
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = ladderfit.fit(df[df["run"].isin(runs)], seed=0, progress_bar=False, **({"model": model} if model else {}))
    d = fit.diagnostics.as_dict()
    assert int(fit.idata.sample_stats["diverging"].sum()) == 0
    assert d["max_r_hat"] <= 1.01
    assert min(d["min_ess_bulk"], d["min_ess_tail"]) >= 400


def test_a_slope_of_the_wrong_sign_is_not_measured():
    """The law's logit slopes are positive: a task whose accuracy falls with N and D (mirrored
    about its mean, so its standard errors are unchanged) has no measured slope."""
    import dataclasses

    from ladderfit.model.joint import measured_slopes

    md, _ = _sites(_quiet(ladderfit.load_olmo_ladder))
    h = md.tasks.index("hellaswag")
    on = md.s1_task == h
    mirrored = np.where(on, 2 * md.s1_acc[on].mean() - md.s1_acc, md.s1_acc)
    assert measured_slopes(md)[h].all()
    flipped = measured_slopes(dataclasses.replace(md, s1_acc=mirrored))
    assert not flipped[h].any()
    assert (np.delete(flipped, h, 0) == np.delete(measured_slopes(md), h, 0)).all()
