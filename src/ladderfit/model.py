r"""The joint hierarchical Bayesian two-step scaling law (NumPyro).

Bhagia et al. (2024), *Establishing Task Scaling Laws via Compute-Efficient Model Ladders*,
predict a task's accuracy in two steps. ladderfit writes both as one model over all tasks t.

**Step 1 — task loss from size.** For run r with N_r parameters and D_r tokens,

.. math::

    L_t(N, D) = E_t + A_t N^{-\alpha_t} + B_t D^{-\beta_t}, \qquad
    \log \bar L_{tr} \sim \mathcal N(\log L_t(N_r, D_r),\ \sigma^{loss}_t),

observed once per run (:func:`ladderfit.preprocess.step1_points`: the mean of the last
evaluations at the final D). With x = log N - log N_c and z = log D - log D_c centred on the
ladder, the law is parameterized by its level ``L_c`` and relative slopes
``g_N = -dlog L/dlog N``, ``g_D`` at the centre, which the data pin down, and the exponents,
which they do not:

.. math::

    L_t = E_t + a_t e^{-\alpha_t x} + b_t e^{-\beta_t z},\quad
    a_t = g_{N,t} L_{c,t} / \alpha_t,\quad b_t = g_{D,t} L_{c,t} / \beta_t,\quad
    E_t = L_{c,t} - a_t - b_t \;(> 0,\ \text{soft constraint}).

Exponents are partially pooled (non-centred): ``log alpha_t ~ N(mu_alpha, tau_alpha)``,
likewise beta.

**Step 2 — accuracy from task loss.** Bounded below by a floor f_t near the task's chance
level c_t (``f_t = c_t + delta_t``, ``delta_t ~ N(0, 0.05)``) and above by 1 (the Bayesian
twin of the paper's ideal point (0, 1)):

.. math::

    \mathrm{acc}_t(L) = f_t + (1 - f_t)\,\mathrm{sigmoid}(u_t(L)),\qquad
    u_t(L) = u_{c,t} - k_t (L - \bar L_t),

observed at the intermediate checkpoints i (smoothed, and thinned so that the moving-average
windows do not overlap):

.. math::

    \mathrm{acc}_{ti} \sim \mathcal N\big(\mathrm{acc}_t(L_{ti}),\
        \sqrt{(\sigma^{acc}_t)^2 + p(1-p)/(n^{items}_t\, m_i)}\big),

with the binomial variance of n_items items averaged over m_i checkpoints, and slopes pooled,
``log k_t ~ N(mu_k, tau_k)`` (centred: each slope is well identified).

*Variant* ``run_effects=True``: offsets ``nu_tr ~ N(0, tau^run_t)`` (accuracy points, summing
to zero over runs) shared by the checkpoints of one run, and a new one for the target. It
makes the curve learn from runs rather than checkpoints, but weighs every run equally; in
the held-out-rung backtest it predicted worse (``benchmarks/paper_parity.py``), so it is off by
default. The price, measured on simulated ladders whose runs do sit off the curve
(``tests/test_model.py``, slow): without run effects the intervals of the step-2 parameters
(k, L0, floor) are too narrow (20/48 true values inside 90% intervals; step 1: 47/48), while
target intervals still cover (29/32); with them, 88/96 parameters and 30/32 targets.

**Chained prediction.** For a target (N*, D*), ``log L* ~ N(log L_t(N*, D*), sigma^loss_t)``
and ``acc* ~ N(acc_t(L*), sqrt(sigma_acc^2 + p(1-p)/n_items + (gamma d)^2))``: the
uncertainty of both steps and the evaluation noise reach the interval. The last term is a
model discrepancy that grows with the distance d of the target beyond the ladder's largest N
and D (Euclidean, in log N and log D). gamma is calibrated by maximum likelihood on the
errors when the ladder's largest rung is held out (``benchmarks/calibrate_discrepancy.py``):
on the bundled ladder that gives gamma = 0 (the other terms already cover the held-out rung),
so the default is 0; set ``priors={"discrepancy": ("Fixed", (gamma,))}`` to widen far
extrapolations. Priors: :mod:`ladderfit.priors`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pandas as pd
from jax.nn import log_sigmoid, sigmoid

from .preprocess import Preprocessing, step1_points, step2_points
from .priors import prior
from .schema import LadderDataError
from .tasks import task_value

VARIANTS: tuple[str, ...] = ("two_step", "compute", "single_step")

__all__ = ["VARIANTS", "SAMPLED_SITES", "single_step_model", "model_for", "ModelData", "build_model_data", "ladder_model", "loss_curve", "accuracy_curve"]


#: The model's latent sample sites (everything else is deterministic or observed).
SAMPLED_SITES: frozenset[str] = frozenset({
    "alpha_mu", "alpha_tau", "beta_mu", "beta_tau", "k_mu", "k_tau", "level", "slope_N", "slope_D",
    "alpha_z", "beta_z", "sigma_loss", "logit_centre", "log_k", "sigma_acc", "run_tau", "run_raw",
    "floor_shift", "logit_slope_N", "logit_slope_D",
})  # fmt: skip


@dataclass
class ModelData:
    """Arrays the model needs, with the labels that become InferenceData coords."""

    tasks: list[str]
    runs: list[str]
    # per task
    chance: np.ndarray
    n_items: np.ndarray
    loss_scale: np.ndarray  # geometric mean of step-1 losses, m_t
    loss_centre: np.ndarray  # mean step-2 loss, \bar L_t
    # ladder centre, and the edge of the ladder (largest log N and log D, centred)
    logN_c: float
    logD_c: float
    # step 1 points
    s1_task: np.ndarray
    s1_run: np.ndarray
    s1_x: np.ndarray
    s1_z: np.ndarray
    s1_loss: np.ndarray
    s1_acc: np.ndarray  # mean accuracy of the same last checkpoints (single-step variant)
    s1_nlast: np.ndarray
    # step 2 points
    s2_task: np.ndarray
    s2_run: np.ndarray
    s2_step: np.ndarray
    s2_loss: np.ndarray
    s2_acc: np.ndarray
    s2_nsmooth: np.ndarray
    feature: str = "task_loss"
    x_max: float = 0.0  # largest centred log N (log C for the compute variant) of the ladder
    z_max: float = 0.0  # largest centred log D of the ladder
    variant: str = "two_step"  # "compute": step 1 in training compute C; "single_step": acc(N, D)
    logC_c: float = 0.0  # compute variant: centre of log C
    flops_coef: tuple = (0.0, 1.0)  # log(flops / D) = c0 + c1 log N, for targets without flops
    meta: dict = field(default_factory=dict)

    ARRAYS = (
        "chance", "n_items", "loss_scale", "loss_centre",
        "s1_task", "s1_run", "s1_x", "s1_z", "s1_loss", "s1_acc", "s1_nlast",
        "s2_task", "s2_run", "s2_step", "s2_loss", "s2_acc", "s2_nsmooth",
    )  # fmt: skip

    @property
    def n_tasks(self) -> int:
        return len(self.tasks)

    @property
    def n_runs(self) -> int:
        return len(self.runs)

    def centred(self, N: np.ndarray, D: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """x = log N - log N_c, z = log D - log D_c."""
        return np.log(np.asarray(N, float)) - self.logN_c, np.log(np.asarray(D, float)) - self.logD_c

    def target_xz(self, targets: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Centred step-1 coordinates of targets: (log N, log D), or (log C, 0) for compute."""
        N, D = targets["N"].to_numpy(float), targets["D"].to_numpy(float)
        if self.variant != "compute":
            return self.centred(N, D)
        c0, c1 = self.flops_coef
        flops = np.exp(c0 + c1 * np.log(N)) * D
        if "flops" in targets.columns:
            given = targets["flops"].to_numpy(float)
            flops = np.where(np.isfinite(given), given, flops)
        return np.log(flops) - self.logC_c, np.zeros_like(flops)

    def distance_beyond(self, x, z):
        """Euclidean distance in (log N, log D) beyond the ladder's largest N and D (0 inside)."""
        return np.hypot(np.maximum(np.asarray(x) - self.x_max, 0.0), np.maximum(np.asarray(z) - self.z_max, 0.0))


def _task_constant(df: pd.DataFrame, task: str, col: str, default: float | None = None) -> float:
    value = task_value(df, task, col)
    if value is None or (col == "n_items" and not value):
        if default is None:
            raise LadderDataError(f"task {task!r}: no {col!r} in the data or the task registry")
        return default
    return value


def build_model_data(
    df: pd.DataFrame, feature: str = "task_loss", prep: Preprocessing = Preprocessing(thin=5), variant: str = "two_step"
) -> ModelData:
    """Turn a validated tidy table into :class:`ModelData` (step-1 and step-2 points).

    ``variant="compute"`` puts step 1 in training compute: x = log C (centred), no D term.
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    if variant == "single_step" and feature not in df.columns:
        feature = "accuracy"  # the single step needs no intermediate feature
    if variant == "compute" and "flops" not in df.columns:
        raise LadderDataError("the compute variant needs a 'flops' column (training FLOPs) in the data")
    if feature not in df.columns:
        raise LadderDataError(
            f"intermediate feature {feature!r} is not a column of the data (columns: {', '.join(df.columns)})"
        )
    tasks = sorted(df["task"].unique())
    runs = sorted(df["run"].unique(), key=lambda r: (df.loc[df["run"] == r, "N"].iloc[0], df.loc[df["run"] == r, "D"].max(), r))
    missing = df.groupby("run")["task"].nunique()
    if (missing < len(tasks)).any():
        run = missing.index[missing < len(tasks)][0]
        have = set(df.loc[df["run"] == run, "task"])
        raise LadderDataError(f"run {run!r} lacks task(s) {sorted(set(tasks) - have)}; every run needs every task")
    p1 = step1_points(df, feature, prep)
    p2 = step2_points(df, feature, prep)
    n_sizes = p1.groupby("task")["N"].nunique().min()
    n_lengths = p1.groupby("task")["D"].nunique().min()
    if n_sizes < 2 or len(p1) // len(tasks) < 4:
        raise LadderDataError(
            f"step 1 needs at least 2 model sizes and 4 runs per task; got {n_sizes} size(s), "
            f"{len(p1) // len(tasks)} run(s)"
        )
    del n_lengths
    t_idx = {t: i for i, t in enumerate(tasks)}
    r_idx = {r: i for i, r in enumerate(runs)}
    per_run = df.groupby("run").agg(N=("N", "first"), D=("D", "max"))
    logN_c = float(np.mean(np.log(per_run["N"])))
    logD_c = float(np.mean(np.log(per_run["D"])))
    chance = np.array([_task_constant(df, t, "chance") for t in tasks])
    n_items = np.array([_task_constant(df, t, "n_items", default=1000.0) for t in tasks])
    loss_scale = np.exp(p1.groupby("task")[feature].apply(lambda s: np.log(s).mean()).reindex(tasks).to_numpy())
    loss_centre = p2.groupby("task")[feature].mean().reindex(tasks).to_numpy()
    s1_x = np.log(p1["N"].to_numpy(float)) - logN_c
    s1_z = np.log(p1["D"].to_numpy(float)) - logD_c
    x_max = float(np.log(per_run["N"]).max() - logN_c)
    z_max = float(np.log(per_run["D"]).max() - logD_c)
    logC_c, coef = 0.0, (0.0, 1.0)
    if variant == "compute":
        from .targets import flops_per_token_coef

        flops = df.groupby("run")["flops"].max()
        logC_c = float(np.mean(np.log(flops)))
        s1_x = np.log(p1["flops"].to_numpy(float)) - logC_c
        s1_z = np.zeros_like(s1_x)
        x_max, z_max = float(np.log(flops).max() - logC_c), 0.0
        coef = flops_per_token_coef(df)
    return ModelData(
        tasks=tasks,
        runs=list(runs),
        chance=chance,
        n_items=n_items,
        loss_scale=loss_scale,
        loss_centre=loss_centre,
        logN_c=logN_c,
        logD_c=logD_c,
        x_max=x_max,
        z_max=z_max,
        variant=variant,
        logC_c=logC_c,
        flops_coef=coef,
        s1_task=p1["task"].map(t_idx).to_numpy(np.int32),
        s1_run=p1["run"].map(r_idx).to_numpy(np.int32),
        s1_x=s1_x,
        s1_z=s1_z,
        s1_loss=p1[feature].to_numpy(float),
        s1_acc=p1["accuracy_mean"].to_numpy(float),
        s1_nlast=p1["n_last"].to_numpy(float),
        s2_task=p2["task"].map(t_idx).to_numpy(np.int32),
        s2_run=p2["run"].map(r_idx).to_numpy(np.int32),
        s2_step=p2["step"].to_numpy(np.int64),
        s2_loss=p2[feature].to_numpy(float),
        s2_acc=p2["accuracy"].to_numpy(float),
        s2_nsmooth=p2["n_smoothed"].to_numpy(float),
        feature=feature,
    )


def loss_curve(E, a, b, alpha, beta, x, z):
    """L = E + a exp(-alpha x) + b exp(-beta z) (centred form of E + A/N^alpha + B/D^beta)."""
    return E + a * jnp.exp(-alpha * x) + b * jnp.exp(-beta * z)


def accuracy_curve(chance, u):
    """acc = chance + (1 - chance) sigmoid(u)."""
    return chance + (1.0 - chance) * sigmoid(u)


def _population(name: str, priors: dict) -> tuple:
    """Population mean and sd of a partially pooled log-parameter (``{name}_mu``, ``{name}_tau``)."""
    return numpyro.sample(f"{name}_mu", prior(priors, f"{name}_mu")), numpyro.sample(f"{name}_tau", prior(priors, f"{name}_tau"))


def _target_accuracy(p_t, sigma_acc, data: ModelData, priors: dict, target_x, target_z, nu=0.0) -> None:
    """Draw ``target_accuracy``: the curve ``p_t`` plus evaluation noise and the discrepancy term."""
    dist_beyond = jnp.asarray(data.distance_beyond(target_x, target_z))[:, None]
    disc = priors["discrepancy"][1][0] * dist_beyond  # grows with the distance beyond the ladder
    sd_t = jnp.sqrt(sigma_acc**2 + p_t * (1 - p_t) / data.n_items + disc**2)
    acc = numpyro.sample("target_accuracy_raw", dist.Normal(p_t + nu, sd_t))
    numpyro.deterministic("target_accuracy", jnp.clip(acc, 0.0, 1.0))


def ladder_model(
    data: ModelData, priors: dict, target_x=None, target_z=None, observe: bool = True, run_effects: bool = False
):
    """The joint two-step model; with ``target_x``/``target_z`` it also draws target predictions.

    Sites: per-task parameters (dim ``task``), run effects (``task``, ``run``), observations
    ``loss_obs`` (step-1 points) and ``acc_obs`` (step-2 checkpoints), and for targets
    ``target_loss`` and ``target_accuracy`` (``target``, ``task``). ``observe=False`` leaves the
    observations unconditioned (prior and posterior predictive checks). ``run_effects=True``
    adds the run-level offsets of step 2 (a variant; see :class:`~ladderfit.config.FitConfig`).
    """
    T, R = data.n_tasks, data.n_runs
    level_sd = priors["level_sd"][1][0]
    e_floor = priors["E_floor"][1][0]
    m = jnp.asarray(data.loss_scale)
    chance_level = jnp.asarray(data.chance)

    with_D = data.variant == "two_step"  # the compute variant has one term, A / C^alpha
    alpha_mu, alpha_tau = _population("alpha", priors)
    if with_D:
        beta_mu, beta_tau = _population("beta", priors)
    k_mu, k_tau = _population("k", priors)

    with numpyro.plate("task", T, dim=-1):
        # step 1
        level = numpyro.sample("level", prior(priors, "level"))
        g_N = numpyro.sample("slope_N", prior(priors, "slope_N"))
        alpha_z = numpyro.sample("alpha_z", dist.Normal(0.0, 1.0))
        if with_D:
            g_D = numpyro.sample("slope_D", prior(priors, "slope_D"))
            beta_z = numpyro.sample("beta_z", dist.Normal(0.0, 1.0))
        sigma_loss = numpyro.sample("sigma_loss", prior(priors, "sigma_loss"))
        # step 2
        u_c = numpyro.sample("logit_centre", prior(priors, "logit_centre"))
        floor_shift = numpyro.sample("floor_shift", prior(priors, "floor_shift"))
        # centred: every task's slope is well identified by its checkpoints
        log_k = numpyro.sample("log_k", dist.Normal(k_mu, k_tau))
        sigma_acc = numpyro.sample("sigma_acc", prior(priors, "sigma_acc"))
        if run_effects:
            run_tau = numpyro.sample("run_tau", prior(priors, "run_tau"))

    L_c = numpyro.deterministic("L_c", m * jnp.exp(level_sd * level))
    alpha = numpyro.deterministic("alpha", jnp.exp(alpha_mu + alpha_tau * alpha_z))
    a = g_N * L_c / alpha
    if with_D:
        beta = numpyro.deterministic("beta", jnp.exp(beta_mu + beta_tau * beta_z))
        b = g_D * L_c / beta
        numpyro.deterministic("A", a * jnp.exp(alpha * data.logN_c))
        numpyro.deterministic("B", b * jnp.exp(beta * data.logD_c))
    else:
        beta, b = jnp.ones(T), jnp.zeros(T)
        numpyro.deterministic("A", a * jnp.exp(alpha * data.logC_c))
    E = numpyro.deterministic("E", L_c - a - b)
    # E > 0, softly: a smooth barrier a few percent of the level wide.
    numpyro.factor("E_positive", log_sigmoid(E / (e_floor * L_c)).sum())
    k = numpyro.deterministic("k", jnp.exp(log_k))
    chance = numpyro.deterministic("floor", chance_level + floor_shift)
    L0 = numpyro.deterministic("L0", jnp.asarray(data.loss_centre) + u_c / k)

    if run_effects:
        with numpyro.plate("run", R, dim=-1):
            with numpyro.plate("task_r", T, dim=-2):
                # centred (each run's effect is pinned by its own checkpoints), then made to sum
                # to zero over runs so that the effects cannot trade off against the curve's level
                run_raw = numpyro.sample("run_raw", dist.Normal(0.0, run_tau[:, None]))
        run_effect = numpyro.deterministic("run_effect", run_raw - run_raw.mean(-1, keepdims=True))

    # ---- step 1 likelihood
    t1 = data.s1_task
    mu1 = loss_curve(E[t1], a[t1], b[t1], alpha[t1], beta[t1], data.s1_x, data.s1_z)
    mu1 = jnp.maximum(mu1, 1e-12)
    with numpyro.plate("step1_point", len(t1)):
        numpyro.sample("loss_obs", dist.Normal(jnp.log(mu1), sigma_loss[t1]), obs=jnp.log(data.s1_loss) if observe else None)

    # ---- step 2 likelihood
    t2 = data.s2_task
    p = accuracy_curve(chance[t2], u_c[t2] - k[t2] * (data.s2_loss - data.loss_centre[t2]))
    binom = p * (1 - p) / (data.n_items[t2] * data.s2_nsmooth)
    if run_effects:
        p = p + run_effect[t2, data.s2_run]
    sd2 = jnp.sqrt(sigma_acc[t2] ** 2 + binom)
    with numpyro.plate("checkpoint", len(t2)):
        numpyro.sample("acc_obs", dist.Normal(p, sd2), obs=data.s2_acc if observe else None)

    # ---- chained prediction at targets
    if target_x is not None:
        tx = jnp.asarray(target_x)[:, None]
        tz = jnp.asarray(target_z)[:, None]
        with numpyro.plate("target", tx.shape[0], dim=-2):
            with numpyro.plate("task_t", T, dim=-1):
                mean_loss = numpyro.deterministic("target_loss_mean", loss_curve(E, a, b, alpha, beta, tx, tz))
                log_loss = numpyro.sample(
                    "target_log_loss", dist.Normal(jnp.log(jnp.maximum(mean_loss, 1e-12)), sigma_loss)
                )
                loss = numpyro.deterministic("target_loss", jnp.exp(log_loss))
                nu = numpyro.sample("target_run_effect", dist.Normal(0.0, run_tau)) if run_effects else 0.0
                p_t = numpyro.deterministic(
                    "target_accuracy_mean", accuracy_curve(chance, u_c - k * (loss - data.loss_centre))
                )
                _target_accuracy(p_t, sigma_acc, data, priors, target_x, target_z, nu)


def single_step_model(data: ModelData, priors: dict, target_x=None, target_z=None, observe: bool = True, run_effects: bool = False):
    r"""The single-step variant: accuracy straight from (N, D), no intermediate feature.

    .. math::

        \mathrm{acc}_t(N, D) = f_t + (1 - f_t)\,\mathrm{sigmoid}\big(u_{c,t}
            + a_t (1 - e^{-\alpha_t x}) + b_t (1 - e^{-\beta_t z})\big),\quad
        a_t = g_{N,t} / \alpha_t,\ b_t = g_{D,t} / \beta_t,

    the power law of step 1 moved onto the logit scale (``g`` are the logit slopes at the
    ladder's centre; the ceiling ``u_c + a + b`` plays the role of the irreducible loss E).
    Observed once per run: the mean accuracy of the last evaluations at the final D
    (``final_acc_obs``), with noise ``sqrt(sigma_acc^2 + p(1-p)/(n_items k))``. Exponents are
    pooled as in :func:`ladder_model`. ``run_effects`` is accepted and ignored (one point per run).
    """
    del run_effects
    T = data.n_tasks
    chance_level = jnp.asarray(data.chance)
    alpha_mu, alpha_tau = _population("alpha", priors)
    beta_mu, beta_tau = _population("beta", priors)
    with numpyro.plate("task", T, dim=-1):
        u_c = numpyro.sample("logit_centre", prior(priors, "logit_centre"))
        g_N = numpyro.sample("logit_slope_N", prior(priors, "logit_slope_N"))
        g_D = numpyro.sample("logit_slope_D", prior(priors, "logit_slope_D"))
        alpha_z = numpyro.sample("alpha_z", dist.Normal(0.0, 1.0))
        beta_z = numpyro.sample("beta_z", dist.Normal(0.0, 1.0))
        floor_shift = numpyro.sample("floor_shift", prior(priors, "floor_shift"))
        sigma_acc = numpyro.sample("sigma_acc", prior(priors, "sigma_acc"))
    alpha = numpyro.deterministic("alpha", jnp.exp(alpha_mu + alpha_tau * alpha_z))
    beta = numpyro.deterministic("beta", jnp.exp(beta_mu + beta_tau * beta_z))
    floor = numpyro.deterministic("floor", chance_level + floor_shift)
    a, b = g_N / alpha, g_D / beta

    def u(x, z, t=slice(None)):
        return u_c[t] + a[t] * (1 - jnp.exp(-alpha[t] * x)) + b[t] * (1 - jnp.exp(-beta[t] * z))

    t1 = data.s1_task
    p = accuracy_curve(floor[t1], u(data.s1_x, data.s1_z, t1))
    sd = jnp.sqrt(sigma_acc[t1] ** 2 + p * (1 - p) / (data.n_items[t1] * data.s1_nlast))
    with numpyro.plate("step1_point", len(t1)):
        numpyro.sample("final_acc_obs", dist.Normal(p, sd), obs=data.s1_acc if observe else None)

    if target_x is not None:
        tx = jnp.asarray(target_x)[:, None]
        tz = jnp.asarray(target_z)[:, None]
        with numpyro.plate("target", tx.shape[0], dim=-2):
            with numpyro.plate("task_t", T, dim=-1):
                p_t = numpyro.deterministic("target_accuracy_mean", accuracy_curve(floor, u(tx, tz)))
                _target_accuracy(p_t, sigma_acc, data, priors, target_x, target_z)


def model_for(variant: str):
    """The model function of a variant."""
    return single_step_model if variant == "single_step" else ladder_model
