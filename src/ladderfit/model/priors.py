"""Priors of the joint model, named and documented in one place.

All priors are weakly informative and live on scales the data are normalized to:

* task loss is modelled through its level at the ladder's centre, ``L_c = m_t exp(level_sd * l_t)``,
  where ``m_t`` is the geometric mean of task t's step-1 losses, so ``l_t ~ N(0, 1)``;
* slopes of the task loss are relative: ``g_N = -d log L / d log N`` at the centre (same for D);
* the sigmoid works on the logit scale ``u = logit((acc - chance) / (1 - chance))``.

Each entry is ``(distribution name, parameters, meaning)``; :func:`prior` builds the NumPyro
distribution. Change a prior by passing ``priors={"name": ("LogNormal", (loc, scale))}`` to
:func:`ladderfit.fit`; the values used are saved with the fit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpyro.distributions as dist

__all__ = ["DEFAULT_PRIORS", "DISCREPANCY_BY_STRUCTURE", "DISCREPANCY_PRIORS", "PRIORS_BY_STRUCTURE", "SINGLE_STEP_EXPONENT_MEAN", "prior",
           "resolve_priors"]

#: A run's deviation from the law at its final point, in binomial sds: the single step's noise
#: ratio and, with run effects, the two steps' persistent run offset (see PRIORS_BY_STRUCTURE).
RUN_NOISE_PRIOR: tuple[str, tuple[float, ...]] = ("LogNormal", (math.log(0.6), 0.5))

DEFAULT_PRIORS: dict[str, tuple[str, tuple[float, ...], str]] = {
    # ---- step 1: L(N, D) = E + A / N^alpha + B / D^beta --------------------------------
    "level": ("Normal", (0.0, 1.0), "standardized log level of the task loss at the ladder centre (x level_sd)"),
    "level_sd": ("Fixed", (0.5,), "scale of the level around the geometric mean of the observed losses"),
    "slope_N": ("LogNormal", (math.log(0.05), 1.0), "relative slope -dlogL/dlogN at the centre"),
    "slope_D": ("LogNormal", (math.log(0.05), 1.0), "relative slope -dlogL/dlogD at the centre"),
    "alpha_mu": ("Normal", (math.log(0.3), 0.75), "population mean of log alpha (N exponent)"),
    "alpha_tau": ("LogNormal", (math.log(0.3), 0.5), "population sd of log alpha (zero-avoiding)"),
    "beta_mu": ("Normal", (math.log(0.3), 0.75), "population mean of log beta (D exponent)"),
    "beta_tau": ("LogNormal", (math.log(0.3), 0.5), "population sd of log beta (zero-avoiding)"),
    "sigma_loss": ("LogNormal", (math.log(0.015), 0.75), "per-task sd of log task loss around the law"),
    "E_floor": ("Fixed", (0.02,), "softness (fraction of L_c) of the constraint E > 0"),
    "seed_share": ("Beta", (2.0, 2.0), "share of sigma_loss a rerun with another seed redraws (ladders with reruns)"),
    # ---- step 2: acc(L) = chance + (1 - chance) sigmoid(-k (L - L0)) ------------------
    "logit_centre": ("Normal", (0.0, 2.5), "logit of the rescaled accuracy at the centre of the task's losses"),
    "floor_shift": ("Normal", (0.0, 0.05), "lower asymptote minus the task's chance level"),
    "k_mu": ("Normal", (math.log(5.0), 1.0), "population mean of log k (sigmoid slope, logits per bit/byte)"),
    "k_tau": ("LogNormal", (math.log(0.5), 0.5), "population sd of log k (zero-avoiding)"),
    "noise_ratio": ("LogNormal", (math.log(0.5), 1.0), "sd of one evaluation around the curve / binomial sd sqrt(p(1-p)/n)"),
    "run_noise_ratio": (*RUN_NOISE_PRIOR, "run effects: a run's persistent deviation from the curve / binomial sd (as the single step's noise ratio)"),
    "checkpoint_ratio": ("LogNormal", (math.log(0.25), 1.0), "run effects: a checkpoint's scatter within its run beyond the measured jitter / binomial sd"),
    # ---- single-step structure: acc(N, D) = floor + (1 - floor) sigmoid(u(N, D)) -------------
    # the logit slopes g at the ladder's centre, partially pooled over tasks: log g_t ~ N(mu, tau).
    # tau's median 0.25 (it was 0.5): chosen for every held-out run of both bundled ladders on the
    # other hold-outs' other runs, better on every proper score in every distance bin
    # (benchmarks/prior_selection.py --variants "slope sd 0.25": prior_selection_slopes.json)
    "logit_slope_N_mu": ("Normal", (math.log(0.5), 1.0), "single step: population mean of log g_N (d logit / d log N at the centre)"),
    "logit_slope_N_tau": ("LogNormal", (math.log(0.25), 0.5), "single step: population sd of log g_N (zero-avoiding)"),
    "logit_slope_D_mu": ("Normal", (math.log(0.5), 1.0), "single step: population mean of log g_D (d logit / d log D at the centre)"),
    "logit_slope_D_tau": ("LogNormal", (math.log(0.25), 0.5), "single step: population sd of log g_D (zero-avoiding)"),
    # the population's mean moves with the task's centre logit, mu + c s tanh((u_c - u_ref) / s): a task low on
    # its curve at the ladder's centre (near chance) borrows the slopes of tasks low on theirs
    # (Fixed 0: one mean for all tasks, the model before these two priors)
    "logit_slope_N_by_centre": ("Normal", (0.0, 0.25), "single step: change of the population mean of log g_N per unit of the task's centre logit u_c near u_ref = -2, saturating at +-3 logits (Normal, or Fixed)"),
    "logit_slope_D_by_centre": ("Normal", (0.0, 0.25), "single step: change of the population mean of log g_D per unit of the task's centre logit u_c near u_ref = -2, saturating at +-3 logits (Normal, or Fixed)"),
    # ---- extrapolation -----------------------------------------------------------------
    # the two-step structure's discrepancy d^power (drift + gamma eps), d from the ladder's hull
    # in (log N, log D); calibrated on the bundled OLMo ladder's six nested hold-outs by CRPS
    # (benchmarks/calibration.py: gamma 0.100 x d^1.5, 90% bootstrap interval over runs
    # 0.083-0.121; no drift: the drift did not improve the nested cross-validated scores)
    "discrepancy": ("LogNormal", (math.log(0.100), 0.15), "gamma: discrepancy sd per unit of d^power (LogNormal, or Fixed)"),
    "discrepancy_power": ("Fixed", (1.5,), "power of the distance d in the discrepancy sd gamma d^power"),
    "discrepancy_drift": ("Fixed", (0.0,), "delta: mean of the logit-scale discrepancy per unit of d^power (the law's bias)"),
    "discrepancy_max_distance": ("Fixed", (3.10,), "largest distance d of the hold-outs the discrepancy was calibrated on"),
}

#: The priors that make the discrepancy ``d^p (drift + gamma eps)`` and its calibrated range.
DISCREPANCY_PRIORS = ("discrepancy", "discrepancy_power", "discrepancy_drift", "discrepancy_max_distance")

#: Priors that may take another family than their default's.
OTHER_FAMILIES: dict[str, tuple[str, ...]] = {"discrepancy": ("LogNormal", "Fixed"),
                                              "logit_slope_N_by_centre": ("Fixed", "Normal"),
                                              "logit_slope_D_by_centre": ("Fixed", "Normal")}


#: Each structure's own discrepancy (a better mean needs less of it), calibrated like the
#: default's on the bundled OLMo ladder's nested hold-outs; where a structure is missing, the
#: defaults above apply. Distances are in (log N, log D) for every structure except compute,
#: whose ladder is a line in log C.
DISCREPANCY_BY_STRUCTURE: dict[str, dict[str, tuple[str, tuple[float, ...]]]] = {
    # the single step (slopes pooled over tasks, their mean moving with the centre logit, their
    # population sd's prior at median 0.25; the exponents' means at median 0.2, sd 0.3; 700 first
    # draws; the centre's pull saturating; traced without NumPyro's checks): its own predictive
    # spread covers its held-out errors, the best gamma on the grid 0.0178 (90% bootstrap interval
    # over runs 0-0.038; power 0.5, log-sd 0.52). The best was 0 (shipped at the grid's smallest
    # positive gamma, 0.01), 0.0147 and 0.0215 in earlier runs of other draws or priors: within
    # the estimate's Monte Carlo noise, and a tenth of a point or less of width far out
    # (benchmarks/far_width.py).
    "single_step": {"discrepancy": ("LogNormal", (math.log(0.01778279410038923), 0.5248743715577546)),
                    "discrepancy_power": ("Fixed", (0.5,)),
                    "discrepancy_drift": ("Fixed", (0.0,)), "discrepancy_max_distance": ("Fixed", (3.10,))},
    # compute: d in log C from the ladder's range of C (1B-10xC lies 3.92 beyond the 4-run corner)
    "compute": {"discrepancy": ("LogNormal", (math.log(0.121), 0.15)), "discrepancy_power": ("Fixed", (1.0,)),
                "discrepancy_drift": ("Fixed", (0.0,)), "discrepancy_max_distance": ("Fixed", (3.92,))},
}


#: The single step's exponents say how soon its logit curve bends (the role of the irreducible loss),
#: and a sub-ladder of 2-4 sizes says next to nothing of them: their population mean's prior is most of
#: the far spread. Median 0.2 and sd 0.3 (90% range of the mean 0.12-0.33; it was the two steps'
#: median 0.3, sd 0.75): chosen on both bundled ladders' nested hold-outs, each held-out run with the
#: prior of lower CRPS on the other hold-outs' other runs, which chose it for all 43 of OLMo's
#: (``benchmarks/prior_selection.py --variants "exponent means 0.2 sd 0.3"``:
#: ``prior_selection_exponent_02_sd.json``). At median 0.3 with sd 0.3 it was narrower still far out
#: but lost CRPS there (``prior_selection_exponent_sd_only.json``); at median 0.2 with sd 0.75 it did
#: not hold out of sample (``prior_selection.json``).
SINGLE_STEP_EXPONENT_MEAN: tuple[str, tuple[float, ...]] = ("Normal", (math.log(0.2), 0.3))

#: Other priors that differ by structure. The single step's noise ratio is a run's deviation
#: from the law at its final point in units of the binomial sd; reruns of a configuration with
#: another seed already differ by more than a checkpoint's jitter (``benchmarks/noise.py``), and
#: the law's own misfit adds to that, so a ratio near 0 is implausible: median 0.6, 90% prior
#: range 0.26-1.37. A ratio near 0 was also where the sampler diverged, a run pinned exactly onto
#: the curve (``benchmarks/sampler_grid.py``). Its exponents' population means:
#: :data:`SINGLE_STEP_EXPONENT_MEAN`.
PRIORS_BY_STRUCTURE: dict[str, dict[str, tuple[str, tuple[float, ...]]]] = {
    "single_step": {"noise_ratio": RUN_NOISE_PRIOR, "alpha_mu": SINGLE_STEP_EXPONENT_MEAN,
                    "beta_mu": SINGLE_STEP_EXPONENT_MEAN},
}


def resolve_priors(overrides: Mapping[str, tuple] | None = None,
                   structure: str | None = None) -> dict[str, tuple[str, tuple[float, ...]]]:
    """Defaults (with the ``structure``'s own discrepancy and priors, :data:`DISCREPANCY_BY_STRUCTURE`,
    :data:`PRIORS_BY_STRUCTURE`) updated with user overrides; returns ``{name: (family, params)}``."""
    out = {k: (v[0], tuple(float(p) for p in v[1])) for k, v in DEFAULT_PRIORS.items()}
    out.update(DISCREPANCY_BY_STRUCTURE.get(structure, {}))
    out.update(PRIORS_BY_STRUCTURE.get(structure, {}))
    for name, spec in (overrides or {}).items():
        if name not in DEFAULT_PRIORS:
            raise KeyError(f"unknown prior {name!r}; known priors: {', '.join(DEFAULT_PRIORS)}")
        family, params = spec[0], tuple(float(p) for p in spec[1])
        allowed = OTHER_FAMILIES.get(name, (DEFAULT_PRIORS[name][0],))
        if family not in allowed:
            raise ValueError(f"prior {name!r} must be {' or '.join(allowed)}, got {family}")
        out[name] = (family, params)
    return out


def prior(priors: Mapping[str, tuple[str, tuple[float, ...]]], name: str) -> dist.Distribution:
    """The NumPyro distribution of a named prior."""
    family, params = priors[name]
    if family == "Fixed":
        raise ValueError(f"prior {name!r} is a fixed constant, not a distribution")
    return getattr(dist, family)(*params)
