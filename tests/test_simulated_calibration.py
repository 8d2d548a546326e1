"""Calibration on item-level simulated ladders: every model answers the same fixed items.

The simulator's item-level story (:mod:`ladderfit.model.simulate`) differs from the joint
model's likelihood the way real ladders do: the item set's luck is shared by the ladder and
the target, checkpoints differ by which items flip, and runs sit off the curve. The fast tests
check the simulator and one fit; the slow ones measure target coverage and parameter recovery
over several ladders, with the nominal levels' binomial ranges.
"""

import time
import warnings
from dataclasses import replace

import arviz as az
import jax
import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom

import ladderfit
from ladderfit.data.preprocess import Preprocessing, checkpoint_jitter
from ladderfit.model.diagnostics import PARAMETERS, ConvergenceWarning
from ladderfit.model.simulate import ItemDesign, ItemSet, default_truths, simulate_ladder

from coverage_helpers import D_MAX, N_MAX, beyond, binomial_range, tails

# as in tests/test_model.py: simulated checkpoints carry independent noise, no smoothing
RAW = Preprocessing(skip_fraction=0.1, smooth_window=1, step1_last_k=1, thin=1)
FAST = dict(chains=2, warmup=600, draws=800, preprocessing=RAW)


def quiet(truths, sigma_loss=1e-9, run_tau=1e-9):
    """The same tasks without run deviations (the item flips alone)."""
    return [replace(t, sigma_loss=sigma_loss, run_tau=run_tau) for t in truths]


def binomial(p, n):
    return np.sqrt(p * (1 - p) / n)


# ---------------------------------------------------------------- the item simulator


def test_item_ladder_shape_speed_and_values():
    truths = [replace(t, n_items=n) for t, n in zip(default_truths(4, seed=2), (1000, 2000, 4000, 5000))]
    simulate_ladder(truths, seed=3, items=True)  # warm caches
    t0 = time.perf_counter()
    sim = simulate_ladder(truths, seed=3, items=True)
    elapsed = time.perf_counter() - t0
    assert elapsed < 1.0, f"16 runs x 4 tasks x 40 checkpoints took {elapsed:.2f} s"
    df = sim.data
    plain = simulate_ladder(truths, seed=3).data
    assert list(df.columns) == list(plain.columns) and len(df) == 16 * 4 * 40
    pd.testing.assert_frame_equal(df[["run", "task", "step", "N", "D"]], plain[["run", "task", "step", "N", "D"]])
    assert set(sim.items) == {t.name for t in truths}
    for t in truths:
        acc = df.loc[df["task"] == t.name, "accuracy"].to_numpy()
        assert sim.items[t.name].n_items == t.n_items
        assert np.allclose(acc * t.n_items, np.round(acc * t.n_items)), "an accuracy is a count of items"
        assert (acc >= 0).all() and (acc <= 1).all()
    # accuracy rises along a run, as the loss falls
    first, last = df[df["step"] == 5], df[df["step"] == 40]
    assert (last["accuracy"].to_numpy() > first["accuracy"].to_numpy()).mean() > 0.8


def test_item_ladder_deterministic_by_seed():
    truths = default_truths(3, seed=4)
    a = simulate_ladder(truths, seed=5, items=True)
    b = simulate_ladder(truths, seed=5, items=True)
    c = simulate_ladder(truths, seed=6, items=True)
    pd.testing.assert_frame_equal(a.data, b.data)
    assert not np.allclose(a.data["accuracy"], c.data["accuracy"])
    assert not np.allclose(a.items["task0"].difficulty, c.items["task0"].difficulty)
    # a fixed item seed keeps the items while the runs change
    d = simulate_ladder(truths, seed=5, items=ItemDesign(seed=11))
    e = simulate_ladder(truths, seed=6, items=ItemDesign(seed=11))
    assert np.array_equal(d.items["task1"].difficulty, e.items["task1"].difficulty)
    assert not np.allclose(d.data["accuracy"], e.data["accuracy"])
    targets = beyond([2, 10])
    pd.testing.assert_frame_equal(a.truth_at(targets, seed=3), b.truth_at(targets, seed=3))


@pytest.mark.parametrize("chance", [0.2, 0.25, 0.5])
def test_item_population_follows_the_curve(chance):
    """E_j q_j(u) = c + (1 - c) sigmoid(u) exactly; a large item set gets within Monte Carlo error."""
    items = ItemSet.draw(200_000, chance, ItemDesign(), np.random.default_rng(0))
    u = np.linspace(-4, 4, 17)
    curve = chance + (1 - chance) / (1 + np.exp(-u))
    assert np.abs(items.expected(u) - curve).max() < 0.003
    assert abs(items.guess.mean() - chance) < 0.003


def test_flip_noise_below_binomial():
    """Given the logit, one evaluation's sd is 0.43-0.57 x binomial (module docstring); with
    ``levels=0`` and guesses drawn afresh (a huge concentration) it is the binomial sd."""
    u = np.linspace(-3, 3, 13)
    for chance in (0.2, 0.25, 0.5):
        items = ItemSet.draw(50_000, chance, ItemDesign(), np.random.default_rng(1))
        ratio = items.flip_sd(u) / binomial(items.expected(u), items.n_items)
        assert 0.40 <= ratio.min() and ratio.max() <= 0.60, ratio
    coin = ItemSet.draw(50_000, 0.25, ItemDesign(levels=0, guess_concentration=1e9), np.random.default_rng(1))
    assert np.allclose(coin.flip_sd(u) / binomial(coin.expected(u), coin.n_items), 1.0, atol=0.01)


def test_shared_items_make_runs_correlated():
    """Two runs at the same logit on the same items agree beyond their flips: across item sets
    their accuracies correlate (the item draw's luck), on one item set they differ by flips only."""
    rng = np.random.default_rng(2)
    n, u = 500, 0.3
    pairs, luck = [], []
    for _ in range(300):
        items = ItemSet.draw(n, 0.25, ItemDesign(), rng)
        pairs.append(items.evaluate(np.array([u, u]), rng))
        luck.append(items.expected(u))
    pairs = np.array(pairs)
    r = np.corrcoef(pairs[:, 0], pairs[:, 1])[0, 1]
    assert r > 0.5, f"correlation {r:.2f}"
    # expected var(Q) / (var(Q) + flips) ~ 0.75 for this design; the flips are the difference
    flips = np.std(pairs[:, 0] - pairs[:, 1]) / np.sqrt(2)
    assert flips < 0.65 * binomial(0.25 + 0.75 / (1 + np.exp(-u)), n)
    assert np.std(luck) > flips


def test_checkpoint_jitter_near_flip_noise():
    """checkpoint_jitter (what the model reads as one checkpoint's noise) measures the flips:
    0.4-0.65 x binomial, within 15% of the item sets' own flip sd."""
    truths = quiet(default_truths(4, seed=0))
    sim = simulate_ladder(truths, seed=0, items=True)
    jitter = checkpoint_jitter(sim.data, "accuracy")
    for t in truths:
        d = sim.data[(sim.data["task"] == t.name) & (sim.data["step"] > 4)]
        expected = np.sqrt(np.mean(sim.items[t.name].flip_sd(t.logit(d["task_loss"].to_numpy())) ** 2))
        ratio = jitter[t.name] / binomial(d["accuracy"].mean(), t.n_items)
        assert 0.4 <= ratio <= 0.65, (t.name, ratio)
        assert abs(jitter[t.name] / expected - 1) < 0.15, (t.name, jitter[t.name], expected)


@pytest.mark.parametrize(
    "sigma_loss, run_tau, upper", [(1e-9, 1e-9, 0.65), (0.005, 0.002, 0.75)], ids=["flips", "realistic_runs"]
)
def test_seed_noise_of_one_checkpoint_below_binomial(sigma_loss, run_tau, upper):
    """Fresh runs at one (N, D) (mid-ladder, 760M-5xC): sd of the accuracy over seeds vs binomial.
    OLMo's 1xC reruns: median 0.45 x binomial (module docstring)."""
    truths = quiet(default_truths(4, seed=0), sigma_loss, run_tau)
    sim = simulate_ladder(truths, seed=0, items=True)
    reps = pd.DataFrame({"target": np.arange(2000), "N": 7.6e8, "D": 7.6e8 * 20 * 5})
    t = sim.truth_at(reps, seed=5)
    for tr in truths:
        acc = t.loc[t["task"] == tr.name, "accuracy"]
        ratio = acc.std() / binomial(acc.mean(), tr.n_items)
        assert ratio < upper, (tr.name, ratio)


def test_truth_at_uses_the_ladders_items():
    """A target carries the same item luck as the ladder: its mean over fresh evaluations is the
    item set's curve Q(u), not the population curve, and so are the ladder's checkpoints."""
    truths = quiet([replace(t, n_items=300) for t in default_truths(3, seed=6)])
    sim = simulate_ladder(truths, seed=6, items=True)
    reps = pd.DataFrame({"target": np.arange(2000), "N": 2 * N_MAX, "D": 2 * D_MAX})
    noisy, exact = sim.truth_at(reps, seed=1), sim.truth_at(reps.iloc[:1], noisy=False)
    assert list(noisy.columns) == ["target", "task", "task_loss", "accuracy", "loss_curve", "accuracy_curve", "accuracy_items"]
    lucks, ses = [], []
    for tr in truths:
        items = sim.items[tr.name]
        e = exact[exact["task"] == tr.name].iloc[0]
        Q = items.expected(tr.logit(e["loss_curve"]))
        assert e["accuracy"] == pytest.approx(tr.accuracy(tr.loss(2 * N_MAX, 2 * D_MAX)))
        assert e["accuracy_items"] == pytest.approx(Q)
        acc = noisy.loc[noisy["task"] == tr.name, "accuracy"]
        se = acc.std() / np.sqrt(len(acc))
        assert abs(acc.mean() - Q) < 4 * se
        lucks.append(Q - e["accuracy_curve"])
        ses.append(se)
        # the ladder's checkpoints share the luck: around Q, not around the population curve
        d = sim.data[sim.data["task"] == tr.name]
        u = tr.logit(d["task_loss"].to_numpy())
        ladder_off = np.mean(d["accuracy"] - tr.accuracy(d["task_loss"]))
        assert abs(np.mean(d["accuracy"] - items.expected(u))) < 0.004
        assert np.sign(ladder_off) == np.sign(np.mean(items.expected(u) - tr.accuracy(d["task_loss"])))
    # 300 items: the item sets sit visibly off the population curve (here -0.040, +0.001, +0.022)
    assert np.sqrt(np.mean(np.square(lucks))) > 10 * max(ses), lucks


def test_item_curve_parameters():
    sim = simulate_ladder(default_truths(3, seed=1), seed=1, items=True)
    table = sim.item_curve_parameters()
    assert list(table.columns) == ["task", "k", "L0", "floor", "max_error"]
    assert (table["max_error"] < 0.02).all()
    for tr, (_, row) in zip(sim.truths, table.iterrows()):
        assert row["k"] == pytest.approx(tr.k, rel=0.3) and row["floor"] == pytest.approx(tr.chance, abs=0.05)
    with pytest.raises(ValueError, match="item-level"):
        simulate_ladder(default_truths(1), seed=0).item_curve_parameters()


# ---------------------------------------------------------------- one fit (fast)


def test_fit_on_item_ladder_converges_and_covers():
    sim = simulate_ladder(default_truths(3, seed=7), seed=7, items=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        fit = ladderfit.fit(sim.data, model="two_step", seed=0, **FAST)
    d = fit.diagnostics.as_dict()
    # R-hat unrounded (the diagnostics table is az.summary's, rounded to 2 decimals)
    rhat = az.rhat(fit.idata, var_names=[v for v in PARAMETERS if v in fit.idata.posterior])
    max_rhat = float(np.max(np.concatenate([np.ravel(v) for v in rhat.data_vars.values()])))
    assert max_rhat <= 1.01 and d["divergences"] == 0, (max_rhat, d)
    targets = beyond([2, 10])
    pred = fit.predict(targets).query("quantity == 'accuracy'").merge(sim.truth_at(targets, seed=70), on=["target", "task"])
    inside = ((pred["lower_90"] <= pred["accuracy"]) & (pred["accuracy"] <= pred["upper_90"])).sum()
    assert inside >= 4, pred[["target", "task", "lower_90", "median", "upper_90", "accuracy"]]


# ---------------------------------------------------------------- coverage and recovery over seeds (slow)

SEEDS = range(6)
FACTORS = (2, 3, 10)  # one rung beyond the ladder, 3x, 10x (in both N and D)


@pytest.mark.parametrize("n, level", [(24, 0.9), (24, 0.5), (72, 0.9), (72, 0.5), (18, 0.9)])
def test_binomial_range_is_the_central_99_percent(n, level):
    """The ranges the slow tests use, computed, not typed: each tail outside holds at most 0.5%,
    and one count more at either end would leave more than 99% (where there is room)."""
    lo, hi = binomial_range(n, level)
    assert binom.cdf(lo - 1, n, level) <= 0.005 < binom.cdf(lo, n, level)
    assert binom.sf(hi, n, level) <= 0.005 and (hi == n or binom.sf(hi - 1, n, level) > 0.005)
    assert binom.cdf(hi, n, level) - binom.cdf(lo - 1, n, level) >= 0.99


@pytest.fixture(scope="module")
def over_seeds():
    """6 item-level ladders x 4 tasks: target pairs at 3 distances, parameter intervals vs truths."""
    return _over_seeds("two_step")


@pytest.fixture(scope="module")
def over_seeds_runs():
    """The same ladders fitted with honest noise: a run's persistent offset shared by its
    checkpoints (``two_step+run_effects``)."""
    return _over_seeds("two_step+run_effects")


def _over_seeds(model: str):
    targets = beyond(FACTORS)
    pairs, params = [], []
    for s in SEEDS:
        sim = simulate_ladder(default_truths(4, seed=30 + s), seed=30 + s, items=True)
        fit = ladderfit.fit(sim.data, model=model, seed=s, preprocessing=RAW, progress_bar=False)  # the default sampler
        truth = sim.truth_at(targets, seed=300 + s)
        for name, disc in (("none", 0.0), ("default", None)):  # the simulated law is exact: no discrepancy
            pred = fit.predict(targets, levels=(50, 90), discrepancy=disc).query("quantity == 'accuracy'")
            pairs.append(pred.merge(truth, on=["target", "task"]).assign(ladder=s, discrepancy=name))
        post = fit.parameters().set_index(["task", "parameter"])
        items = sim.item_curve_parameters().set_index("task")
        for tr in sim.truths:
            for name in ("alpha", "beta", "E", "k", "L0", "floor"):
                r = post.loc[(tr.name, name)]
                truth = tr.chance if name == "floor" else getattr(tr, name)
                item_truth = items.loc[tr.name, name] if name in items.columns else truth
                params.append({"ladder": s, "task": tr.name, "parameter": name, "truth": truth,
                               "item_truth": item_truth, "lower_90": r["lower_90"], "upper_90": r["upper_90"],
                               "converged": fit.converged})  # fmt: skip
        jax.clear_caches()  # free each fit's programs: a module's many fits exhaust the memory maps (conftest)
    pairs = pd.concat(pairs, ignore_index=True)
    for level in (50, 90):
        pairs[f"in_{level}"] = (pairs[f"lower_{level}"] <= pairs["accuracy"]) & (pairs["accuracy"] <= pairs[f"upper_{level}"])
    params = pd.DataFrame(params)
    params["inside"] = (params["lower_90"] <= params["truth"]) & (params["truth"] <= params["upper_90"])
    params["inside_items"] = (params["lower_90"] <= params["item_truth"]) & (params["item_truth"] <= params["upper_90"])
    by_distance = pairs.groupby(["discrepancy", "target"], sort=False)[["in_90", "in_50"]].agg(["sum", "size"])
    print("\ntarget coverage by distance:\n", by_distance)
    print("parameters inside 90% intervals (population truth, item-set truth):\n",
          params.groupby("parameter")[["inside", "inside_items"]].sum(), "of", len(SEEDS) * 4, "each")  # fmt: skip
    return pairs, params


@pytest.mark.slow
def test_fits_over_seeds_converge(over_seeds):
    _, params = over_seeds
    assert params["converged"].all()


# Measured (the two steps, 6 ladders x 4 tasks x 3 targets; the package's default sampler, as the
# 2-chain fits before it): 90% intervals cover 57/72 (x2 19, x3 21, x10 17 of 24), 50% intervals
# 22/72 (6, 7, 9): predictive sds are ~1.1-1.4 x too small.
# Step 1 is calibrated (target loss: rms z 0.90-0.96); the missing part is step 2's: the item
# set's own accuracy-vs-loss curve is not a sigmoid, and beyond the ladder it leaves the best
# sigmoid by rms ~1.07 x sqrt(delta (1 - c) / n) (delta: population accuracy gained beyond the
# ladder's edge), a "new items" discrepancy the model does not carry (the coverage tests predict
# without the discrepancy term, which the shipped default calibrates to real ladders' misfit).
COVERAGE_90 = (
    "90% target intervals cover 57/72 (99% binomial range 58-70; P(X <= 57) = 0.005; x2 19, x3 21, x10 17 "
    "of 24), as the default single step does on the same item-level ladders (57/72, "
    "tests/test_single_step_simulated.py): the item set's curve beyond the ladder is a discrepancy, not noise"
)
COVERAGE_50 = (
    "50% target intervals cover 22/72 (99% binomial range 25-47; x2 6, x3 7, x10 9 of 24); "
    "90% ones 57/72: intervals too narrow in the core; the item set's non-sigmoid curve beyond "
    "the ladder (rms 1.07 x sqrt(delta (1-c)/n)) is not in the model; with run effects (honest "
    "noise) 26/72, test_honest_noise_target_coverage_over_seeds"
)
STEP2 = (
    "step-2 population values inside 90% intervals: 13/72 (k 3, L0 5, floor 5 of 24; range 58-70); "
    "against the item set's own best sigmoid (item_curve_parameters): 30/72 (k 10, L0 7, floor 13). "
    "One item set cannot identify the population curve, and without run effects the step-2 "
    "intervals treat a run's checkpoints as independent (run effects: 20/72 and 59/72, "
    "test_honest_noise_parameter_recovery_over_seeds)"
)


@pytest.mark.slow
@pytest.mark.parametrize("level", [pytest.param(90, marks=pytest.mark.xfail(strict=True, reason=COVERAGE_90)),
                                   pytest.param(50, marks=pytest.mark.xfail(strict=True, reason=COVERAGE_50))])
def test_target_coverage_over_seeds(over_seeds, level):
    """Without the discrepancy term, the model's own intervals. The population law is the
    model's; the item set's curve, which the targets are evaluated on, is not (COVERAGE_50)."""
    pairs, _ = over_seeds
    pairs = pairs[pairs["discrepancy"] == "none"]
    k, n = int(pairs[f"in_{level}"].sum()), len(pairs)
    lo, hi = binomial_range(n, level / 100)
    per = pairs.groupby("target", sort=False)[f"in_{level}"].sum().to_dict()
    assert lo <= k <= hi, (f"{level}% intervals cover {k}/{n} (99% binomial range {lo}-{hi}; "
                           f"{tails(k, n, level / 100)}); by target {per}")


@pytest.mark.slow
@pytest.mark.parametrize("factor", FACTORS)
def test_target_coverage_by_distance(over_seeds, factor):
    pairs, _ = over_seeds
    p = pairs[(pairs["target"] == f"x{factor:g}") & (pairs["discrepancy"] == "none")]
    for level in (90, 50):
        k, n = int(p[f"in_{level}"].sum()), len(p)
        lo, hi = binomial_range(n, level / 100)
        print(f"x{factor}: {level}% intervals cover {k}/{n}: 99% binomial range {lo}-{hi}, {tails(k, n, level / 100)}")
        assert lo <= k <= hi, f"x{factor}: {level}% intervals cover {k}/{n} (99% binomial range {lo}-{hi}; {tails(k, n, level / 100)})"


# Measured with honest noise (two_step+run_effects, the same 6 ladders, the default sampler): 90%
# intervals cover 60/72 (x2 22, x3 21, x10 17), 50% ones 26/72 (8, 8, 10): both in the lower part
# of their 99% ranges (58-70, 25-47), the 50% ones up from 22. Step 1's population values: 67/72
# inside; step 2's: 20/72 against the population curve, 59/72 against the item set's own best sigmoid.
RUNS_STEP2 = (
    "step-2 population values inside 90% intervals with run effects: 20/72 (k 7, L0 8, floor 5; range "
    "58-70); 59/72 "
    "against the item set's own sigmoid: the data are one item set, whose curve is not the "
    "population's, whatever the noise model"
)


@pytest.mark.slow
def test_honest_noise_fits_converge(over_seeds_runs):
    assert over_seeds_runs[1]["converged"].all()


@pytest.mark.slow
@pytest.mark.parametrize("level", [90, 50])
def test_honest_noise_target_coverage_over_seeds(over_seeds_runs, level):
    """With a run's persistent offset shared by its checkpoints (run effects), the target
    intervals without the discrepancy term cover within the 99% binomial range at 50% and 90%."""
    pairs, _ = over_seeds_runs
    pairs = pairs[pairs["discrepancy"] == "none"]
    k, n = int(pairs[f"in_{level}"].sum()), len(pairs)
    lo, hi = binomial_range(n, level / 100)
    assert lo <= k <= hi, f"{level}% intervals cover {k}/{n} (99% binomial range {lo}-{hi}; {tails(k, n, level / 100)})"


@pytest.mark.slow
@pytest.mark.parametrize("step, names, truth", [
    (1, ("alpha", "beta", "E"), "truth"),
    (2, ("k", "L0", "floor"), "item_truth"),
    pytest.param(2, ("k", "L0", "floor"), "truth", marks=pytest.mark.xfail(strict=True, reason=RUNS_STEP2)),
])  # fmt: skip
def test_honest_noise_parameter_recovery_over_seeds(over_seeds_runs, step, names, truth):
    """With run effects, step 1's population parameters and step 2's item-set curve (the curve
    of the items the ladder is evaluated on) inside 90% intervals within the 99% binomial range."""
    _, params = over_seeds_runs
    p = params[params["parameter"].isin(names)]
    inside = (p["lower_90"] <= p[truth]) & (p[truth] <= p["upper_90"])
    k, n = int(inside.sum()), len(p)
    lo, hi = binomial_range(n, 0.9)
    assert lo <= k <= hi, f"step {step}: {k}/{n} {truth} values inside 90% intervals (range {lo}-{hi})"


@pytest.mark.slow
def test_default_discrepancy_never_narrows_and_grows_with_distance(over_seeds):
    """The shipped discrepancy (calibrated on the real OLMo ladder's misfit) on ladders whose law
    is exact: intervals cover at least nominally (measured 72/72 at 90%: conservative there, as
    expected where the law has no misfit to cover) and widen with the distance."""
    pairs, _ = over_seeds
    d = pairs[pairs["discrepancy"] == "default"]
    lo, _ = binomial_range(len(d), 0.9)
    assert int(d["in_90"].sum()) >= lo
    width = (d["upper_90"] - d["lower_90"]).groupby(d["target"]).mean()
    none = pairs[pairs["discrepancy"] == "none"]
    width0 = (none["upper_90"] - none["lower_90"]).groupby(none["target"]).mean()
    assert width["x2"] < width["x3"] < width["x10"], width
    assert ((width - width0) > 0).all() and (width - width0)["x10"] > (width - width0)["x2"], (width, width0)


@pytest.mark.slow
@pytest.mark.parametrize(
    "step, names",
    [(1, ("alpha", "beta", "E")), pytest.param(2, ("k", "L0", "floor"), marks=pytest.mark.xfail(strict=True, reason=STEP2))],
)
def test_parameter_recovery_over_seeds(over_seeds, step, names):
    """The population curve's parameters are the truth (an item set's own curve differs)."""
    _, params = over_seeds
    p = params[params["parameter"].isin(names)]
    k, n = int(p["inside"].sum()), len(p)
    lo, hi = binomial_range(n, 0.9)
    per = p.groupby("parameter")["inside"].sum().to_dict()
    items = int(p["inside_items"].sum())
    assert lo <= k <= hi, f"step {step}: {k}/{n} true values inside 90% intervals (range {lo}-{hi}); {per}; item-set truth {items}/{n}"


def test_final_only_ladder_fits_and_covers():
    """A ladder evaluated once per run (its final checkpoint only, as a results table gives it):
    step 2 sees 16 points per task instead of hundreds. It still fits, and its 90% intervals at
    targets beyond the ladder cover the fresh truth within the 99% binomial range of 90% over
    3 ladders x 3 tasks x 2 targets (measured: 15 of 18, mean widths 5.7-7.8 points)."""
    covered, n, widths = 0, 0, []
    for s in range(3):
        sim = simulate_ladder(default_truths(3, seed=50 + s), seed=50 + s, items=True)
        final = sim.data.sort_values("step").groupby(["run", "task"]).tail(1).reset_index(drop=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = ladderfit.fit(final, model="two_step", seed=s, chains=2, warmup=400, draws=400)
        targets = beyond([2, 3])
        pred = fit.predict(targets, levels=(90,), discrepancy=0.0).query("quantity == 'accuracy'")
        m = pred.merge(sim.truth_at(targets, seed=500 + s), on=["target", "task"])
        covered += int(((m["lower_90"] <= m["accuracy"]) & (m["accuracy"] <= m["upper_90"])).sum())
        n += len(m)
        widths.append(float((m["upper_90"] - m["lower_90"]).mean()))
    print(f"final-only: {covered}/{n} covered, mean 90% widths {np.round(widths, 3)}")
    lo, hi = binomial_range(n, 0.9)
    assert n == 18 and lo <= covered <= hi, (covered, n, widths)
