r"""The joint hierarchical Bayesian two-step scaling law (NumPyro).

Bhagia et al. (2024), *Establishing Task Scaling Laws via Compute-Efficient Model Ladders*,
predict a task's accuracy in two steps. ladderfit writes both as one model over all tasks t.

**Step 1 — task loss from size.** For run r with N_r parameters and D_r tokens,

.. math::

    L_t(N, D) = E_t + A_t N^{-\alpha_t} + B_t D^{-\beta_t}, \qquad
    \log \bar L_{tr} \sim \mathcal N\Big(\log L_t(N_r, D_r),\ \sqrt{(\sigma^{loss}_t)^2 + (e_t / \bar L_t)^2 / n_r}\Big),

observed once per run (:func:`ladderfit.data.preprocess.step1_points`: the mean of the last
n_r evaluations at the final D): a run's deviation from the law, sigma_loss, and the measured
noise of that mean, with ``e_t / Lbar_t`` the feature's checkpoint jitter in log units (``e_t``
below; :func:`step1_measurement_var`). With x = log N - log N_c and z = log D - log D_c centred on the
ladder, the law is parameterized by its level ``L_c`` and relative slopes
``g_N = -dlog L/dlog N``, ``g_D`` at the centre, which the data pin down, and the exponents,
which they do not:

.. math::

    L_t = E_t + a_t e^{-\alpha_t x} + b_t e^{-\beta_t z},\quad
    a_t = g_{N,t} L_{c,t} / \alpha_t,\quad b_t = g_{D,t} L_{c,t} / \beta_t,\quad
    E_t = L_{c,t} - a_t - b_t \;(> 0,\ \text{soft constraint}).

Exponents are partially pooled (non-centred): ``log alpha_t ~ N(mu_alpha, tau_alpha)``,
likewise beta. A feature that every task shares (``c4_loss``, ``lambada_loss``: the same
numbers for all tasks) has one law, fitted once (``ModelData.law_of_task``), not T copies of
one data set that would make the pooled exponents over-confident.

*Seeds of one configuration* (runs with the same N and final D, such as the bundled 1xC
reruns) are replicates, not independent runs: they share the configuration's deviation from
the law, drawn once with sd ``sigma_loss sqrt(1 - s^2)``, and differ by the seed part, sd
``sigma_loss s``, whose share ``s_t ~ Beta(2, 2)`` their differences inform (each point adds its
measured noise). A run alone in its configuration keeps the total ``sigma_loss``
(the likelihood is then exactly as without replicates), and so does a target.

**Step 2 — accuracy from task loss.** Bounded below by a floor f_t near the task's chance
level c_t (``f_t = c_t + delta_t``, ``delta_t ~ N(0, 0.05)``) and above by 1 (the Bayesian
twin of the paper's ideal point (0, 1)):

.. math::

    \mathrm{acc}_t(L) = f_t + (1 - f_t)\,\mathrm{sigmoid}(u_t(L)),\qquad
    u_t(L) = u_{c,t} - k_t (L - \bar L_t),

observed at the intermediate checkpoints i (smoothed over m_i evaluations, and thinned so
that the moving-average windows do not overlap), slopes pooled, ``log k_t ~ N(mu_k, tau_k)``.

**Evaluation noise.** Every model, ladder and target alike, answers the *same* items, so the
sampling of those items is shared and absorbed by the fitted curve; it is not independent
noise. What does vary is (a) which items one checkpoint happens to get right, measured from
the data as the jitter ``j_t`` of accuracy between neighbouring checkpoints
(:func:`ladderfit.data.preprocess.checkpoint_jitter`; it matches the spread between seed
reruns of the bundled ladder, about half the binomial sd), and (b) a run's persistent
deviation from the curve, ``sigma_acc_t = r_t sqrt(pbar(1-pbar)/n_t)`` with the ratio r_t
fitted. Errors of the observed loss (its jitter ``e_t``) reach accuracy through the curve's
slope:

.. math::

    \mathrm{acc}_{ti} \sim \mathcal N\Big(\mathrm{acc}_t(L_{ti}),\
        \sqrt{(\sigma^{acc}_t)^2 + \big(j_t^2 + (\mathrm{acc}_t'(L_{ti})\, e_t)^2\big)/m_i}\Big).

*Variant* ``run_effects=True``: the run's persistent deviation shared by its checkpoints, the
jitter per checkpoint. ``acc_ti = acc_t(L_ti) + nu_tr + eps_ti`` with ``nu_tr ~ N(0, sigma_acc_t)``
once per run and ``eps_ti`` of sd ``sqrt(s_t^2 + (j_t^2 + (acc_t' e_t)^2) / m_i)`` per checkpoint
(``s_t = sigma_checkpoint_t``, its scatter within the run beyond the measured jitter, a ratio
to the binomial sd as ``sigma_acc`` is), so the checkpoints of one run count as one run's
evidence, not as independent ones. NUTS draws the model with the offsets integrated out
(:func:`_run_block_loglik`: per task and run, the normal density of covariance
``diag(d) + sigma_acc^2 11^T``, by Sherman-Morrison); their posterior is then drawn exactly from
the normal conditional given each draw (:func:`run_effect_conditional`). A target is a new run and one checkpoint of it: predictive sd
``sqrt(sigma_acc^2 + s_t^2 + j_t^2)``.

**Chained prediction.** For a target (N*, D*) at distance d beyond the ladder's largest N and
D (Euclidean, in log N and log D),

.. math::

    \log L^* \sim \mathcal N(\log L_t(N^*, D^*), \sigma^{loss}_t),\quad
    u^* = u_t(L^*) + d^p (\delta + \gamma\,\varepsilon),\quad
    \mathrm{acc}^* \sim \mathcal N\big(f_t + (1 - f_t)\,\mathrm{sigmoid}(u^*),\
        \sqrt{(\sigma^{acc}_t)^2 + j_t^2}\big),

so the uncertainty of both steps, the target run's own deviation, one evaluation's noise and a
model discrepancy that grows with the distance reach the interval: a predictive interval of
the target's *measured* accuracy. The discrepancy's scale gamma, drift delta (its mean: the
law's bias beyond the ladder) and power p are not learnt from the ladder, which cannot show how
wrong the law is beyond itself: gamma is drawn at prediction time from a prior, delta and p
fixed, all calibrated on nested hold-outs inside a ladder (:mod:`ladderfit.analysis.discrepancy`, ``ladderfit calibrate``). Priors:
:mod:`ladderfit.model.priors`.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from jax.nn import log_sigmoid

from .curves import accuracy_from_logit, array_module, scaling_law_centred, single_step_logit
from .inputs import ModelData
from .priors import prior

__all__ = ["SAMPLED_SITES", "SAMPLER_SITES", "centre_values", "measured_slopes", "secant_axes", "single_step_centre_values", "single_step_shifts", "WEAK_SLOPE",
           "secant_shift", "secant_values", "U_REF", "PULL_SCALE", "centre_pull",
           "ladder_model", "single_step_model", "model_for"]


#: The model's latent sample sites (everything else is deterministic or observed).
SAMPLED_SITES: frozenset[str] = frozenset({
    "alpha_mu", "alpha_tau", "beta_mu", "beta_tau", "k_mu", "k_tau", "level", "slope_N", "slope_D",
    "alpha_z", "beta_z", "sigma_loss", "logit_centre", "log_k", "noise_ratio", "checkpoint_ratio", "run_z",
    "floor_shift", "logit_slope_N", "logit_slope_D", "seed_share", "config_raw",
    "logit_slope_N_mu", "logit_slope_N_tau", "logit_slope_D_mu", "logit_slope_D_tau",
    "logit_slope_N_by_centre", "logit_slope_D_by_centre",
})  # fmt: skip


#: Sites of the sampler's geometry only (``for_sampler=True``): not parameters of the model.
SAMPLER_SITES: frozenset[str] = frozenset({"centre_accuracy", "centre_slope", "centre_slope_N", "centre_slope_D",
                                           "secant_slope_N", "secant_slope_D"})


def _population(name: str, priors: dict) -> tuple:
    """Population mean and sd of a partially pooled log-parameter (``{name}_mu``, ``{name}_tau``)."""
    return numpyro.sample(f"{name}_mu", prior(priors, f"{name}_mu")), numpyro.sample(f"{name}_tau", prior(priors, f"{name}_tau"))


#: The centre logit ``u_ref`` the single step's slope population refers to (the bundled tasks'
#: centre logits lie between -5 and 1, median about -2): ``mu`` is the mean log slope there.
U_REF = -2.0
#: The saturation of the centre's pull on the slope population (logits): the pull is linear within a
#: few logits of ``u_ref`` and levels off at +-``PULL_SCALE`` for a task at its chance floor or ceiling.
PULL_SCALE = 3.0


def centre_pull(u_c):
    """``s tanh((u_c - u_ref) / s)``: how far the task's centre logit moves its slopes' population
    mean (times ``c``); ``u_c - u_ref`` near ``u_ref``, bounded by ``s`` = :data:`PULL_SCALE`."""
    return PULL_SCALE * jnp.tanh((u_c - U_REF) / PULL_SCALE)


def _by_centre(name: str, priors: dict):
    """The change of the population mean of a log slope per unit of the centre logit: a draw, or 0."""
    family, params = priors[f"{name}_by_centre"]
    return params[0] if family == "Fixed" else numpyro.sample(f"{name}_by_centre", prior(priors, f"{name}_by_centre"))


def _discrepancy_scale(priors: dict):
    """gamma: a constant, or drawn from its prior (calibrated on nested hold-outs) at prediction
    time only, since the ladder itself says nothing about it."""
    family, params = priors["discrepancy"]
    return params[0] if family == "Fixed" else numpyro.sample("discrepancy_scale", prior(priors, "discrepancy"))


@contextmanager
def _target_plates(priors: dict, target_x, target_z, n_tasks: int):
    """The (target, task) plates of the chained prediction; yields centred (x, z) and gamma."""
    tx, tz = jnp.asarray(target_x)[:, None], jnp.asarray(target_z)[:, None]
    gamma = _discrepancy_scale(priors)
    with numpyro.plate("target", tx.shape[0], dim=-2), numpyro.plate("task_t", n_tasks, dim=-1):
        yield tx, tz, gamma


def _target_accuracy(u_t, floor, sigma_acc, gamma, priors: dict, data: ModelData, target_x, target_z,
                     sigma_checkpoint=0.0) -> None:
    """Draw ``target_accuracy`` from the target's logit ``u_t``: the model discrepancy, then the
    curve, then the evaluation noise of one measurement (the run's scatter, the checkpoint's
    scatter within it where the model has one, and one evaluation's jitter)."""
    dist_beyond = jnp.asarray(data.distance_beyond(target_x, target_z))[:, None]
    power = priors["discrepancy_power"][1][0]
    drift = priors.get("discrepancy_drift", ("Fixed", (0.0,)))[1][0]  # fits saved before the drift: none
    eps = numpyro.sample("target_discrepancy", dist.Normal(0.0, 1.0))
    u = numpyro.deterministic("target_logit", u_t + dist_beyond**power * (drift + gamma * eps))
    p_t = numpyro.deterministic("target_accuracy_mean", accuracy_from_logit(u, floor))
    sd = jnp.sqrt(sigma_acc**2 + sigma_checkpoint**2 + jnp.asarray(data.acc_jitter) ** 2)
    acc = numpyro.sample("target_accuracy_raw", dist.Normal(p_t, sd))
    numpyro.deterministic("target_accuracy", jnp.clip(acc, 0.0, 1.0))


def _curve_by_centre(u_c, chance_level, priors: dict, log_k_prior):
    r"""The sigmoid's floor shift delta and log slope log k, drawn through what the checkpoints
    pin down: the accuracy at the loss centre and the curve's slope there (NUTS's geometry).

    .. math::

        p_c = f + (1 - f)\,q,\quad q = \mathrm{sigmoid}(u_c),\qquad
        \log s = \log k + \log(1 - f) + \log q(1 - q),

    sampled as ``centre_accuracy`` (logit p_c) and ``centre_slope`` (log s), with ``u_c``; then
    ``f = (p_c - q) / (1 - q)``. The priors stay those of delta and log k, through the
    Jacobian ``|d(delta, log k) / d(logit p_c, log s)| = p_c (1 - p_c) / (1 - q)``: the same
    posterior (up to the region p_c outside (0, 1), many prior sds away), but not the ridges
    of the (u_c, delta, log k) parameterization (|r| 0.97 median over tasks, up to 1.00): 54
    leapfrog steps per draw instead of 202 (``benchmarks/sampler_levers.py``).
    """
    flat = dist.ImproperUniform(dist.constraints.real, (), ())
    w = numpyro.sample("centre_accuracy", flat)
    log_s = numpyro.sample("centre_slope", flat)
    q, p_c = jax.nn.sigmoid(u_c), jax.nn.sigmoid(w)
    f = (p_c - q) / (1 - q)
    floor_shift = numpyro.deterministic("floor_shift", f - chance_level)
    log_k = numpyro.deterministic("log_k", log_s - jnp.log1p(-f) - log_sigmoid(u_c) - log_sigmoid(-u_c))
    log_jacobian = log_sigmoid(w) + log_sigmoid(-w) - log_sigmoid(-u_c)
    numpyro.factor("curve_prior", prior(priors, "floor_shift").log_prob(floor_shift)
                   + log_k_prior.log_prob(log_k) + log_jacobian)
    return floor_shift, log_k


#: A slope whose least-squares relative standard error (:meth:`ModelData.final_logit_fit`) is
#: above this is not drawn through the centre's accuracy slope in the single step's sampler
#: geometry: the runs measure it less well than its population (sd ~0.3-0.5 in log) would.
WEAK_SLOPE = 0.5


#: Fewer residual degrees of freedom than this (runs per task minus the fit's coefficients)
#: and no slope counts as measured: a standard error from one or two residuals says nothing.
MIN_DOF = 3


def measured_slopes(data: ModelData) -> np.ndarray:
    """Which logit slopes (task, (N, D)) the runs measure (least-squares relative standard error
    <= :data:`WEAK_SLOPE`, with at least :data:`MIN_DOF` residual degrees of freedom): the
    single step's sampler draws those through the centre's accuracy slope
    (:func:`_single_step_by_centre`), along an axis of two values (two sizes) through its
    secant (:func:`secant_axes`). A task near chance measures neither, a ladder of one length
    no D slope, a sub-ladder of a few runs no slope."""
    coef, se = data.final_logit_fit()
    with np.errstate(divide="ignore", invalid="ignore"):  # the law's slopes are positive: g > 0
        rel = np.where(coef[:, 1:] > 1e-6, se[:, 1:] / coef[:, 1:], np.inf)
    dof = np.bincount(data.s1_task, minlength=data.n_tasks) - (2 if data.one_length else 3)
    return (np.nan_to_num(rel, nan=np.inf) <= WEAK_SLOPE) & (dof[:, None] >= MIN_DOF) & (_axis_levels(data) >= 2)


def _axis_levels(data: ModelData) -> np.ndarray:
    """How many distinct x (log N) and z (log D) values each task's runs have: (task, 2)."""
    return np.array([[len(np.unique(np.round(v[data.s1_task == t], 6))) for v in (data.s1_x, data.s1_z)]
                     for t in range(data.n_tasks)])


def secant_axes(data: ModelData) -> np.ndarray:
    """The axes (task, (N, D)) with two values only (two sizes, two lengths): there the runs
    measure the secant slope across the two, not the slope at the centre, which the exponent
    sets (the curvature); the single step's sampler draws a measured slope there by its secant
    (:func:`_single_step_by_centre`). Drawn at the centre, it diverged (``benchmarks/sampler_grid.py``,
    ``two_largest_sizes``); non-centred from its population, it took 300-1000 leapfrog steps per draw."""
    return _axis_levels(data) == 2


def single_step_ranges(data: ModelData) -> np.ndarray:
    """Per task, the range of its runs' centred x and z: (task, 2 axes, (lo, hi)), from
    :meth:`ModelData.s1_ranges` (the single step has one law per task)."""
    x_lo, x_hi, z_lo, z_hi = data.s1_ranges()
    return np.stack([np.stack([x_lo, x_hi], -1), np.stack([z_lo, z_hi], -1)], axis=1)


def single_step_shifts(data: ModelData, alpha, beta):
    """``log(g / g_sec)`` per task and axis (:func:`secant_shift`) where the axis has two values
    (:func:`secant_axes`), else 0: (task, 2), what the sampler adds to a secant slope."""
    r, sec, xp = single_step_ranges(data), secant_axes(data), array_module(alpha, beta)
    shift_N = xp.where(sec[:, 0], secant_shift(alpha, r[:, 0, 0], r[:, 0, 1]), 0.0)
    shift_D = xp.where(sec[:, 1], secant_shift(beta, r[:, 1, 0], r[:, 1, 1]), 0.0)
    return xp.stack([shift_N, shift_D], axis=-1)


def _single_step_by_centre(u_c, chance_level, priors: dict, slope_pops: tuple, measured: np.ndarray,
                           one_length: bool = False, shifts=None):
    r"""The single step's floor shift delta and logit slopes g_N, g_D, drawn through what the
    runs pin down: the accuracy at the ladder's centre and its slopes there in log N and log D
    (NUTS's geometry; :func:`_curve_by_centre`'s twin).

    .. math::

        p_c = f + (1 - f)\,q,\quad q = \mathrm{sigmoid}(u_c),\qquad
        \log s = \log g + \log(1 - f) + \log q(1 - q),

    sampled, with ``u_c``, as ``centre_accuracy`` (logit p_c) and ``centre_slope_N``,
    ``centre_slope_D`` (log s) where the runs measure the slope (``measured``, from
    :func:`measured_slopes`); elsewhere, for a task whose N slope they do not measure (near
    chance, a sub-ladder of a few runs), delta itself and log g_N non-centred, z in
    ``log g_N = mu + tau z`` (``mu`` the population's mean at the task's centre logit), and
    log g_D likewise (always on a ladder of one length, ``one_length``): drawn centred, an
    unmeasured slope sat in the funnel of its population's mean and sd. Along an axis of two
    values the measured slope is the secant's: ``log g = log s - log(dacc/du) + shift``, with
    ``shifts`` (task, 2) the exponent's :func:`secant_shift` there (:func:`single_step_shifts`;
    0 elsewhere), a shift in log g whose Jacobian is 1, as in :func:`_slope_by_secant`. The priors stay those
    of delta and log g, through the Jacobian
    ``|d(delta, log g_N, log g_D) / d(logit p_c, log s_N, log s_D)| = p_c (1 - p_c) / (1 - q)``
    (triangular: f depends on p_c alone), times tau for each non-centred slope. Drawn directly, delta,
    u_c and the measured slopes lie on the ridges that a well-measured centre accuracy and
    slope leave: 6-8x the leapfrog steps per draw on the bundled OLMo ladder; on Pythia's
    tasks near chance, the centre's geometry diverged.
    """
    flat = dist.ImproperUniform(dist.constraints.real, (), ())
    w = numpyro.sample("centre_accuracy", flat)
    by_centre = jnp.asarray(measured[:, 0])  # the task's N slope is measured: through the centre
    q, p_c = jax.nn.sigmoid(u_c), jax.nn.sigmoid(w)
    f = jnp.where(by_centre, (p_c - q) / (1 - q), chance_level + w)
    floor_shift = numpyro.deterministic("floor_shift", f - chance_level)
    log_dacc_du = jnp.log1p(-f) + log_sigmoid(u_c) + log_sigmoid(-u_c)  # d acc / d logit at the centre
    log_prior = (prior(priors, "floor_shift").log_prob(floor_shift)
                 + jnp.where(by_centre, log_sigmoid(w) + log_sigmoid(-w) - log_sigmoid(-u_c), 0.0))  # the Jacobian
    by_slope = jnp.asarray(measured[:, 1]) & (not one_length)  # a ladder of one length measures no D slope
    log_g = []
    shifts = jnp.zeros(jnp.shape(u_c) + (2,)) if shifts is None else shifts
    for a, (site, (mu, tau), by) in enumerate((("centre_slope_N", slope_pops[0], by_centre),
                                               ("centre_slope_D", slope_pops[1], by_slope))):
        raw = numpyro.sample(site, flat)
        # measured: by the centre (by the secant on an axis of two values); else non-centred
        log_g.append(jnp.where(by, raw - log_dacc_du + shifts[..., a], mu + tau * raw))
        log_prior = log_prior + jnp.where(by, dist.Normal(mu, tau).log_prob(log_g[-1]), dist.Normal(0.0, 1.0).log_prob(raw))
    log_g_N, log_g_D = log_g
    numpyro.factor("curve_prior", log_prior)
    g_N = numpyro.deterministic("logit_slope_N", jnp.exp(log_g_N))
    g_D = numpyro.deterministic("logit_slope_D", jnp.exp(log_g_D))
    return floor_shift, g_N, g_D


def single_step_centre_values(u_c, floor_shift, g_N, g_D, chance_level, measured, slope_pops,
                              one_length: bool = False, shifts=None) -> dict:
    """``centre_accuracy``, ``centre_slope_N`` and ``centre_slope_D`` of the single step's
    sampler geometry from (u_c, delta, g_N, g_D) (:func:`_single_step_by_centre`'s inverse;
    ``slope_pops`` the slopes' populations ((mu_N, tau_N), (mu_D, tau_D)) at each task's centre
    logit, for the slopes drawn non-centred; ``shifts`` the secant shifts, :func:`single_step_shifts`)."""
    q = 1 / (1 + np.exp(-u_c))
    shifts = np.zeros(np.shape(u_c) + (2,)) if shifts is None else np.asarray(shifts)
    f = chance_level + floor_shift
    p_c = f + (1 - f) * q
    log_dacc_du = np.log1p(-f) + np.log(q * (1 - q))
    by_centre, by_slope = measured[:, 0], measured[:, 1] & (not one_length)

    def raw(g, by, pop, shift):
        return np.where(by, np.log(g) + log_dacc_du - shift, (np.log(g) - pop[0]) / pop[1])

    return {"centre_accuracy": np.where(by_centre, np.log(p_c / (1 - p_c)), floor_shift),
            "centre_slope_N": raw(g_N, by_centre, slope_pops[0], shifts[..., 0]),
            "centre_slope_D": raw(g_D, by_slope, slope_pops[1], shifts[..., 1])}


def centre_values(u_c, floor_shift, log_k, chance_level) -> dict:
    """``centre_accuracy`` and ``centre_slope`` of the sampler's geometry from (u_c, delta, log k)
    (:func:`_curve_by_centre`'s inverse, for initial values)."""
    import numpy as np

    q = 1 / (1 + np.exp(-u_c))
    f = chance_level + floor_shift
    p_c = f + (1 - f) * q
    return {"centre_accuracy": np.log(p_c / (1 - p_c)),
            "centre_slope": log_k + np.log1p(-f) + np.log(q * (1 - q))}


class _Law(NamedTuple):
    """Step 1's law, one row per law: ``L = E + a e^{-alpha x} + b e^{-beta z}`` at the centred
    (x, z), its level ``L_c`` at the centre, the runs' scatter and the seeds' share of it."""

    L_c: jnp.ndarray
    E: jnp.ndarray
    a: jnp.ndarray
    alpha: jnp.ndarray
    b: jnp.ndarray
    beta: jnp.ndarray
    sigma_loss: jnp.ndarray
    seed_share: jnp.ndarray | None


class _Curve(NamedTuple):
    """Step 2's sigmoid per task: ``acc(L) = floor + (1 - floor) sigmoid(u_c - k (L - L_centre))``,
    the runs' scatter ``sigma_acc`` and, with run effects, a checkpoint's scatter within its run."""

    u_c: jnp.ndarray
    k: jnp.ndarray
    floor: jnp.ndarray
    sigma_acc: jnp.ndarray
    sigma_checkpoint: jnp.ndarray | float = 0.0


def _step1_draws(data: ModelData, priors: dict, with_D: bool, by_secant: bool = False) -> dict:
    """Step 1's parameters per law (plate ``law``): level, centre slopes (``by_secant``: the log
    secant slopes instead, NUTS's geometry, :func:`_slope_by_secant`), the exponents' non-centred draws, the
    scatter and (with replicates) the seeds' share of it."""
    draws = {"seed_share": None}
    flat = dist.ImproperUniform(dist.constraints.real, (), ())
    with numpyro.plate("law", data.n_laws, dim=-1):
        draws["level"] = numpyro.sample("level", prior(priors, "level"))
        if by_secant:
            draws["secant_N"] = numpyro.sample("secant_slope_N", flat)
        else:
            draws["g_N"] = numpyro.sample("slope_N", prior(priors, "slope_N"))
        draws["alpha_z"] = numpyro.sample("alpha_z", dist.Normal(0.0, 1.0))
        if with_D and by_secant:
            draws["secant_D"] = numpyro.sample("secant_slope_D", flat)
        elif with_D:
            draws["g_D"] = numpyro.sample("slope_D", prior(priors, "slope_D"))
        if with_D:
            draws["beta_z"] = numpyro.sample("beta_z", dist.Normal(0.0, 1.0))
        draws["sigma_loss"] = numpyro.sample("sigma_loss", prior(priors, "sigma_loss"))
        if data.n_replicated:  # the share of a run's scatter that a rerun with another seed redraws
            draws["seed_share"] = numpyro.sample("seed_share", prior(priors, "seed_share"))
    return draws


def _step2_draws(data: ModelData, priors: dict, k_pop: tuple, for_sampler: bool) -> dict:
    """Step 2's parameters per task (plate ``task``): the logit at the loss centre, the floor's
    shift from chance, the log slope (pooled), the noise ratio and, with run effects, the
    checkpoints' ratio (their scatter within a run, beyond the measured jitter)."""
    draws = {}
    with numpyro.plate("task", data.n_tasks, dim=-1):
        draws["u_c"] = numpyro.sample("logit_centre", prior(priors, "logit_centre"))
        # centred: every task's slope is well identified by its checkpoints
        log_k_prior = dist.Normal(*k_pop)
        if for_sampler:
            draws["floor_shift"], draws["log_k"] = _curve_by_centre(draws["u_c"], jnp.asarray(data.chance), priors,
                                                                    log_k_prior)
        else:
            draws["floor_shift"] = numpyro.sample("floor_shift", prior(priors, "floor_shift"))
            draws["log_k"] = numpyro.sample("log_k", log_k_prior)
        # with run effects, sigma_acc is a run's persistent deviation alone: the single step's
        # prior, off zero (seed reruns differ by more than a checkpoint's jitter)
        noise_prior = prior(priors, "run_noise_ratio" if data.spec.run_effects else "noise_ratio")
        draws["noise_ratio"] = numpyro.sample("noise_ratio", noise_prior)
        if data.spec.run_effects:
            draws["checkpoint_ratio"] = numpyro.sample("checkpoint_ratio", prior(priors, "checkpoint_ratio"))
    return draws


def secant_shift(exponent, lo, hi):
    r"""``log(g / g_sec)``: the centre slope g of a power-law term over its secant slope g_sec
    across the ladder's range [lo, hi] of x (or z), for the term's exponent:

    .. math::

        \log\frac{g}{g_\mathrm{sec}} = \log\frac{\alpha\,\Delta}{e^{-\alpha\,lo} - e^{-\alpha\,hi}}
        = \log(\alpha\Delta) + \alpha\,lo - \log(1 - e^{-\alpha\Delta}),\quad \Delta = hi - lo;

    0 where the range is a point (Delta = 0: one size). NumPy in, NumPy out (a start's values
    need no JAX dispatch)."""
    xp = array_module(exponent, lo, hi)
    width = xp.asarray(hi) - xp.asarray(lo)
    t = exponent * xp.where(width > 0, width, 1.0)
    return xp.where(width > 0, xp.log(t) + exponent * xp.asarray(lo) - xp.log(-xp.expm1(-t)), 0.0)


def _slope_by_secant(log_secant, exponent, lo, hi, priors: dict, name: str):
    r"""A law's centre slope g (site ``name``, deterministic here) from its log secant slope,
    drawn by NUTS: ``log g = log g_sec + secant_shift(alpha, lo, hi)``, the prior of g carried
    by a factor (``log p(g) + log g``: the map is a shift in log g, its Jacobian 1).

    What a ladder's runs measure is the drop of the term across their range (the secant), not
    its derivative at the centre: with two sizes, g = g_sec alpha h / sinh(alpha h) for a range
    of +-h, so at a fixed secant log g falls linearly in alpha, a curved tail where NUTS
    diverged (``benchmarks/sampler_grid.py``, the two steps on the sub-ladders of two sizes).
    The posterior is the model's. Used for the two-step structure's g_N and g_D; the compute
    structure's one term in log C keeps its centre slope (it did not diverge, and the secant cost
    it tail ESS on two sub-ladders)."""
    log_g = log_secant + secant_shift(exponent, lo, hi)
    g = numpyro.deterministic(name, jnp.exp(log_g))
    numpyro.factor(f"{name}_prior", prior(priors, name).log_prob(g) + log_g)
    return g


def secant_values(data: ModelData, g_N, alpha, g_D=None, beta=None) -> dict:
    """``secant_slope_N`` (and ``secant_slope_D``) of NUTS's step-1 geometry from the centre
    slopes and exponents per law (:func:`_slope_by_secant`'s inverse, for initial values)."""
    x_lo, x_hi, z_lo, z_hi = data.s1_ranges()
    out = {"secant_slope_N": np.log(g_N) - np.asarray(secant_shift(np.asarray(alpha), x_lo, x_hi))}
    if g_D is not None:
        out["secant_slope_D"] = np.log(g_D) - np.asarray(secant_shift(np.asarray(beta), z_lo, z_hi))
    return out


def _step1_law(data: ModelData, priors: dict, s1: dict, alpha_pop: tuple, beta_pop: tuple | None) -> _Law:
    """The law's coefficients per law from its centre parameterization; E > 0 softly (a factor)."""
    L_c_law = jnp.asarray(data.loss_scale) * jnp.exp(priors["level_sd"][1][0] * s1["level"])
    alpha_law = jnp.exp(alpha_pop[0] + alpha_pop[1] * s1["alpha_z"])
    x_lo, x_hi, z_lo, z_hi = data.s1_ranges() if "secant_N" in s1 else (None,) * 4
    g_N = (_slope_by_secant(s1["secant_N"], alpha_law, x_lo, x_hi, priors, "slope_N") if "secant_N" in s1
           else s1["g_N"])
    a_law = g_N * L_c_law / alpha_law
    if beta_pop is not None:
        beta_law = jnp.exp(beta_pop[0] + beta_pop[1] * s1["beta_z"])
        g_D = (_slope_by_secant(s1["secant_D"], beta_law, z_lo, z_hi, priors, "slope_D") if "secant_D" in s1
               else s1["g_D"])
        b_law = g_D * L_c_law / beta_law
    else:
        beta_law, b_law = jnp.ones_like(alpha_law), jnp.zeros_like(a_law)
    E_law = L_c_law - a_law - b_law
    # E > 0, softly: a smooth barrier a few percent of the level wide.
    numpyro.factor("E_positive", log_sigmoid(E_law / (priors["E_floor"][1][0] * L_c_law)).sum())
    return _Law(L_c_law, E_law, a_law, alpha_law, b_law, beta_law, s1["sigma_loss"], s1["seed_share"])


def _per_task(data: ModelData):
    """Each task's row of a per-law array (the identity when every task has its own law)."""
    law = data.law_of_task
    if np.array_equal(law, np.arange(data.n_tasks)):  # a law per task: no gather (its gradient, a scatter, is slow)
        return lambda v: jnp.asarray(v)
    return lambda v: jnp.asarray(v)[law]  # each task's law, so that the tables read per task


def _task_tables(data: ModelData, law: _Law, s2: dict, with_D: bool) -> tuple[_Law, _Curve]:
    """The parameters per task, recorded as deterministic sites in the data's raw units (A, B):
    step 1's law read per task, and step 2's curve."""
    per_task = _per_task(data)
    L_c = numpyro.deterministic("L_c", per_task(law.L_c))
    alpha = numpyro.deterministic("alpha", per_task(law.alpha))
    a, b, sigma_loss = per_task(law.a), per_task(law.b), per_task(law.sigma_loss)
    if with_D:
        beta = numpyro.deterministic("beta", per_task(law.beta))
        numpyro.deterministic("A", a * jnp.exp(alpha * data.logN_c))
        numpyro.deterministic("B", b * jnp.exp(beta * data.logD_c))
    else:
        beta = per_task(law.beta)
        numpyro.deterministic("A", a * jnp.exp(alpha * data.logC_c))
    E = numpyro.deterministic("E", per_task(law.E))
    k = numpyro.deterministic("k", jnp.exp(s2["log_k"]))
    floor = numpyro.deterministic("floor", jnp.asarray(data.chance) + s2["floor_shift"])
    sigma_acc = numpyro.deterministic("sigma_acc", s2["noise_ratio"] * jnp.asarray(data.acc_binomial_sd))
    numpyro.deterministic("L0", jnp.asarray(data.loss_centre) + s2["u_c"] / k)
    seed_share = None if law.seed_share is None else per_task(law.seed_share)
    task_law = _Law(L_c, E, a, alpha, b, beta, sigma_loss, seed_share)
    if "checkpoint_ratio" not in s2:
        return task_law, _Curve(s2["u_c"], k, floor, sigma_acc)
    sigma_checkpoint = numpyro.deterministic("sigma_checkpoint", s2["checkpoint_ratio"] * jnp.asarray(data.acc_binomial_sd))
    return task_law, _Curve(s2["u_c"], k, floor, sigma_acc, sigma_checkpoint)


def _run_effects(data: ModelData, sigma_acc) -> jnp.ndarray:
    """Each run's persistent offset in step 2 (task, run), ``sigma_acc_t z_tr`` with ``z ~ N(0, 1)``
    (``run_z``, non-centred). Only where the model is not drawn by NUTS, which integrates the
    offsets out (:func:`_run_block_loglik`); their posterior comes from
    :func:`run_effect_conditional`."""
    with numpyro.plate("run", data.n_runs, dim=-1):
        with numpyro.plate("task_r", data.n_tasks, dim=-2):
            z = numpyro.sample("run_z", dist.Normal(0.0, 1.0))
    return numpyro.deterministic("run_effect", sigma_acc[:, None] * z)


def _run_sums(w, resid, runs_onehot) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Per (task, run): ``a = sum_i w_i`` and ``b = sum_i w_i r_i`` over the run's checkpoints
    (``w = 1/d``; any leading axes, such as draws, broadcast)."""
    return jnp.einsum("...tc,tcr->...tr", w, runs_onehot), jnp.einsum("...tc,tcr->...tr", w * resid, runs_onehot)


def _run_block_loglik(resid, var, valid, runs_onehot, sigma_acc) -> jnp.ndarray:
    r"""Per task, the log density of its checkpoints' residuals ``r`` with a run's offset
    ``nu ~ N(0, s^2)`` integrated out: per run, a normal of covariance ``diag(d) + s^2 11^T``,

    .. math::

        -\tfrac12 \sum_i \Big(\log 2\pi d_i + \frac{r_i^2}{d_i}\Big)
        - \tfrac12 \sum_r \Big(\log(1 + s^2 a_r) - \frac{s^2 b_r^2}{1 + s^2 a_r}\Big),
        \quad a_r = \sum_{i \in r} \frac1{d_i},\ b_r = \sum_{i \in r} \frac{r_i}{d_i}

    (Sherman-Morrison and the matrix determinant lemma). ``resid``, ``var``, ``valid``: (task,
    checkpoint) grids; ``runs_onehot``: (task, checkpoint, run), 1 where the checkpoint is the
    run's; ``sigma_acc``: (task,)."""
    w = jnp.where(valid, 1.0 / var, 0.0)
    a, b = _run_sums(w, resid, runs_onehot)
    s2 = sigma_acc[:, None] ** 2
    points = jnp.where(valid, jnp.log(2 * jnp.pi * var) + resid**2 * w, 0.0).sum(-1)
    runs = (jnp.log1p(s2 * a) - s2 * b**2 / (1 + s2 * a)).sum(-1)
    return -0.5 * (points + runs)


def run_effect_conditional(key, resid, var, runs_onehot, sigma_acc) -> jnp.ndarray:
    """Draws of the runs' offsets from their normal conditional given the curve: per (task,
    run), ``N(v b, sqrt(v))`` with ``v = 1 / (1/s^2 + a)`` (a, b as in :func:`_run_block_loglik`).
    Inputs with a leading draws axis; padding has ``var`` inf. Returns (draw, task, run)."""
    a, b = _run_sums(1.0 / var, resid, runs_onehot)
    v = 1.0 / (1.0 / sigma_acc[..., None] ** 2 + a)
    return v * b + jnp.sqrt(v) * jax.random.normal(key, a.shape, dtype=a.dtype)


# ---- likelihoods, computed on grids with a row per law (step 1) or task (step 2), along which
# the row's parameters broadcast: no gather per parameter (the gradient of a gather, a scatter,
# is slow on CPU). NUTS needs only their sums: with ``on_grid`` each grid is one term of the
# density, padding masked out; otherwise each point is read out to its site.
def _col(v):
    """Per row, along it."""
    return jnp.asarray(v)[:, None]


def step1_measurement_var(data: ModelData) -> np.ndarray:
    """Per step-1 point, the measured variance of its log feature, ``j^2 / n``: the feature's
    checkpoint jitter j in log units (of the point's law: its task's, or the shared feature's)
    over the n last evaluations the point averages (0 where the ladder has one evaluation per
    run and no jitter can be measured)."""
    rel = np.divide(data.loss_noise, data.loss_centre, out=np.zeros(data.n_tasks),
                    where=np.asarray(data.loss_centre) > 0)  # the relative (log) jitter per task
    return rel[data.s1_task] ** 2 / np.maximum(data.s1_nlast, 1.0)


def _step1_likelihood(data: ModelData, law: _Law, task_law: _Law, observe: bool, on_grid: bool) -> None:
    r"""``loss_obs``: each run's final log feature around its law (``law`` per law, ``task_law``
    per task), seeds of one configuration sharing its deviation:
    ``log L_obs ~ N(log L(N, D), sqrt(sigma_loss^2 + j^2 / n))``, a run's deviation from the law
    and the measured noise of the mean of its n last evaluations (:func:`step1_measurement_var`),
    as in step 2 and the single step. The measured part keeps the sd off zero where a few runs
    leave the law's sd free: on a sub-ladder of four runs, sigma_loss near 0 was a funnel whose
    neck NUTS crossed in up to 700 leapfrog steps per draw (``benchmarks/sampler_grid.py``)."""
    G = data.n_laws
    index1, position1 = data.s1_grid()
    x1, z1 = data.s1_by_law(data.s1_x, np.zeros(G)), data.s1_by_law(data.s1_z, np.zeros(G))
    mu1 = scaling_law_centred(x1, z1, _col(law.E), _col(law.a), _col(law.alpha), _col(law.b), _col(law.beta))
    mu1 = jnp.maximum(mu1, 1e-12)  # padding: finite, never read out
    measured = step1_measurement_var(data)
    if on_grid and not data.n_replicated:
        sd1 = jnp.sqrt(_col(law.sigma_loss) ** 2 + data.s1_by_law(measured, np.zeros(G)))
        log_loss1 = np.log(data.s1_by_law(data.s1_loss, np.ones(G)))
        numpyro.sample("loss_obs", dist.Normal(jnp.log(mu1), sd1).mask(index1 >= 0), obs=log_loss1)
        return
    mu1 = mu1.reshape(-1)[position1]
    t1 = data.s1_task
    sd1 = task_law.sigma_loss[t1]
    if data.n_replicated:
        # seeds of one configuration share its deviation from the law (sd sigma_loss sqrt(1 - s^2))
        # and differ by the seed part (sd sigma_loss s): the configuration enters the law once
        share, sigma_loss = task_law.seed_share, task_law.sigma_loss
        rep_task = jnp.asarray(data.replicated_task)
        with numpyro.plate("replicated_config", data.n_replicated):
            config_raw = numpyro.sample("config_raw", dist.Normal(0.0, 1.0))
        config_dev = config_raw * sigma_loss[rep_task] * jnp.sqrt(1 - share[rep_task] ** 2)
        rep = jnp.asarray(data.s1_config)
        in_rep = rep >= 0
        mu1 = mu1 * jnp.exp(jnp.where(in_rep, config_dev[jnp.maximum(rep, 0)], 0.0))
        sd1 = jnp.where(in_rep, sigma_loss[t1] * share[t1], sd1)
    sd1 = jnp.sqrt(sd1**2 + measured)
    with numpyro.plate("step1_point", len(t1)):
        numpyro.sample("loss_obs", dist.Normal(jnp.log(mu1), sd1), obs=jnp.log(data.s1_loss) if observe else None)


def _step2_likelihood(data: ModelData, curve: _Curve, observe: bool, on_grid: bool, likelihood_dtype: str) -> None:
    """``acc_obs``: each checkpoint's accuracy around the curve at its observed loss. For NUTS
    (``on_grid``) each term may be computed in float32 (``likelihood_dtype``) and summed in
    float64: the same density within 0.01 nats at posterior draws (tests/test_sampler.py), in
    half the gradient's time (benchmarks/sampler_levers.py --gradient). With run effects the
    run's scatter ``sigma_acc`` is its persistent offset: integrated out for NUTS
    (:func:`_run_block_loglik`, in float64), drawn (``run_z``) otherwise."""
    T = data.n_tasks
    run_effects = data.spec.run_effects
    dtype = jnp.dtype(likelihood_dtype) if on_grid and not run_effects else jnp.float64
    cast = lambda v: jnp.asarray(v).astype(dtype)  # noqa: E731
    index, position = data.s2_grid()
    dl = data.s2_by_task(data.s2_loss, data.loss_centre) - data.loss_centre[:, None]  # padding: 0
    u2 = _col(cast(curve.u_c)) - _col(cast(curve.k)) * cast(dl)
    f2 = _col(cast(curve.floor))
    p = accuracy_from_logit(u2, f2)
    # errors in the observed loss: their effect on accuracy, to first order (the curve's slope)
    s2 = jax.nn.sigmoid(u2)
    slope = (1 - f2) * s2 * (1 - s2) * _col(cast(curve.k))
    jitter = _col(cast(data.acc_jitter)) ** 2 + (slope * _col(cast(data.loss_noise))) ** 2  # one checkpoint's noise
    var = jitter / cast(data.s2_by_task(data.s2_nsmooth, np.ones(T)))  # a checkpoint's own (smoothed) noise
    var = var + _col(cast(curve.sigma_checkpoint)) ** 2 if run_effects else var  # and its scatter within the run
    obs = cast(data.s2_by_task(data.s2_acc, np.full(T, 0.5)))
    if run_effects and on_grid:
        numpyro.factor("acc_obs", _run_block_loglik(obs - p, var, index >= 0, data.s2_runs_onehot(), curve.sigma_acc).sum())
        return
    if run_effects:
        numpyro.deterministic("step2_curve", p)  # for the offsets' conditional draws (run_effect_conditional)
        numpyro.deterministic("step2_var", var)
        p = p + _run_effects(data, curve.sigma_acc)[np.arange(T)[:, None], data.s2_by_task(data.s2_run, np.zeros(T, dtype=int))]
        sd2 = jnp.sqrt(var)
    else:
        sd2 = jnp.sqrt(_col(cast(curve.sigma_acc)) ** 2 + var)
    if on_grid:
        terms = dist.Normal(p, sd2).log_prob(obs)
        numpyro.factor("acc_obs", jnp.where(index >= 0, terms, 0.0).astype(jnp.float64).sum())
    else:
        # (the gather stays when it is the identity: XLA's CPU fusion ran a plain reshape slower)
        p, sd2 = p.reshape(-1)[position], sd2.reshape(-1)[position]
        with numpyro.plate("checkpoint", len(position)):
            numpyro.sample("acc_obs", dist.Normal(p, sd2), obs=data.s2_acc if observe else None)


def _chained_prediction(data: ModelData, priors: dict, law: _Law, curve: _Curve, target_x, target_z) -> None:
    """The targets' loss from step 1's law (with a run's scatter), then their accuracy from step
    2's curve at that loss (:func:`_target_accuracy`), per (target, task)."""
    with _target_plates(priors, target_x, target_z, data.n_tasks) as (tx, tz, gamma):
        mean_loss = numpyro.deterministic("target_loss_mean", scaling_law_centred(tx, tz, law.E, law.a, law.alpha,
                                                                                  law.b, law.beta))
        log_loss = numpyro.sample("target_log_loss", dist.Normal(jnp.log(jnp.maximum(mean_loss, 1e-12)), law.sigma_loss))
        loss = numpyro.deterministic("target_loss", jnp.exp(log_loss))
        u_t = curve.u_c - curve.k * (loss - data.loss_centre)  # a new run: its offset is in sigma_acc
        _target_accuracy(u_t, curve.floor, curve.sigma_acc, gamma, priors, data, target_x, target_z, curve.sigma_checkpoint)


def ladder_model(data: ModelData, priors: dict, target_x=None, target_z=None, observe: bool = True,
                 for_sampler: bool = False, likelihood_dtype: str = "float64"):
    """The joint two-step model; with ``target_x``/``target_z`` it also draws target predictions.

    Sites: per-task parameters (dim ``task``), run effects (``task``, ``run``), observations
    ``loss_obs`` (step-1 points) and ``acc_obs`` (step-2 checkpoints), and for targets
    ``target_loss`` and ``target_accuracy`` (``target``, ``task``). ``observe=False`` leaves the
    observations unconditioned (prior and posterior predictive checks). ``for_sampler=True``
    draws the sigmoid's floor and slope through its centre (:func:`_curve_by_centre`) and, in
    the two-step structure, step 1's slopes by their secants across the ladder
    (:func:`_slope_by_secant`): the same posterior in NUTS's better geometry, for sampling only (its flat sites cannot be drawn
    from the prior); observed, each step's points are then one term of the density (a grid
    with a row per law or task, padding masked out), the checkpoints' terms computed in
    ``likelihood_dtype`` (``"float32"``: summed in float64, the same density within 0.01 nats).
    The specification's ``run_effects`` adds the run-level offsets of step 2
    (:class:`~ladderfit.model.spec.ModelSpec`).

    Read as the math: the populations of the exponents and slopes; step 1's law per law
    (:func:`_step1_draws`, :func:`_step1_law`); step 2's curve per task (:func:`_step2_draws`);
    both read per task (:func:`_task_tables`); the two likelihoods; the chained prediction.
    """
    with_D = data.structure == "two_step"  # the compute structure has one term, A / C^alpha
    alpha_pop = _population("alpha", priors)
    beta_pop = _population("beta", priors) if with_D else None
    k_pop = _population("k", priors)
    # step 1: one law per task, or one for all when the feature is shared by the tasks (C4 loss)
    # NUTS draws the two steps' slopes by their secants (compute's one term in log C kept its
    # centre slope: the secant cost it tail ESS on two sub-ladders, benchmarks/sampler_grid.py)
    s1 = _step1_draws(data, priors, with_D, for_sampler and with_D)
    s2 = _step2_draws(data, priors, k_pop, for_sampler)
    law = _step1_law(data, priors, s1, alpha_pop, beta_pop)
    task_law, curve = _task_tables(data, law, s2, with_D)
    on_grid = for_sampler and observe
    _step1_likelihood(data, law, task_law, observe, on_grid)
    _step2_likelihood(data, curve, observe, on_grid, likelihood_dtype)
    if target_x is not None:
        _chained_prediction(data, priors, task_law, curve, target_x, target_z)


def single_step_model(data: ModelData, priors: dict, target_x=None, target_z=None, observe: bool = True,
                      for_sampler: bool = False, likelihood_dtype: str = "float64"):
    r"""The single-step structure: accuracy straight from (N, D), no intermediate feature.

    .. math::

        \mathrm{acc}_t(N, D) = f_t + (1 - f_t)\,\mathrm{sigmoid}\big(u_{c,t}
            + a_t (1 - e^{-\alpha_t x}) + b_t (1 - e^{-\beta_t z})\big),\quad
        a_t = g_{N,t} / \alpha_t,\ b_t = g_{D,t} / \beta_t,

    the power law of step 1 moved onto the logit scale (``g`` are the logit slopes at the
    ladder's centre; the ceiling ``u_c + a + b`` plays the role of the irreducible loss E).
    The slopes are partially pooled over tasks, with a population mean that moves with the
    task's centre logit,

    .. math::

        \log g_{N,t} \sim \mathcal{N}\big(\mu_{gN} + c_N\, s \tanh\tfrac{u_{c,t} - u_\mathrm{ref}}{s},\ \tau_{gN}\big),
        \quad c_N \sim \mathcal{N}(0, 0.25),\ u_\mathrm{ref} = -2,\ s = 3

    (likewise g_D): a task whose runs pin its slope keeps it, one they do not borrows from the
    tasks at its height on the curve. Tasks low on their curve at the ladder's centre climb it
    more steeply in logits (c < 0), and a task the
    runs show only at chance has no slope of its own to go by: with one mean for all tasks its
    far medians fell low (every far truth above them, ``benchmarks/calibration.py``).
    The pull saturates (``tanh``, :func:`centre_pull`): a task at its floor or ceiling on every run
    has a centre logit only bounded from one side, and a linear pull let it drag the population's
    mean along, a ridge NUTS diverged on (near-ceiling simulations of ``benchmarks/sbc.py``;
    WinoGrande at chance on Pythia's lm-eval files).
    On a ladder of one length (every run the same D, as Pythia's) the runs say nothing of g_D,
    which the sampler then draws non-centred (:func:`_single_step_by_centre`): the same prior, without
    the funnel of a centred draw that only the population's sd constrains.
    On both bundled ladders' nested hold-outs this beat independent slopes on every proper
    score in every distance bin (``benchmarks/calibration.py`` at commits 1541537 and b52dd01;
    far bin of OLMo: CRPS 1.73 vs 1.89 points, 90% interval score 14.2 vs 16.5).
    Observed once per run: the mean accuracy of the last n evaluations at the final D
    (``final_acc_obs``), with sd ``sqrt(sigma_acc^2 + j^2 / n)``: a run's scatter around the
    law ``sigma_acc`` (noise ratio x binomial sd) and the measured noise of that mean (the
    checkpoint jitter j); the target adds one evaluation's jitter and the discrepancy. Exponents are
    pooled as in :func:`ladder_model`, their population means a priori nearer 0.2 than the two
    steps' (median 0.2, sd 0.3 on the log scale; :data:`~ladderfit.model.priors.PRIORS_BY_STRUCTURE`):
    they set how soon the logit curve bends, which a small ladder barely shows. Run effects do not apply (one point per run).
    ``for_sampler=True`` draws the floor and slopes through the centre's accuracy and slopes
    (:func:`_single_step_by_centre`): the same posterior in NUTS's better geometry;
    ``likelihood_dtype`` changes nothing (few points).
    """
    T = data.n_tasks
    chance_level = jnp.asarray(data.chance)
    alpha_mu, alpha_tau = _population("alpha", priors)
    beta_mu, beta_tau = _population("beta", priors)
    slope_N_pop, slope_D_pop = _population("logit_slope_N", priors), _population("logit_slope_D", priors)
    c_N, c_D = _by_centre("logit_slope_N", priors), _by_centre("logit_slope_D", priors)
    with numpyro.plate("task", T, dim=-1):
        u_c = numpyro.sample("logit_centre", prior(priors, "logit_centre"))
        pull = centre_pull(u_c)
        slope_N_pop = (slope_N_pop[0] + c_N * pull, slope_N_pop[1])
        slope_D_pop = (slope_D_pop[0] + c_D * pull, slope_D_pop[1])
        alpha_z = numpyro.sample("alpha_z", dist.Normal(0.0, 1.0))
        beta_z = numpyro.sample("beta_z", dist.Normal(0.0, 1.0))
        alpha = numpyro.deterministic("alpha", jnp.exp(alpha_mu + alpha_tau * alpha_z))
        beta = numpyro.deterministic("beta", jnp.exp(beta_mu + beta_tau * beta_z))
        # centred: the slopes at the ladder's centre are what the runs pin down best
        if for_sampler:  # through the centre's accuracy and slopes (NUTS's geometry)
            shifts = single_step_shifts(data, alpha, beta) if secant_axes(data).any() else None  # else 0
            floor_shift, g_N, g_D = _single_step_by_centre(u_c, chance_level, priors, (slope_N_pop, slope_D_pop),
                                                           measured_slopes(data), data.one_length, shifts)
        else:
            floor_shift = numpyro.sample("floor_shift", prior(priors, "floor_shift"))
            g_N = numpyro.sample("logit_slope_N", dist.LogNormal(*slope_N_pop))
            g_D = numpyro.sample("logit_slope_D", dist.LogNormal(*slope_D_pop))
        noise_ratio = numpyro.sample("noise_ratio", prior(priors, "noise_ratio"))
    floor = numpyro.deterministic("floor", chance_level + floor_shift)
    sigma_acc = numpyro.deterministic("sigma_acc", noise_ratio * jnp.asarray(data.acc_binomial_sd))
    a, b = g_N / alpha, g_D / beta

    def u(x, z, t=slice(None)):
        return single_step_logit(x, z, u_c[t], a[t], alpha[t], b[t], beta[t])

    t1 = data.s1_task
    p = accuracy_from_logit(u(data.s1_x, data.s1_z, t1), floor[t1])
    # a run's scatter around the law, sigma_acc, and the measured noise of the mean of its last
    # n evaluations, j^2 / n (as in step 2 of the two-step model): a floor under the sd
    sd = jnp.sqrt(sigma_acc[t1] ** 2 + jnp.asarray(data.acc_jitter)[t1] ** 2 / jnp.asarray(data.s1_nlast))
    with numpyro.plate("step1_point", len(t1)):
        numpyro.sample("final_acc_obs", dist.Normal(p, sd), obs=data.s1_acc if observe else None)

    if target_x is not None:
        with _target_plates(priors, target_x, target_z, T) as (tx, tz, gamma):
            _target_accuracy(u(tx, tz), floor, sigma_acc, gamma, priors, data, target_x, target_z)


def model_for(structure: str):
    """The NumPyro model function of a structure (:data:`~ladderfit.model.spec.STRUCTURES`)."""
    return single_step_model if structure == "single_step" else ladder_model
