"""Posterior draws and their InferenceData.

:class:`Draws` holds a fit's draws by chain with NUTS's extra fields and checks their
convergence (ArviZ's R-hat and ESS); :func:`to_inference_data` turns them into ArviZ's
InferenceData with the model's dims and coords (:data:`DIMS`), the posterior predictive of the
observed points and their pointwise log-likelihood (one compiled program). A fresh
:class:`~ladderfit.model.results.LadderFit` keeps its draws and calls it on first use of ``idata``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import jax
import numpy as np
from numpyro.infer import MCMC, Predictive, log_likelihood

from .diagnostics import ConvergenceReport, convergence_report
from .inputs import ModelData
from .joint import SAMPLED_SITES, SAMPLER_SITES, model_for, run_effect_conditional
from .runtime import unchecked

if TYPE_CHECKING:
    import arviz as az

__all__ = ["Draws", "to_inference_data", "label_points", "DIMS", "LAW_SITES"]

#: The dims of the model's sites in InferenceData (the points' dims are labelled by :func:`label_points`).
DIMS: dict[str, list[str]] = {
    **{
        name: ["task"]
        for name in (
            "level", "slope_N", "slope_D", "alpha_z", "beta_z", "sigma_loss", "seed_share", "logit_centre",
            "log_k", "sigma_acc", "noise_ratio", "checkpoint_ratio", "sigma_checkpoint", "floor_shift", "floor", "logit_slope_N",
            "logit_slope_D", "L_c", "alpha", "beta", "E", "A", "B", "k", "L0",
        )
    },
    "run_z": ["task", "run"],
    "config_raw": ["replicated_config"],
    "run_effect": ["task", "run"],
    "loss_obs": ["step1_point"],
    "acc_obs": ["checkpoint"],
    "final_acc_obs": ["step1_point"],
}  # fmt: skip


#: Step-1 sites sampled per law: per task, or once (dim ``law``) when the feature is shared.
LAW_SITES: tuple[str, ...] = ("level", "slope_N", "slope_D", "alpha_z", "beta_z", "sigma_loss", "seed_share")


@dataclass
class Draws:
    """Posterior draws by chain (``{site: (chain, draw, ...)}``) and NUTS's extra fields."""

    samples: dict
    extra: dict
    _report: ConvergenceReport | None = field(default=None, repr=False, compare=False)
    note: str = field(default="", compare=False)  # how many draws were taken, and why

    @classmethod
    def of(cls, mcmc: MCMC) -> Draws:
        return cls({k: np.asarray(v) for k, v in mcmc.get_samples(group_by_chain=True).items()},
                   {k: np.asarray(v) for k, v in mcmc.get_extra_fields(group_by_chain=True).items()})

    def __add__(self, other: Draws) -> Draws:
        """These draws followed by ``other``'s (the same chains, continued)."""
        def cat(a, b):
            return {k: np.concatenate([a[k], b[k]], axis=1) for k in a}

        return Draws(cat(self.samples, other.samples), cat(self.extra, other.extra))

    @property
    def n_draws(self) -> int:
        return next(iter(self.samples.values())).shape[1]

    @property
    def n_chains(self) -> int:
        return next(iter(self.samples.values())).shape[0]

    def convergence(self, md: ModelData | None = None) -> ConvergenceReport:
        """:func:`~ladderfit.model.diagnostics.check_convergence` of these draws, without
        warning (nor ArviZ); with ``md``, parameters are named by their labels (``sigma_loss[csqa]``), and
        the report is kept: the same draws are checked once."""
        if self._report is not None and md is not None:
            return self._report
        posterior = {k: v for k, v in self.samples.items() if k not in SAMPLER_SITES and v.ndim <= 3}
        coords, dims = _coords_dims(md) if md is not None else ({}, {})
        report = convergence_report(posterior, self.extra["diverging"], coords, dims)
        if md is not None:
            self._report = report
        return report


def to_inference_data(draws, md: ModelData, priors: dict, seed: int = 0) -> az.InferenceData:
    """ArviZ InferenceData with task/run/checkpoint coords and the model's observations.

    ``draws``: the NUTS run (an :class:`~numpyro.infer.MCMC`) or its :class:`Draws`.
    Groups: posterior, posterior_predictive (``loss_obs``, ``acc_obs``), log_likelihood,
    observed_data and sample_stats. Predictive and log-likelihood are computed with
    NumPyro's vectorized :class:`~numpyro.infer.Predictive` and ``log_likelihood``, compiled
    together as one program.
    """
    import arviz as az

    if isinstance(draws, MCMC):
        draws = Draws.of(draws)
    samples = {k: v for k, v in draws.samples.items() if k not in SAMPLER_SITES}
    chains = next(iter(samples.values())).shape[0]
    flat = {k: np.asarray(v).reshape((-1,) + v.shape[2:]) for k, v in samples.items()}
    latent = {k: v for k, v in flat.items() if k in SAMPLED_SITES}

    def by_chain(d):
        return {k: np.asarray(v).reshape((chains, -1) + np.shape(v)[1:]) for k, v in d.items()}

    model = model_for(md.structure)
    if md.spec.run_effects and "run_z" not in latent:  # integrated out by NUTS: drawn given each draw
        offsets = _run_effect_draws(model, md, priors, latent, seed)
        latent["run_z"] = offsets["run_z"]
        samples = {**samples, **by_chain(offsets)}
    single = md.structure == "single_step"
    obs_sites = ["final_acc_obs"] if single else ["loss_obs", "acc_obs"]

    @jax.jit
    def replicate(key, latent):  # one program (persistently cached), not op by op
        pp = Predictive(model, posterior_samples=latent, return_sites=obs_sites)(key, md, priors, observe=False)
        return pp, log_likelihood(model, latent, md, priors)

    with unchecked(md.structure):
        pp, ll = replicate(jax.random.PRNGKey(seed + 7), latent)
    extra = draws.extra
    stats = {
        "diverging": np.asarray(extra["diverging"]),
        "n_steps": np.asarray(extra["num_steps"]),
        "tree_depth": np.log2(np.asarray(extra["num_steps"]) + 1).astype(int),
    }
    coords, dims = _coords_dims(md)
    idata = az.from_dict(
        posterior={k: np.asarray(v) for k, v in samples.items()},
        posterior_predictive=by_chain(pp),
        log_likelihood=by_chain(ll),
        observed_data=(
            {"final_acc_obs": md.s1_acc}
            if single
            else {"loss_obs": np.log(md.s1_loss), "acc_obs": md.s2_acc}
        ),
        sample_stats=stats,
        coords=coords,
        dims=dims,
    )
    if getattr(draws, "note", ""):
        idata.sample_stats.attrs["ladderfit_draws"] = draws.note
    return label_points(idata, md, ("observed_data", "posterior_predictive", "log_likelihood"))


def _run_effect_draws(model, md: ModelData, priors: dict, latent: dict, seed: int) -> dict:
    """Posterior draws of the runs' offsets (``run_effect``, ``run_z``), which NUTS integrated
    out: from their normal conditional given each draw (:func:`~ladderfit.model.joint.run_effect_conditional`)."""
    T = md.n_tasks
    valid = md.s2_grid()[0] >= 0
    obs = md.s2_by_task(md.s2_acc, np.full(T, 0.5))

    @jax.jit
    def draw(key, latent):
        k_model, k_offsets = jax.random.split(key)
        got = Predictive(model, posterior_samples=latent, return_sites=["step2_curve", "step2_var", "sigma_acc"])(
            k_model, md, priors)
        var = jax.numpy.where(valid, got["step2_var"], jax.numpy.inf)
        nu = run_effect_conditional(k_offsets, obs - got["step2_curve"], var, md.s2_runs_onehot(), got["sigma_acc"])
        return {"run_effect": nu, "run_z": nu / got["sigma_acc"][..., None]}

    return {k: np.asarray(v) for k, v in draw(jax.random.PRNGKey(seed + 11), latent).items()}


def _coords_dims(md: ModelData) -> tuple[dict, dict]:
    """InferenceData's coords and dims for the sites of the model of ``md``."""
    dims, coords = dict(DIMS), {}
    if md.shared_feature:  # one step-1 law for all tasks
        dims.update({name: ["law"] for name in LAW_SITES})
        coords["law"] = [md.feature]
    coords |= {
        "task": md.tasks,
        "run": md.runs,
        "step1_point": np.arange(len(md.s1_task)),
        "checkpoint": np.arange(len(md.s2_task)),
        "replicated_config": np.arange(md.n_replicated),
    }
    return coords, dims


def label_points(idata: az.InferenceData, md: ModelData, groups) -> az.InferenceData:
    """Give the point dims of ``groups`` their labels: ``step1_task``/``step1_run`` on
    ``step1_point`` and ``checkpoint_task``/``checkpoint_run``/``checkpoint_step`` on
    ``checkpoint`` (where a group has that dim)."""
    tasks, runs = np.array(md.tasks), np.array(md.runs)
    point_coords = {
        "step1_point": {"step1_task": tasks[md.s1_task], "step1_run": runs[md.s1_run]},
        "checkpoint": {"checkpoint_task": tasks[md.s2_task], "checkpoint_run": runs[md.s2_run],
                       "checkpoint_step": md.s2_step},
    }  # fmt: skip
    for group in groups:
        ds = idata[group]
        for dim, cs in point_coords.items():
            if dim in ds.dims:
                ds = ds.assign_coords({k: (dim, v) for k, v in cs.items()})
        setattr(idata, group, ds)
    return idata
