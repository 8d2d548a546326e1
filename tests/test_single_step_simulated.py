r"""The default model, the single step, on simulated ladders whose law it holds exactly.

The simulator draws data by the paper's two steps, ``u = -k (L(N, D) - L0)`` with
``L = E + A N^-alpha + B D^-beta``. Centred on the ladder (x = log N - log N_c, z likewise), that is

.. math::

    u = u_c + \frac{g_N}{\alpha}(1 - e^{-\alpha x}) + \frac{g_D}{\beta}(1 - e^{-\beta z}),\quad
    u_c = u(N_c, D_c),\ g_N = k \alpha A N_c^{-\alpha},\ g_D = k \beta B D_c^{-\beta},

the single step's law with the same exponents (fast test below). So on a simulated ladder the
single step's parameters have known truths, and its targets' intervals, without a discrepancy
(the law is exact), should cover as often as they say. Slow tests: six ladders of the
independent-noise story (the model's own) x 4 tasks, the package's default fit; and six of the
item-level story (every run evaluated on one fixed item set, :mod:`ladderfit.model.simulate`),
where the item set's curve departs from the population's law beyond the ladder: there the
law is not exact, and the shipped discrepancy is what covers the difference.
"""

import warnings

import jax
import numpy as np
import pandas as pd
import pytest

import ladderfit
from ladderfit.model.curves import single_step_logit
from ladderfit.model.simulate import default_truths, simulate_ladder

from coverage_helpers import beyond, binomial_range, tails

SEEDS = range(6)
FACTORS = (2, 3, 10)  # one rung beyond the ladder's largest N and D, 3x, 10x


def single_step_truth(tr, logN_c: float, logD_c: float) -> dict[str, float]:
    """A simulated task's single-step parameters at the ladder centre (N_c, D_c)."""
    N_c, D_c = np.exp(logN_c), np.exp(logD_c)
    return {
        "alpha": tr.alpha, "beta": tr.beta, "floor": tr.chance,
        "logit_centre": float(tr.logit(tr.loss(N_c, D_c))),
        "logit_slope_N": tr.k * tr.alpha * tr.A * N_c ** -tr.alpha,
        "logit_slope_D": tr.k * tr.beta * tr.B * D_c ** -tr.beta,
    }  # fmt: skip


def test_simulated_law_is_a_single_step_law():
    """The two steps' logit, at any (N, D), is the single step's law with the mapped parameters."""
    rng = np.random.default_rng(0)
    logN_c, logD_c = np.log(4e8), np.log(2e10)
    N, D = np.exp(rng.uniform(18, 25, 50)), np.exp(rng.uniform(21, 29, 50))
    for tr in default_truths(4, seed=3):
        p = single_step_truth(tr, logN_c, logD_c)
        u = single_step_logit(np.log(N) - logN_c, np.log(D) - logD_c, p["logit_centre"],
                              p["logit_slope_N"] / p["alpha"], p["alpha"], p["logit_slope_D"] / p["beta"], p["beta"])
        np.testing.assert_allclose(u, tr.logit(tr.loss(N, D)), rtol=1e-10, atol=1e-10)


def _fit(sim, seed: int):
    jax.clear_caches()  # free the last fit's programs: a module's many fits exhaust the memory maps (conftest)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ladderfit.fit(sim.data, model="single_step", seed=seed, progress_bar=False)


def _pairs(fit, sim, seed: int, discrepancy) -> pd.DataFrame:
    """Each (target, task): the 50% and 90% intervals and whether they hold a fresh run's accuracy."""
    targets = beyond(FACTORS)
    pred = fit.predict(targets, levels=(50, 90), discrepancy=discrepancy).query("quantity == 'accuracy'")
    pairs = pred.merge(sim.truth_at(targets, seed=300 + seed), on=["target", "task"]).assign(ladder=seed)
    for level in (50, 90):
        pairs[f"in_{level}"] = pairs[f"lower_{level}"].le(pairs["accuracy"]) & pairs["accuracy"].le(pairs[f"upper_{level}"])
    return pairs


def _check_coverage(pairs: pd.DataFrame, level: int) -> None:
    k, n = int(pairs[f"in_{level}"].sum()), len(pairs)
    lo, hi = binomial_range(n, level / 100)
    per = pairs.groupby("target", sort=False)[f"in_{level}"].sum().to_dict()
    print(f"{level}% intervals cover {k}/{n} (99% range {lo}-{hi}); by target {per}")
    assert lo <= k <= hi, f"{level}% intervals cover {k}/{n} (99% range {lo}-{hi}; {tails(k, n, level / 100)}); by target {per}"


@pytest.fixture(scope="module")
def over_seeds():
    """Target pairs (3 distances x 4 tasks per ladder) and parameter intervals against truths."""
    pairs, params, converged = [], [], []
    for s in SEEDS:
        sim = simulate_ladder(default_truths(4, seed=30 + s), seed=30 + s)
        fit = _fit(sim, s)
        converged.append(fit.converged)
        pairs.append(_pairs(fit, sim, s, discrepancy=0.0))
        post = fit.parameters().set_index(["task", "parameter"])
        md = fit.model_data
        for tr in sim.truths:
            for name, value in single_step_truth(tr, md.logN_c, md.logD_c).items():
                r = post.loc[(tr.name, name)]
                params.append({"ladder": s, "task": tr.name, "parameter": name, "truth": value,
                               "lower_90": r["lower_90"], "upper_90": r["upper_90"]})  # fmt: skip
    pairs = pd.concat(pairs, ignore_index=True)
    params = pd.DataFrame(params)
    params["inside"] = params["lower_90"].le(params["truth"]) & params["truth"].le(params["upper_90"])
    print("\ntarget coverage by distance:\n", pairs.groupby("target", sort=False)[["in_90", "in_50"]].sum(),
          "\nparameters inside 90% intervals:\n", params.groupby("parameter")["inside"].sum(), "of", len(SEEDS) * 4)
    return pairs, params, converged


@pytest.mark.slow
def test_fits_converge(over_seeds):
    assert all(over_seeds[2])


@pytest.mark.slow
@pytest.mark.parametrize("level", [90, 50])
def test_target_coverage(over_seeds, level):
    """Without a discrepancy (the law is exact), the target intervals cover within the 99%
    binomial range of their level, over 72 (ladder, target, task) pairs."""
    _check_coverage(over_seeds[0], level)


@pytest.mark.slow
@pytest.mark.parametrize("names", [("alpha", "beta", "floor"), ("logit_centre", "logit_slope_N", "logit_slope_D")])
def test_parameter_recovery(over_seeds, names):
    """The exponents and floor, and the logit's level and slopes at the ladder centre, inside
    their 90% intervals within the 99% binomial range."""
    p = over_seeds[1][lambda t: t["parameter"].isin(names)]
    k, n = int(p["inside"].sum()), len(p)
    lo, hi = binomial_range(n, 0.9)
    per = p.groupby("parameter")["inside"].sum().to_dict()
    assert lo <= k <= hi, f"{k}/{n} truths inside 90% intervals (99% range {lo}-{hi}; {tails(k, n, 0.9)}); {per}"


@pytest.fixture(scope="module")
def item_ladders():
    """The item-level story's six ladders: target pairs with the shipped discrepancy and without."""
    shipped, none, converged = [], [], []
    for s in SEEDS:
        sim = simulate_ladder(default_truths(4, seed=30 + s), seed=30 + s, items=True)
        fit = _fit(sim, s)
        converged.append(fit.converged)
        shipped.append(_pairs(fit, sim, s, discrepancy=None))
        none.append(_pairs(fit, sim, s, discrepancy=0.0))
    return pd.concat(shipped, ignore_index=True), pd.concat(none, ignore_index=True), converged


@pytest.mark.slow
@pytest.mark.parametrize("level", [90, 50])
def test_item_ladders_covered_with_the_shipped_discrepancy(item_ladders, level):
    """Where the law is not exact for the items evaluated, the shipped discrepancy (calibrated on
    the real OLMo ladder) makes the intervals cover within the 99% binomial range of their level."""
    assert all(item_ladders[2])
    _check_coverage(item_ladders[0], level)


@pytest.mark.slow
def test_item_ladders_without_a_discrepancy(item_ladders):
    """Without a discrepancy the 90% target intervals of item-level ladders cover 58/72, at the
    lower edge of the 99% binomial range (58-70; x2 20, x3 20, x10 18 of 24). With one mean for
    every task's slopes they covered 57/72, outside it, and this test was a strict xfail: the
    item set's curve beyond the ladder is not the law. The population mean that moves with the
    centre logit (:func:`ladderfit.model.joint.single_step_model`) widened the model's own
    spread by that pair; the shipped discrepancy adds to it (the test above)."""
    _check_coverage(item_ladders[1], 90)
