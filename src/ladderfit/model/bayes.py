"""Fit the joint model with NUTS: :func:`fit` returns a :class:`~ladderfit.model.results.LadderFit`.

``fit`` prepares JAX (:mod:`ladderfit.model.runtime`): float64 mode (``jax_enable_x64``) if it
is off, since the scaling law's exponentials need it, and one CPU device per chain if JAX has
not started yet, so that chains run in parallel. The same code runs on CPU or GPU, whichever
JAX uses.

Speed: NUTS samples the sigmoid through its centre (``for_sampler=True``, the same posterior),
warms up with its trees capped at depth 6 (``warmup_tree_depth``) and draws by need
(:func:`sample`): 4 x 700 draws after 300 warmup iterations, more only if the ESS or R-hat
falls short. Its likelihoods are computed on grids, a row per law or task, with no gather,
the checkpoints' terms in float32 (``FitConfig.float32_likelihood``;
``benchmarks/sampler_levers.py --gradient``; the single step's traced without NumPyro's checks,
:func:`~ladderfit.model.runtime.unchecked`, and compiled with XLA's classic CPU emitters,
:data:`~ladderfit.model.runtime.CPU_COMPILER_OPTIONS`); the draws are checked without ArviZ
(:mod:`.rank_diagnostics`), which only InferenceData imports. With the persistent compilation
cache on (the CLI), the compiled parallel-chain program is kept on disk and a later process
loads it instead of tracing it (:mod:`.programs`).
"""

from __future__ import annotations

import dataclasses
import sys
import time
import jax
import numpy as np
import pandas as pd
from numpyro.infer import MCMC, NUTS, init_to_value

from .config import RETRY_WARMUP_FACTOR, FitConfig, show_progress_bar
from ..data.readers import read_data
from ..errors import LadderDataError
from ..io import check_interrupt
from .diagnostics import ConvergenceReport, warn_if_not_converged
from .draws import DIMS, LAW_SITES, Draws, label_points, to_inference_data  # noqa: F401  (re-exported)
from .inputs import ModelData, build_model_data
from .joint import (centre_values, measured_slopes, model_for, secant_values, single_step_centre_values,
                    single_step_shifts)
from .priors import resolve_priors
from .programs import CachedChains, program_dir
from .provenance import data_sha256
from .runtime import compiler_options, enable_x64, prepare, unchecked  # noqa: F401  (enable_x64 re-exported; it lives in runtime, below results)
from .spec import as_spec, check_feature

__all__ = ["fit", "make_mcmc", "sampler_options", "sample", "sample_converging", "continue_chains", "more_draws", "Draws", "select", "initial_values", "to_inference_data", "label_points", "DIMS", "LAW_SITES"]

def select(df: pd.DataFrame, tasks=None, runs=None) -> pd.DataFrame:
    """Keep the named tasks and runs, with a clear error for names not in the data."""
    for col, names in (("task", tasks), ("run", runs)):
        if names is None:
            continue
        names = [names] if isinstance(names, str) else list(names)
        unknown = sorted(set(names) - set(df[col]))
        if unknown:
            raise LadderDataError(f"{col}(s) {unknown} not in the data; it has {sorted(df[col].unique())}")
        df = df[df[col].isin(names)]
    return df.reset_index(drop=True)


def initial_values(md: ModelData, priors: dict) -> dict[str, np.ndarray]:
    """Start NUTS near the data: per-task log-linear regressions for step 1, logit-linear for step 2."""
    T, G = md.n_tasks, md.n_laws
    g_N, g_D, s_loss = _step1_start(md)
    u_c, log_k, s_acc = _step2_start(md)
    # exponents: 0.3 unless E > 0 needs them larger (E/L_c = 1 - g_N/alpha - g_D/beta)
    alpha = np.maximum(0.3, 2.5 * (g_N + g_D))
    beta = np.maximum(0.3, 2.5 * (g_N + g_D))
    a_mu, b_mu, k_mu = np.log(alpha).mean(), np.log(beta).mean(), log_k.mean()
    tau = 0.3
    init = {
        "alpha_mu": np.array(a_mu), "alpha_tau": np.array(tau),
        "beta_mu": np.array(b_mu), "beta_tau": np.array(tau),
        "k_mu": np.array(k_mu), "k_tau": np.array(0.5),
        "level": np.zeros(G), "slope_N": g_N, "slope_D": g_D,
        "alpha_z": (np.log(alpha) - a_mu) / tau, "beta_z": (np.log(beta) - b_mu) / tau,
        "sigma_loss": s_loss, "logit_centre": u_c, "floor_shift": np.zeros(T), "log_k": log_k,
        "noise_ratio": np.clip(s_acc / md.acc_binomial_sd, 0.1, 10.0),
    }  # fmt: skip
    if md.structure == "single_step":  # logit-scale law: start from a log-linear logit fit
        return _single_step_start(md, priors, tau)
    if md.structure == "compute":  # one term in C: no D slope or exponent
        for name in ("slope_D", "beta_z", "beta_mu", "beta_tau"):
            init.pop(name)
        init["alpha_z"] = (np.log(np.maximum(0.3, 2.5 * g_N)) - a_mu) / tau
    if md.spec.run_effects:
        init["checkpoint_ratio"] = np.full(T, 0.25)
    init.update(centre_values(u_c, init["floor_shift"], log_k, md.chance))  # the sampler's geometry
    if md.structure == "two_step":  # its slopes by their secants (joint._slope_by_secant)
        init.update(secant_values(md, g_N, np.exp(a_mu + tau * init["alpha_z"]), g_D,
                                  np.exp(b_mu + tau * init["beta_z"])))
    if md.n_replicated:
        init.update(seed_share=np.full(G, 0.5), config_raw=np.zeros(md.n_replicated))
    return init


def _step1_start(md: ModelData) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Step 1's slopes in log N and log D and loss noise, per law, from log-linear least squares."""
    G = md.n_laws
    g_N, g_D, s_loss = np.full(G, 0.05), np.full(G, 0.05), np.full(G, 0.02)
    for t in range(G):  # step 1: one law per task, or one shared (md.s1_task is then all 0)
        i = md.s1_task == t
        X = np.c_[np.ones(i.sum()), md.s1_x[i], md.s1_z[i]]
        y = np.log(md.s1_loss[i])
        coef, *_ = np.linalg.lstsq(X, y, rcond=None)
        g_N[t], g_D[t] = np.clip(-coef[1], 0.005, 0.5), np.clip(-coef[2], 0.005, 0.5)
        s_loss[t] = np.clip(np.std(y - X @ coef), 0.003, 0.1)
    return g_N, g_D, s_loss


def _step2_start(md: ModelData) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Step 2's logit centre, log steepness and accuracy noise, per task, from logit-linear least squares."""
    T = md.n_tasks
    u_c, log_k, s_acc = np.zeros(T), np.full(T, np.log(5.0)), np.full(T, 0.01)
    for t in range(T):
        j = md.s2_task == t
        if not j.any():  # the single step has no checkpoints: its start is set below
            continue
        c = md.chance[t]
        r = np.clip((md.s2_acc[j] - c) / (1 - c), 0.01, 0.99)
        u = np.log(r / (1 - r))
        dl = md.s2_loss[j] - md.loss_centre[t]
        X2 = np.c_[np.ones(j.sum()), dl]
        coef2, *_ = np.linalg.lstsq(X2, u, rcond=None)
        u_c[t] = np.clip(coef2[0], -6, 6)
        log_k[t] = np.log(np.clip(-coef2[1], 0.5, 50.0))
        p = c + (1 - c) / (1 + np.exp(-(u_c[t] - np.exp(log_k[t]) * dl)))
        s_acc[t] = np.clip(np.std(md.s2_acc[j] - p), 0.002, 0.05)
    return u_c, log_k, s_acc


def _single_step_start(md: ModelData, priors: dict, tau: float) -> dict[str, np.ndarray]:
    """The single step's start: a logit-scale law from a log-linear fit of each task's logit accuracy."""
    T = md.n_tasks
    coef, _ = md.final_logit_fit()
    u1 = np.clip(coef[:, 0], -6, 6)
    sl_N, sl_D = np.clip(coef[:, 1], 0.02, 5.0), np.where(md.one_length, 0.5, np.clip(coef[:, 2], 0.02, 5.0))
    floor_shift = np.zeros(T)
    pops = {name: (np.log(v).mean(), 0.5) for name, v in (("N", sl_N), ("D", sl_D))}
    measured = measured_slopes(md)  # a slope the runs do not measure starts at its population's mean (z = 0)
    # along an axis of two values least squares measures the secant: the centre's slope at the
    # start's exponents (0.3) is exp(shift) times it
    shifts = np.asarray(single_step_shifts(md, np.full(T, 0.3), np.full(T, 0.3)))
    sl_N = np.where(measured[:, 0], sl_N * np.exp(shifts[:, 0]), np.exp(pops["N"][0]))
    sl_D = np.where(measured[:, 1] & (not md.one_length), sl_D * np.exp(shifts[:, 1]), np.exp(pops["D"][0]))
    return {
        **single_step_centre_values(u1, floor_shift, sl_N, sl_D, md.chance, measured, (pops["N"], pops["D"]),
                                     md.one_length, shifts),  # the sampler's geometry
        "alpha_mu": np.array(np.log(0.3)), "alpha_tau": np.array(tau),
        "beta_mu": np.array(np.log(0.3)), "beta_tau": np.array(tau),
        "logit_centre": u1, "logit_slope_N": sl_N, "logit_slope_D": sl_D,
        "logit_slope_N_mu": np.array(pops["N"][0]), "logit_slope_N_tau": np.array(pops["N"][1]),
        "logit_slope_D_mu": np.array(pops["D"][0]), "logit_slope_D_tau": np.array(pops["D"][1]),
        "alpha_z": np.zeros(T), "beta_z": np.zeros(T), "floor_shift": floor_shift,
        "noise_ratio": np.full(T, np.exp(priors["noise_ratio"][1][0])),  # the prior's median: one point per run
        **{f"logit_slope_{a}_by_centre": np.array(0.0) for a in "ND" if priors[f"logit_slope_{a}_by_centre"][0] != "Fixed"},
    }  # fmt: skip


#: NUTS's fields kept beside the draws.
EXTRA_FIELDS = ("diverging", "num_steps")

#: Draws per chain of each continuation: always the same, so that every continuation runs one
#: compiled program (read from the persistent compilation cache after the first time).
EXTEND_CHUNK = 200


def sample(mcmc: MCMC, config: FitConfig, md: ModelData, *args, stop_if_divergent: bool = False, **kwargs) -> Draws:
    """Warm up (unless ``mcmc`` is) and draw ``config.first_draws`` per chain. With
    ``config.draws=None`` (by need), while the bulk or tail ESS is below ``config.ess_target``
    or R-hat above 1.01, continue the chains where they stopped (no new warmup) to the draws
    the ESS so far projects, with a quarter more for margin (R-hat alone: one chunk), at most twice and up to
    ``config.max_draws`` per chain, in chunks of :data:`EXTEND_CHUNK` draws (one program for
    every continuation). The first 700 meet the goals on both bundled ladders for most seeds
    (:data:`~ladderfit.model.config.FIRST_DRAWS`); a harder posterior gets more.
    ``stop_if_divergent``: no more draws once any transition diverged (a run that will be
    sampled again from the start, :func:`sample_converging`). ``Draws.note`` says how many and why.
    """
    with unchecked(getattr(md, "structure", None)):  # (md None: a scripted sampler in tests)
        mcmc.run(jax.random.PRNGKey(config.seed), md, *args, extra_fields=EXTRA_FIELDS, **kwargs)
    check_interrupt()  # a Ctrl-C that XLA swallowed while compiling or sampling stops the fit here
    _import_while_sampling()
    draws = Draws.of(mcmc)
    note = f"{draws.n_draws} draws per chain" + (" (as asked)" if config.draws is not None else "")
    for _ in range(2):
        n = draws.n_draws
        if config.draws is not None or n >= config.max_draws or (stop_if_divergent and _diverged(draws)):
            break
        d, ess, met = _goals(draws.convergence(md), config)
        if met:
            note += f": ESS {ess:.0f} >= {config.ess_target:.0f} and R-hat {d['max_r_hat']:.3f} after {n}"
            break
        add = more_draws(n, ess, config)
        for size in [EXTEND_CHUNK] * (add // EXTEND_CHUNK) + ([add % EXTEND_CHUNK] if add % EXTEND_CHUNK else []):
            draws = draws + continue_chains(mcmc, size, md, *args, **kwargs)  # a short last chunk only at max_draws
            if stop_if_divergent and _diverged(draws):
                break
        note = (f"{draws.n_draws} draws per chain: the first {n} had ESS {ess:.0f} (goal {config.ess_target:.0f}) "
                f"and R-hat {d['max_r_hat']:.3f}, so the chains went on")
    if stop_if_divergent and _diverged(draws) and config.draws is None:
        note += " (and stopped at a divergent transition)"
    draws.note = note
    return draws


def continue_chains(mcmc: MCMC, size: int, md: ModelData, *args, **kwargs) -> Draws:
    """``size`` more draws per chain where ``mcmc``'s chains stopped (no new warmup): one
    program for every continuation of that size."""
    mcmc.num_samples = size
    mcmc.post_warmup_state = mcmc.last_state
    with unchecked(getattr(md, "structure", None)):
        mcmc.run(mcmc.post_warmup_state.rng_key, md, *args, extra_fields=EXTRA_FIELDS, **kwargs)
    check_interrupt()
    return Draws.of(mcmc)


def more_draws(n: int, ess: float, config: FitConfig) -> int:
    """Draws per chain :func:`sample` adds to ``n`` that fell short of the goals with smallest
    bulk or tail ESS ``ess``: with the ESS short, those it projects with a quarter more for
    margin, ``ceil((1.25 n ess_target / ess - n) / chunk)`` chunks; with R-hat alone short,
    one chunk; never past ``config.max_draws``."""
    if ess < config.ess_target:
        add = np.ceil((n * 1.25 * config.ess_target / max(ess, 1.0) - n) / EXTEND_CHUNK) * EXTEND_CHUNK
    else:
        add = EXTEND_CHUNK
    return int(min(config.max_draws - n, add))


def _goals(report: ConvergenceReport, config: FitConfig) -> tuple[dict, float, bool]:
    """The report as a dict, its smallest bulk or tail ESS, and whether the draws meet the goals
    :func:`sample` draws to: that ESS at least ``config.ess_target`` and R-hat at most the
    report's (1.01, unrounded)."""
    d = report.as_dict()
    ess = min(d["min_ess_bulk"], d["min_ess_tail"])
    return d, ess, bool(ess >= config.ess_target and d["max_r_hat"] <= report.rhat_max)


def _diverged(draws: Draws) -> bool:
    return bool(np.any(draws.extra["diverging"]))


def _import_while_sampling() -> None:
    """Import what reads the draws while the chains run: JAX runs them asynchronously, so the
    import overlaps with sampling instead of adding to it. The fit's class always; ArviZ (and
    xarray) in an interactive session (IPython, Jupyter), where InferenceData usually comes next,
    not in a script or the CLI, whose predictions never read it."""
    from . import results  # noqa: F401

    if "IPython" in sys.modules:
        import arviz  # noqa: F401


def sampler_options(config: FitConfig) -> dict:
    """The model's keywords for NUTS: the sampler's geometry and likelihood precision."""
    return {"for_sampler": True, "likelihood_dtype": "float32" if config.float32_likelihood else "float64"}


def make_mcmc(md: ModelData, priors: dict, config: FitConfig) -> MCMC:
    """NumPyro's NUTS for the model of ``md``, set up as ``config`` says; run it with
    :func:`sample` and the model keywords of :func:`sampler_options`."""
    start = initial_values(md, priors)
    kernel = NUTS(
        model_for(md.structure),
        init_strategy=init_to_value(values=start),
        target_accept_prob=config.target_accept,
        # capped while warming up: the first iterations, before the mass matrix is adapted,
        # otherwise take 1,023 steps each (benchmarks/sampler_levers.py)
        max_tree_depth=(min(config.warmup_tree_depth, config.max_tree_depth), config.max_tree_depth),
    )
    progress = show_progress_bar(config.progress_bar)
    method = _chain_method(config)
    directory, options = program_dir(), compiler_options(md.spec)
    if method == "parallel" and (directory is not None or options):
        # the compiled program kept between processes (a second fit skips tracing), and compiled
        # with the model's XLA options whether kept or not, so that the draws are the same (.programs)
        method = CachedChains(("nuts", md.structure, start, config.target_accept, config.max_tree_depth,
                               config.warmup_tree_depth, config.warmup, config.chains), directory, options)
    return MCMC(kernel, num_warmup=config.warmup, num_samples=config.first_draws, num_chains=config.chains,
                chain_method=method, progress_bar=progress)


def _chain_method(config: FitConfig) -> str:
    """``auto``: parallel where JAX has a device per chain; on one GPU vectorized (the default
    fit took 23 s warm there, one chain after another 73 s: ``benchmarks/results/gpu_check.json``);
    else sequential."""
    if config.chain_method != "auto":
        return config.chain_method
    if config.chains > 1 and jax.local_device_count() >= config.chains:
        return "parallel"
    if config.chains > 1 and jax.default_backend() == "gpu":
        return "vectorized"
    return "sequential"


def fit(data=None, config: FitConfig | None = None, method: str = "bayes", model=None, **options) -> "LadderFit":  # noqa: F821
    """Fit the joint two-step model to a ladder with NUTS (or the paper's least squares).

    Parameters
    ----------
    data : tidy DataFrame, a path (tidy CSV or OLMo logs), or ``None`` for the bundled OLMo
        ladder. Of the bundled ladder (``None`` or the table of ``load_olmo_ladder()``) the
        paper's 16 runs (1, 2, 5, 10 x Chinchilla) are fitted unless ``runs`` says otherwise:
        adding the 0.5xC runs and the seed reruns made the held-out-rung backtest worse (MAE
        1.57 vs 1.24 accuracy points, ``benchmarks/ablations.py``).
    config : a :class:`~ladderfit.model.config.FitConfig`; keyword ``options`` override its
        fields (``tasks``, ``runs``, ``chains``, ``warmup``, ``draws``, ``seed``, ...).
    method : ``"bayes"`` (this model) or ``"least_squares"``: the paper's two-step least squares
        (:func:`ladderfit.model.least_squares.fit_least_squares`), another estimator of the
        same specification on the same data path; it takes ``tasks``, ``runs``, ``model``,
        ``seed`` and least-squares options (``n_starts``, ``n_boot``, ``ideal_point``) and
        returns a ``LeastSquaresFit`` whose ``predict`` gives the same table.
    model : the :class:`~ladderfit.model.spec.ModelSpec` or its name (default
        :data:`~ladderfit.model.spec.DEFAULT_MODEL`, the single step: the best proper scores on
        both bundled ladders' hold-outs; ``"two_step"`` is the paper's two steps);
        ``structure=``, ``feature=`` and ``run_effects=`` keywords change single parts of it.
    calibration : keyword option: a file written by ``ladderfit calibrate --save-choice`` (or
        :func:`~ladderfit.model.calibrated.read_choice`'s dict): the model it chose (unless
        ``model`` is given) and its discrepancy priors (under any ``priors`` given).

    Returns
    -------
    LadderFit holding the draws and the config; its InferenceData (posterior,
    posterior_predictive, observed_data, log_likelihood, sample_stats) is built on first use of
    ``fit.idata``: predictions do not wait for it. Warns with
    :class:`~ladderfit.model.diagnostics.ConvergenceWarning` if the sampler did not converge.
    """
    if "variant" in options:
        raise TypeError("fit(variant=...) is now fit(model=...) (or structure=...): e.g. model='single_step'")
    if method not in ("bayes", "least_squares"):
        raise ValueError(f"method must be 'bayes' or 'least_squares', got {method!r}")
    parts = {k: options.pop(k) for k in ("structure", "feature", "run_effects") if k in options}
    base = config.__dict__ if config else {}
    calibration = options.pop("calibration", None)
    if calibration is not None:  # a ladder's own calibration: its model, unless given, and its discrepancy
        model, options["priors"] = _calibrated(calibration, model if model is not None else base.get("model"),
                                               options.get("priors", base.get("priors")))
    if model is None and base.get("model") is None and method == "least_squares" and not parts:
        model = "two_step"  # the paper's method fits the paper's two steps unless told
    spec = as_spec(model if model is not None else base.get("model"), **parts)
    if method == "least_squares":
        return _fit_least_squares(data, base, spec, options)
    config = FitConfig(**{**base, **options, "model": spec})
    prepare(config.chains)  # float64, a CPU device per chain
    df = _ladder_data(data, config.tasks, config.runs)
    config = _with_available_feature(df, config)
    check_feature(df, config.model)
    md = build_model_data(df, config.model, config.preprocessing)
    priors = resolve_priors(config.priors, config.model.structure)
    start = time.perf_counter()
    config, draws = sample_converging(md, priors, config)
    seconds = time.perf_counter() - start
    report = draws.convergence(md)  # what check_convergence(idata) gives, computed once
    warn_if_not_converged(report)
    from .results import LadderFit  # imported while the chains ran (_import_while_sampling)

    return LadderFit(draws=draws, config=config, model_data=md, priors=priors, diagnostics=report,
                     sampling_seconds=seconds, data_sha256=data_sha256(df))


def sample_converging(md: ModelData, priors: dict, config: FitConfig) -> tuple[FitConfig, Draws]:
    """:func:`sample` at ``config.target_accept``; where that run had divergent transitions and
    ``config.retry_target_accept`` is higher, once more from the start (a new warmup, the same
    seed) at the retry's target: smaller steps; where that run diverged too, a third time at the
    same target, warmed up :data:`~ladderfit.model.config.RETRY_WARMUP_FACTOR` times as long. A run
    that a later one may replace draws no more once a transition diverged. A later run is kept
    unless it diverged more often, per draw, than the one kept before it (where a funnel, not the
    step, is the cause, smaller steps can go deeper into it). A run without divergences that
    still missed R-hat or ESS after its draws by need is sampled again at the retry's target
    (:func:`_resample_unconverged`). Returns the config the kept draws came from (so that a saved
    fit's config reproduces them) and the draws, whose note says what was done."""
    retry = config.retry_target_accept
    retries = retry is not None and retry > config.target_accept
    # a run with divergent transitions is sampled again: it draws no more than it has then
    draws = sample(make_mcmc(md, priors, config), config, md, priors, stop_if_divergent=retries, **sampler_options(config))
    n_div = int(np.sum(draws.extra["diverging"]))
    if not retries:
        return config, draws
    if n_div == 0:
        return _resample_unconverged(md, priors, config, draws)
    again = dataclasses.replace(config, target_accept=retry)
    longer = dataclasses.replace(again, warmup=RETRY_WARMUP_FACTOR * config.warmup)
    runs = [(config, draws, n_div, f"at target_accept {config.target_accept:g}")]
    kept = 0
    for run, where in ((again, f"at {retry:g}"), (longer, f"at {retry:g} after {longer.warmup} warmup iterations")):
        new = sample(make_mcmc(md, priors, run), run, md, priors, stop_if_divergent=run is again,
                     **sampler_options(run))
        n_new = int(np.sum(new.extra["diverging"]))
        runs.append((run, new, n_new, where))
        _, best, n_best, _ = runs[kept]
        if n_new * best.n_draws <= n_best * new.n_draws:  # as often or less, per draw
            kept = len(runs) - 1
        if n_new == 0:
            break
    run, draws, _, _ = runs[kept]
    said = [f"{n} divergent transition{'s' if n != 1 else ''} {where}" if i == 0 else f"{n} {where}"
            for i, (_, _, n, where) in enumerate(runs) if i != kept]
    if kept == 0:
        draws.note = (f"{draws.note}; {n_div} divergent transition{'s' if n_div != 1 else ''} at target_accept "
                      f"{config.target_accept:g}, and when sampled again {', '.join(said)}: the first run is kept")
    else:
        extra = f" after {run.warmup} warmup iterations" if run is longer else ""
        draws.note = f"{draws.note}; sampled again at target_accept {retry:g} (smaller steps){extra}: {'; '.join(said)}"
    return run, draws


def _resample_unconverged(md: ModelData, priors: dict, config: FitConfig, draws: Draws) -> tuple[FitConfig, Draws]:
    """A run without divergent transitions that drew by need (:func:`sample`: on to at most
    ``config.max_draws``) and still missed R-hat or ESS: once more from the start at ``config.retry_target_accept`` (smaller
    steps reach into tails where the scale of the posterior changes, such as a law's sd left free
    by a few runs). The second run is kept if it has no divergent transition and meets the goals,
    or misses them by less (a higher smallest ESS); else the first, with a note."""
    if config.draws is not None:  # as many draws as asked for
        return config, draws
    d, ess, met = _goals(draws.convergence(md), config)  # computed once: fit() reads it again
    if met:
        return config, draws
    again = dataclasses.replace(config, target_accept=config.retry_target_accept)
    draws_again = sample(make_mcmc(md, priors, again), again, md, priors, **sampler_options(again))
    d_again, ess_again, met_again = _goals(draws_again.convergence(md), config)
    at = f"R-hat {d['max_r_hat']:.3f} and ESS {ess:.0f} after {draws.n_draws} draws at target_accept {config.target_accept:g}"
    if d_again["divergences"] == 0 and (met_again or ess_again > ess):
        draws_again.note = f"{draws_again.note}; sampled again at target_accept {again.target_accept:g} (smaller steps): {at}"
        return again, draws_again
    draws.note = (f"{draws.note}; sampled again at {again.target_accept:g}: R-hat {d_again['max_r_hat']:.3f}, "
                  f"ESS {ess_again:.0f}, {d_again['divergences']} divergent: the first run is kept")
    return config, draws


def _calibrated(calibration, model, priors) -> tuple:
    """(model, priors) with a calibration choice (:func:`~ladderfit.model.calibrated.read_choice`):
    its model when none is given, its discrepancy under the priors given; a model of another
    structure than the one calibrated is an error (the discrepancy belongs to its structure)."""
    from ..errors import LadderDataError
    from .calibrated import read_choice

    choice = read_choice(calibration)
    chosen = as_spec(choice["model"])
    if model is not None and as_spec(model).structure != chosen.structure:
        raise LadderDataError(f"calibration {calibration if not isinstance(calibration, dict) else ''}: it was "
                              f"made for model {chosen.name!r}, not {as_spec(model).name!r}; calibrate that model, "
                              "or leave the model out to use the calibrated one")
    return (model if model is not None else chosen), {**choice["priors"], **dict(priors or {})}


def _with_available_feature(df: pd.DataFrame, config: FitConfig) -> FitConfig:
    """The config, its feature replaced by the data's only loss column when the data have no
    ``task_loss`` (:func:`~ladderfit.data.schema.available_feature`), with a warning that says so."""
    import dataclasses
    import warnings

    from ..data.schema import available_feature

    spec = config.model
    feature = available_feature(df, spec.feature)
    if not spec.uses_feature or feature == spec.feature:
        return config
    new = spec.replace(feature=feature)
    warnings.warn(f"the data have no 'task_loss' column; fitting its only loss column {feature!r} as the "
                  f"intermediate feature (model {new.name!r})", UserWarning, stacklevel=3)
    return dataclasses.replace(config, model=new)


def _ladder_data(data, tasks=None, runs=None) -> pd.DataFrame:
    """Read the data and keep the given tasks and runs.

    The bundled OLMo ladder gives the paper's 16 runs unless ``runs`` says otherwise, whether
    it is passed as ``None`` or as the table :func:`~ladderfit.data.bundled.load_olmo_ladder`
    returned: the same data are fitted the same way from Python and from the CLI.
    """
    from ..data.bundled import default_runs

    df = read_data(data)
    return select(df, tasks, runs if runs is not None else default_runs(df))


def _fit_least_squares(data, base: dict, spec, options: dict):
    from ..data.preprocess import PAPER_PREPROCESSING
    from .least_squares import fit_least_squares

    ls_keys = {"n_starts", "n_boot", "ideal_point", "reference_targets"}
    ls_opts = {k: options.pop(k) for k in list(options) if k in ls_keys}
    config = FitConfig(**{**base, **options, "model": spec})
    df = _ladder_data(data, config.tasks, config.runs)
    prep = config.preprocessing if "preprocessing" in options else PAPER_PREPROCESSING
    return fit_least_squares(df, model=spec, prep=prep, seed=config.seed, **ls_opts)
