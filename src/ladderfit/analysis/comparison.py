"""Compare Bayesian models by PSIS-LOO (ArviZ), where the comparison means something.

Only the step-2 observations (``acc_obs``: the accuracies of the intermediate checkpoints)
are comparable across models that share the data and preprocessing: the run-effects
model against the default, or one intermediate feature against another (the accuracies are
the same; the step-1 observations are not).

**Leave one run out, not one checkpoint.** The checkpoints of one run are correlated: they
share the run's deviation from the curve, and neighbouring checkpoints share their evaluation
luck. Leaving out one checkpoint leaves its neighbours in, so LOO over checkpoints measures
interpolation along a run the model has already seen and flatters a model that chases runs.
What a ladder is for is predicting a *new run*, so the honest unit is the run:
``by="run"`` (the default) sums each run's pointwise log likelihood over its observations
(all its step-2 checkpoints, of every task) before PSIS-LOO, so that one "observation" is one
run. ``by="checkpoint"`` keeps the checkpoint as the unit (the former behaviour). With a
dozen or so runs, each one weighs much on the posterior and the Pareto k of a run is often
high (> 0.7: PSIS unreliable); :func:`loo_by_run` lists them, and the held-out-run backtest
(:func:`ladderfit.analysis.backtest.backtest`) refits without the run, which PSIS only
approximates.

Step-1 points are not included by default: they are not comparable across intermediate
features (another feature, other observations), and the step-2 likelihood is conditional on
a run's observed task losses, so step-2 LOO by run asks "given a new run's losses, how well
are its accuracies predicted". :func:`loo_by_run` takes ``var_names=("loss_obs", "acc_obs")``
to add the run's step-1 point (how well its loss is predicted from N and D as well).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr
from scipy.special import logsumexp

from ..errors import LadderDataError

__all__ = ["compare", "loo_by_run", "run_log_likelihood"]

#: The run coordinate of each observation dim of a fit's InferenceData.
RUN_COORD = {"checkpoint": "checkpoint_run", "step1_point": "step1_run"}


def run_log_likelihood(fit, var_names: str | Sequence[str] = ("acc_obs",), name: str | None = None) -> az.InferenceData:
    """InferenceData whose log likelihood has one entry per run: the sum over each run's
    observations of ``var_names`` (dims ``chain, draw, run``), with the fit's posterior.

    ``name``: the summed variable's name (default: the one variable's, or ``"run"``).
    """
    return _run_sums(fit, var_names, name)[0]


def _run_sums(fit, var_names, name) -> tuple[az.InferenceData, xr.DataArray]:
    """:func:`run_log_likelihood` and the number of observations of each run."""
    var_names = [var_names] if isinstance(var_names, str) else list(var_names)
    ll = fit.idata.log_likelihood
    total, counts = None, None
    for var in var_names:
        if var not in ll:
            raise LadderDataError(f"the fit has no log likelihood of {var!r}; it has {', '.join(ll.data_vars)}")
        da = ll[var]
        dim = next(d for d in da.dims if d in RUN_COORD)
        coord = RUN_COORD[dim]
        summed = da.groupby(coord).sum(dim).rename({coord: "run"})
        n = xr.DataArray(np.ones(da.sizes[dim]), dims=dim, coords={coord: (dim, da[coord].values)})
        n = n.groupby(coord).sum().rename({coord: "run"})
        total = summed if total is None else total + summed
        counts = n if counts is None else counts + n
    name = name or (var_names[0] if len(var_names) == 1 else "run")
    out = az.InferenceData(
        posterior=fit.idata.posterior,
        log_likelihood=xr.Dataset({name: total.transpose("chain", "draw", "run")}),
    )
    return out, counts


def loo_by_run(fit, var_names: str | Sequence[str] = ("acc_obs",)) -> pd.DataFrame:
    """PSIS-LOO with one run left out at a time: one row per run.

    Columns ``run, n_obs`` (the observations summed), ``elpd_loo`` (the run's leave-one-run-out
    log predictive density), ``p_loo`` (its effective number of parameters: the in-sample
    log predictive density minus ``elpd_loo``) and ``pareto_k`` (> 0.7: PSIS cannot be trusted
    for that run; refit without it, :func:`ladderfit.backtest`). See the module docstring for
    why the run is the unit and why step 1 is left out by default.
    """
    idata, counts = _run_sums(fit, var_names, "run_ll")
    loo = az.loo(idata, pointwise=True, var_name="run_ll")
    ll = idata.log_likelihood["run_ll"].stack(sample=("chain", "draw")).transpose("run", "sample").values
    lppd = logsumexp(ll, axis=1) - np.log(ll.shape[1])
    loo_i = np.asarray(loo.loo_i.values)
    runs = idata.log_likelihood["run"].values
    table = pd.DataFrame(
        {
            "run": runs,
            "n_obs": counts.sel(run=runs).values.astype(int),
            "elpd_loo": loo_i,
            "p_loo": lppd - loo_i,
            "pareto_k": np.asarray(loo.pareto_k.values),
        }
    )
    order = {r: i for i, r in enumerate(fit.model_data.runs)}  # the ladder's order: by size, then length
    return table.sort_values("run", key=lambda s: s.map(order)).reset_index(drop=True)


def compare(fits: Mapping[str, object], var_name: str = "acc_obs", ic: str = "loo", by: str = "run") -> pd.DataFrame:
    """``arviz.compare`` of fits (name -> LadderFit) on the pointwise log likelihood of ``var_name``.

    ``by="run"`` (default): leave one run out, each run's log likelihood summed over its
    observations; ``by="checkpoint"``: leave one observation out (optimistic: the module
    docstring says why). Raises :class:`LadderDataError` when the fits did not see the same
    observations.
    """
    if by not in ("run", "checkpoint"):
        raise ValueError(f"by must be 'run' or 'checkpoint', got {by!r}")
    if len(fits) < 2:
        raise LadderDataError("compare: give at least two fits")
    ref_name, ref = next(iter(fits.items()))
    ref_obs = ref.idata.observed_data[var_name].values
    for name, fit in fits.items():
        obs = fit.idata.observed_data[var_name].values
        if obs.shape != ref_obs.shape or not np.allclose(obs, ref_obs):
            raise LadderDataError(
                f"compare: fit {name!r} saw other {var_name} observations than {ref_name!r} "
                "(different tasks, runs or preprocessing); PSIS-LOO cannot compare them"
            )
    if by == "run":
        idatas = {name: run_log_likelihood(fit, var_name) for name, fit in fits.items()}
    else:
        idatas = {name: fit.idata for name, fit in fits.items()}
    return az.compare(idatas, ic=ic, var_name=var_name)
