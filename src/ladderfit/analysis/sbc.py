"""Simulation-based calibration (Talts et al. 2018): does the sampler recover the model's own prior?

For each simulation :func:`sbc` draws the parameters and the observations from the *prior*
at the design of a ladder (its runs' sizes, the task losses at which step 2 is read, the
jitters and smoothing counts that preprocessing measured), fits the model to the drawn
observations with NUTS, and records the **rank** of each true parameter among ``n_draws``
(thinned) posterior draws: the number of draws below it. When the sampler computes the
posterior correctly, each rank is uniform on ``0 .. n_draws`` whatever the prior, so the
histogram of ranks over simulations is flat. A U shape means posteriors too narrow, a hump
too wide, a slope a bias. :func:`rank_uniformity` tests flatness with a chi-square test per
parameter; :func:`ladderfit.plots.sbc.plot_sbc_ranks` draws the histograms.

**How the simulated observations reach the fit.** The draws of :func:`~ladderfit.analysis.checks.prior_predictive`
(``constraint="soft"``: exact rejection sampling of the model's own prior, the soft barrier
``E_positive`` included, so the truths come from the prior the fit uses) are the model's
*observations* (``loss_obs``: one log task loss per run and task; ``acc_obs``: one smoothed
accuracy per step-2 checkpoint), not the raw evaluations of a ladder table. Writing them back
into a ladder table and preprocessing again is not possible: preprocessing averages the last
evaluations of a run, smooths checkpoints over a moving window, thins them and *measures*
the jitters from neighbouring checkpoints, none of which can be inverted. So the design
(:class:`~ladderfit.model.inputs.ModelData` of the ladder table, preprocessing done once) is
kept and the drawn observations replace the real ones in its arrays (``s1_loss``, ``s2_acc``,
``s1_acc``); NUTS then runs exactly what :func:`ladderfit.fit` runs on that design: the same
model keywords (:func:`~ladderfit.model.bayes.sampler_options`: the sampler's geometry, the
likelihood on grids, the checkpoints' terms in float32 unless ``float32_likelihood=False``),
started from :func:`~ladderfit.model.bayes.initial_values` of the drawn data, and a run with
divergent transitions sampled again at ``retry_target_accept`` (smaller steps), and warmed up
longer if it still diverged, the run kept by fit's own rule (:func:`~ladderfit.model.bayes.sample_converging`).

Ranks of one simulation are correlated across the tasks (they share the pooled
parameters); :func:`rank_uniformity` therefore tests each (parameter, index) over the
simulations by default, which are independent.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import replace

import jax
import numpy as np
import pandas as pd
from scipy import stats

from ..data.bundled import default_runs
from ..data.readers import read_data
from ..model.bayes import sample_converging, select
from ..model.config import FitConfig
from ..model.inputs import build_model_data
from ..model.priors import resolve_priors
from ..model.runtime import enable_x64
from .checks import OBSERVED_SITES, prior_predictive

__all__ = ["sbc", "rank_uniformity", "DEFAULT_PARAMS", "PARAMS_BY_STRUCTURE"]

#: Parameters ranked by default: the pooled means, each task's exponents and step-2 curve, E.
DEFAULT_PARAMS: tuple[str, ...] = ("alpha_mu", "beta_mu", "k_mu", "alpha", "beta", "k", "L0", "floor", "E", "sigma_acc")

#: Parameters ranked by default for each structure (the two steps': :data:`DEFAULT_PARAMS`).
PARAMS_BY_STRUCTURE: dict[str, tuple[str, ...]] = {
    "two_step": DEFAULT_PARAMS,
    "compute": ("alpha_mu", "k_mu", "alpha", "k", "L0", "floor", "E", "sigma_acc"),
    "single_step": ("alpha_mu", "beta_mu", "alpha", "beta", "logit_centre", "logit_slope_N", "logit_slope_D",
                    "floor", "sigma_acc"),
}

#: The ModelData field each observed site replaces (for the starting values).
_DATA_FIELD = {"loss_obs": "s1_loss", "acc_obs": "s2_acc", "final_acc_obs": "s1_acc"}


def _design(data, options: FitConfig):
    df = read_data(data)
    df = select(df, options.tasks, options.runs if options.runs is not None else default_runs(df))
    return df, build_model_data(df, options.model, options.preprocessing)


def _labels(md, name: str, shape: tuple) -> list[str]:
    if not shape:
        return [""]
    if shape == (md.n_tasks,):
        return list(md.tasks)
    if md.shared_feature and shape == (md.n_laws,):
        return [md.feature] * shape[0]
    return [str(i) for i in range(int(np.prod(shape)))]


def sbc(
    data,
    n_sims: int,
    *,
    params: Sequence[str] | None = None,
    fit_options: Mapping | None = None,
    n_draws: int = 99,
    seed: int = 0,
) -> pd.DataFrame:
    """Simulation-based calibration of the fit at the design of a ladder.

    Parameters
    ----------
    data : a ladder table (what :func:`ladderfit.fit` reads) that fixes the design: tasks,
        runs, the step-2 checkpoints' task losses, preprocessing's jitters. Its own
        observations are not used (only to start NUTS, through the drawn ones). Keep it small.
    n_sims : number of simulations (one prior draw and one NUTS fit each).
    params : the parameters to rank (posterior sites of the model: sampled or deterministic);
        default the structure's :data:`PARAMS_BY_STRUCTURE`.
    fit_options : :class:`~ladderfit.model.config.FitConfig` fields: ``tasks``, ``runs``,
        ``model`` (default ``"two_step"``; ``fit``'s default is ``"single_step"``), ``preprocessing``, ``priors`` (for the draws and the fits), ``chains``,
        ``warmup``, ``draws``, ``target_accept``, ``max_tree_depth``, ``seed`` (the fits'
        seeds are ``seed + 1 + sim``).
    n_draws : posterior draws each truth is ranked among, thinned evenly from the
        ``chains x draws`` (at most that many); ranks run from 0 to ``n_draws``. Thinning
        makes the draws closer to independent, which the uniformity of ranks assumes.
    seed : seed of the prior draws.

    Returns
    -------
    Tidy table, one row per (simulation, parameter, element): ``sim, parameter, index``
    (position in the parameter's flattened array), ``label`` (the task, or ``""`` for a
    scalar), ``truth``, ``rank``, ``n_draws``, ``divergences`` (of the simulation's kept run),
    ``sampled_again`` (its first run had divergent transitions and it was sampled again at
    ``retry_target_accept``, as :func:`ladderfit.fit` does, and that run is kept),
    ``warmed_up_longer`` (the kept run is the third, warmed up longer after the second diverged too).
    ``attrs``: ``seconds`` (all fits) and ``acceptance_rate`` of the prior draws.
    """
    if n_sims < 1:
        raise ValueError("n_sims must be at least 1")
    enable_x64()
    # the two-step model unless told: the model whose sampler geometry and likelihood grids NUTS uses
    options = FitConfig(**{"progress_bar": False, "model": "two_step", **dict(fit_options or {})})
    df, md = _design(data, options)
    priors = resolve_priors(options.priors, options.model.structure)
    params = PARAMS_BY_STRUCTURE[md.structure] if params is None else params
    prior = prior_predictive(df, model=options.model, tasks=options.tasks, runs=options.runs, priors=options.priors,
                             preprocessing=options.preprocessing, num_samples=n_sims, seed=seed, constraint="soft")  # fmt: skip
    unknown = [p for p in params if p not in prior.prior]
    if unknown:
        raise KeyError(f"unknown parameter(s) {unknown}; the prior has {', '.join(prior.prior.data_vars)}")
    sites = OBSERVED_SITES[md.structure]
    total = options.chains * options.first_draws
    n_keep = min(n_draws, total)
    keep = np.unique(np.linspace(0, total - 1, n_keep).round().astype(int))
    n_keep = len(keep)
    rows, start = [], time.perf_counter()
    for i in range(n_sims):
        obs = {s: np.asarray(prior.prior_predictive[s].values[0, i]) for s in sites}
        md_i = replace(md, **{_DATA_FIELD[s]: (np.exp(v) if s == "loss_obs" else v) for s, v in obs.items()})
        # the drawn observations in the design, sampled exactly as fit() samples data: the
        # sampler's geometry and likelihood grids, the checkpoints' terms in the configured
        # precision, and a run with divergent transitions sampled again at retry_target_accept
        kept, run = sample_converging(md_i, priors, replace(options, seed=options.seed + 1 + i))
        samples = {k: v.reshape(-1, *v.shape[2:]) for k, v in run.samples.items()}  # chains one after another
        divergences = int(np.asarray(run.extra["diverging"]).sum())
        again = bool(kept.target_accept != options.target_accept)
        longer = bool(kept.warmup > options.warmup)
        # each simulation's data are constants of its own programs: free them, or a few hundred
        # simulations exhaust the process's memory mappings (LLVM: "Cannot allocate memory")
        jax.clear_caches()
        for name in params:
            truth = np.asarray(prior.prior[name].values[0, i])
            draws = np.asarray(samples[name])[keep].reshape(n_keep, -1)
            ranks = (draws < truth.reshape(1, -1)).sum(axis=0)
            for j, (label, t, r) in enumerate(zip(_labels(md, name, truth.shape), truth.ravel(), ranks)):
                rows.append({"sim": i, "parameter": name, "index": j, "label": label, "truth": float(t),
                             "rank": int(r), "n_draws": n_keep, "divergences": divergences,
                             "sampled_again": again, "warmed_up_longer": longer})  # fmt: skip
    table = pd.DataFrame(rows)
    table.attrs.update(seconds=time.perf_counter() - start, acceptance_rate=prior.attrs["acceptance_rate"])
    return table


def rank_bins(n_draws: int, n_bins: int) -> np.ndarray:
    """Probability of each of ``n_bins`` bins of the ranks ``0 .. n_draws`` under uniformity
    (bin of a rank r: ``floor(r n_bins / (n_draws + 1))``; equal when n_bins divides n_draws + 1)."""
    ranks = np.arange(n_draws + 1)
    return np.bincount(ranks * n_bins // (n_draws + 1), minlength=n_bins) / (n_draws + 1)


def default_bins(n_sims: int, n_draws: int) -> int:
    """Bins for ``n_sims`` ranks: at least 5 expected per bin, between 2 and 10 (and no more than ranks)."""
    return int(max(2, min(10, n_sims // 5, n_draws + 1)))


def rank_uniformity(table: pd.DataFrame, n_bins: int | None = None, by: Sequence[str] = ("parameter", "index")) -> pd.DataFrame:
    """Chi-square test that the ranks of each group of ``by`` are uniform, ranks binned.

    ``n_bins``: default :func:`default_bins` (about 5 simulations per bin, 2 to 10 bins).
    ``by=("parameter",)`` pools a parameter's elements (tasks): their ranks within one
    simulation are correlated, so the pooled test is only approximate.

    Returns one row per group: ``by`` columns, ``label`` (the task; ``""`` when pooled), ``n`` (ranks), ``n_bins``, ``chi2``,
    ``dof``, ``p_value``, ``counts`` (per bin) and ``mean_rank`` (over ``n_draws``: 0.5 when unbiased).
    """
    by = [by] if isinstance(by, str) else list(by)
    n_draws = int(table["n_draws"].iloc[0])
    if (table["n_draws"] != n_draws).any():
        raise ValueError("rank_uniformity: the simulations ranked among different numbers of draws")
    out = []
    for key, g in table.groupby(by, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        bins = n_bins or default_bins(len(g), n_draws)
        expected = rank_bins(n_draws, bins) * len(g)
        counts = np.bincount(g["rank"].to_numpy() * bins // (n_draws + 1), minlength=bins)
        chi2, p = stats.chisquare(counts, expected)
        labels = g["label"].unique() if "label" in g else [""]
        out.append({**dict(zip(by, key)), "label": labels[0] if len(labels) == 1 else "", "n": len(g),
                    "n_bins": bins, "chi2": float(chi2), "dof": bins - 1, "p_value": float(p),
                    "counts": counts.tolist(), "mean_rank": float(g["rank"].mean() / n_draws)})  # fmt: skip
    return pd.DataFrame(out)
