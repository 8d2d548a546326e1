"""Model checks drawn: prior predictive, posterior predictive (ArviZ) and LOO-PIT, one panel per task.

* :func:`plot_prior_predictive`: the step-2 accuracy curves the priors allow (bands and a few
  draws) over the observed task losses, with the observed checkpoints on top;
* :func:`plot_ppc`: ``az.plot_ppc`` of the step-1 (``loss_obs``, log task loss) or step-2
  (``acc_obs``) observations, one panel per task, the observed values as a rug;
* :func:`plot_loo_pit`: ``az.plot_loo_pit`` of the same observations (PSIS-LOO probability
  integral transform: uniform when the predictive distributions are calibrated).
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from .common import ACTUAL_COLOR, as_fit, band, feature_label, finish, grid

__all__ = ["plot_prior_predictive", "plot_ppc", "plot_loo_pit"]

PRIOR_COLOR = "tab:purple"


def _obs_site(structure: str, step: int) -> tuple[str, str, str]:
    """(observed variable, its dim, the task coordinate on that dim) of a step."""
    if step not in (1, 2):
        raise ValueError(f"step must be 1 or 2, got {step!r}")
    if structure == "single_step":
        if step == 2:
            raise ValueError("the single-step structure has no step 2; use step=1 (final accuracies)")
        return "final_acc_obs", "step1_point", "step1_task"
    return ("loss_obs", "step1_point", "step1_task") if step == 1 else ("acc_obs", "checkpoint", "checkpoint_task")


def _tasks_of(idata, coord: str, tasks) -> list[str]:
    have = list(dict.fromkeys(idata.observed_data[coord].values.tolist()))
    if tasks is None:
        return have
    tasks = [tasks] if isinstance(tasks, str) else list(tasks)
    unknown = [t for t in tasks if t not in have]
    if unknown or not tasks:
        raise ValueError(f"task(s) {unknown or tasks} not in the fit; it has {', '.join(have)}")
    return tasks


def _idata_and_structure(fit_or_idata):
    """InferenceData and model structure of a LadderFit (or a path to one) or of prior_predictive's InferenceData."""
    import arviz as az

    if isinstance(fit_or_idata, az.InferenceData):
        return fit_or_idata, fit_or_idata.attrs.get("structure", "two_step")
    fit = as_fit(fit_or_idata)
    return fit.idata, fit.model_data.structure


def plot_prior_predictive(idata_or_fit_data=None, task=None, ax=None, num_curves: int = 30, observed: bool = True,
                          **prior_options) -> Figure:  # fmt: skip
    """Step 2 under the priors: the accuracy curves ``f + (1 - f) sigmoid(-k (L - L0))`` that
    the priors allow, vs task loss, per task (median, 50% and 90% bands and ``num_curves``
    draws), with the observed checkpoints overlaid (``observed``).

    ``idata_or_fit_data``: the InferenceData of :func:`ladderfit.analysis.checks.prior_predictive`,
    a LadderFit (its data and priors), or data as :func:`ladderfit.fit` reads them
    (``prior_options`` go to ``prior_predictive``). ``task``: one name, a list, or ``None`` (all).
    """
    import arviz as az

    from ..analysis.checks import prior_predictive

    idata = idata_or_fit_data
    if not isinstance(idata, az.InferenceData):  # a LadderFit or data
        idata = prior_predictive(idata, **prior_options)
    if "prior" not in idata.groups():
        raise ValueError("plot_prior_predictive: the InferenceData has no prior group (use ladderfit.prior_predictive)")
    if idata.attrs.get("structure") == "single_step" or "k" not in idata.prior:
        raise ValueError("plot_prior_predictive draws step 2; for the single step use az.plot_ppc(idata, group='prior')")
    tasks = _tasks_of(idata, "checkpoint_task", task)
    fig, axes = grid(len(tasks), ax)
    prior = idata.prior.stack(sample=("chain", "draw"))
    loss = idata.constant_data["checkpoint_loss"]
    acc = idata.observed_data["acc_obs"]
    rng = np.random.default_rng(0)
    for name, a in zip(tasks, axes):
        sel = loss["checkpoint_task"].values == name
        L, y = loss.values[sel], acc.values[sel]
        lo, hi = L.min(), L.max()
        pad = 0.25 * (hi - lo) + 0.02 * hi
        xs = np.linspace(max(lo - pad, 1e-6), hi + pad, 150)
        k, L0, f = (prior[v].sel(task=name).values for v in ("k", "L0", "floor"))
        curves = f[:, None] + (1 - f[:, None]) / (1 + np.exp(k[:, None] * (xs[None, :] - L0[:, None])))
        band(a, xs, curves, PRIOR_COLOR, levels=(50, 90), alpha=0.15, label="prior (median, 50%, 90%)")
        for i in rng.choice(len(curves), size=min(num_curves, len(curves)), replace=False):
            a.plot(xs, curves[i], color=PRIOR_COLOR, lw=0.5, alpha=0.35)
        if observed:
            a.scatter(L, y, s=9, color=ACTUAL_COLOR, alpha=0.8, linewidths=0, zorder=3, label="observed checkpoints")
        a.set_ylim(-0.02, 1.02)
        a.set_xlabel(feature_label(idata.attrs.get("feature", "task_loss")))
        a.set_ylabel("accuracy")
        a.set_title(f"{name}: prior")
        a.grid(alpha=0.25, lw=0.5)
    axes[0].legend(fontsize=7, frameon=False)
    return finish(fig, ax is None)


def plot_ppc(fit, step: int = 2, tasks=None, ax=None, num_pp_samples: int = 50, kind: str = "kde") -> Figure:
    """``az.plot_ppc`` per task: the predictive densities of the step-1 (``step=1``: log task
    loss, ``loss_obs``; the final accuracies for the single step) or step-2 (``acc_obs``)
    observations against the observed ones (line and rug).

    ``fit``: a LadderFit (posterior predictive) or the InferenceData of
    :func:`ladderfit.analysis.checks.prior_predictive` (prior predictive).
    """
    import arviz as az

    idata, structure = _idata_and_structure(fit)
    var, dim, coord = _obs_site(structure, step)
    group = "posterior" if "posterior_predictive" in idata.groups() else "prior"
    tasks = _tasks_of(idata, coord, tasks)
    fig, axes = grid(len(tasks), ax)
    where = idata.observed_data[coord].values
    for i, (name, a) in enumerate(zip(tasks, axes)):
        idx = idata.observed_data[dim].values[where == name]
        n_pp = min(num_pp_samples, idata[f"{group}_predictive"].sizes["chain"] * idata[f"{group}_predictive"].sizes["draw"])
        az.plot_ppc(idata, kind=kind, var_names=[var], coords={dim: idx}, group=group, ax=a, observed_rug=True,
                    num_pp_samples=n_pp, random_seed=0, legend=i == 0)  # fmt: skip
        a.set_title(f"{name}: {var} ({len(idx)} observed)")
        a.set_xlabel("log task loss" if var == "loss_obs" else "accuracy")
    return finish(fig, ax is None)


def plot_loo_pit(fit, step: int = 2, tasks=None, ax=None, ecdf: bool = False) -> Figure:
    """``az.plot_loo_pit`` per task: the leave-one-out probability integral transform of each
    step-1 or step-2 observation (PSIS-LOO weights from the fit's log likelihood; the
    observations' weights are pointwise, so a task's panel is the task's observations).
    Uniform when calibrated; a U shape means too narrow predictive distributions, a hump too wide.
    """
    import arviz as az

    fit = as_fit(fit)
    idata = fit.idata
    if "log_likelihood" not in idata.groups():
        raise ValueError("plot_loo_pit needs the fit's log_likelihood group")
    var, dim, coord = _obs_site(fit.model_data.structure, step)
    tasks = _tasks_of(idata, coord, tasks)
    fig, axes = grid(len(tasks), ax)
    where = idata.observed_data[coord].values
    for name, a in zip(tasks, axes):
        sub = idata.isel(**{dim: np.flatnonzero(where == name)})
        az.plot_loo_pit(sub, y=var, ax=a, ecdf=ecdf, legend=False)
        a.set_title(f"{name}: LOO-PIT of {var}")
    return finish(fig, ax is None)
