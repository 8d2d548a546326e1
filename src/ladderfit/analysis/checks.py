"""Prior predictive checks: what the model believes before it sees the ladder.

:func:`prior_predictive` draws the parameters from their priors and the observations (step-1
task losses ``loss_obs``, step-2 accuracies ``acc_obs``; ``final_acc_obs`` for the single
step) from the likelihood, with the same dims and coords as a fit's InferenceData, so that
``az.plot_ppc(idata, group="prior")`` and :func:`ladderfit.plots.plot_prior_predictive` read
it like a fit.

**The constraint E > 0.** The joint model keeps the irreducible loss positive with a soft
barrier, ``numpyro.factor("E_positive", sum log sigmoid(E / (0.02 L_c)))``, which NumPyro's
:class:`~numpyro.infer.Predictive` ignores (it samples the prior's sample sites only). It is
honoured here by *rejection*: prior draws are made in batches and a draw is kept when it passes.

* ``constraint="hard"`` (default): keep the draws in which every task's E > 0, the barrier's
  hard limit (its width is 2% of the loss level, so the two differ little);
* ``constraint="soft"``: keep a draw with probability ``exp(E_positive)`` (the factor is
  <= 0, so this is exact rejection sampling of the model's own prior, barrier included; a
  kept draw may then have E slightly below 0).

The acceptance rate and the method are in ``idata.attrs``. Structures without the
constraint (``single_step``) accept every draw.
"""

from __future__ import annotations

import arviz as az
import jax
import numpy as np
from jax.nn import log_sigmoid
from numpyro.infer import Predictive

from ..data.bundled import default_runs
from ..data.preprocess import Preprocessing
from ..data.readers import read_data
from ..data.targets import as_targets
from ..errors import LadderDataError
from ..model.bayes import DIMS, LAW_SITES, label_points, select
from ..model.inputs import ModelData, build_model_data
from ..model.joint import model_for
from ..model.priors import resolve_priors
from ..model.runtime import enable_x64
from ..model.spec import as_spec

__all__ = ["prior_predictive", "OBSERVED_SITES"]

#: Observed sites of each structure's likelihood.
OBSERVED_SITES: dict[str, tuple[str, ...]] = {
    "two_step": ("loss_obs", "acc_obs"),
    "compute": ("loss_obs", "acc_obs"),
    "single_step": ("final_acc_obs",),
}
_TARGET_PREDICTIVE = ("target_loss", "target_accuracy")  # prior_predictive group, dims (target, task)
_TARGET_DIMS = ("target_loss_mean", "target_log_loss", "target_run_effect", "target_discrepancy", "target_logit",
                "target_accuracy_mean", "target_accuracy_raw", *_TARGET_PREDICTIVE)  # fmt: skip


def _inputs(data, model, tasks, runs, priors, preprocessing) -> tuple[ModelData, dict]:
    """Model data and priors: from a fit (``data`` a LadderFit) or from data as :func:`ladderfit.fit` reads it."""
    if hasattr(data, "model_data") and hasattr(data, "priors"):
        if tasks is not None or runs is not None or model is not None:
            raise ValueError("prior_predictive(fit): the fit fixes the tasks, runs and model; pass data to change them")
        return data.model_data, resolve_priors(priors) if priors is not None else data.priors
    df = read_data(data)
    df = select(df, tasks, runs if runs is not None else default_runs(df))
    md = build_model_data(df, as_spec(model), preprocessing or Preprocessing())
    return md, resolve_priors(priors, md.structure)


def _acceptance(draws: dict, md: ModelData, priors: dict, constraint: str, key) -> np.ndarray:
    """Which draws pass the constraint E > 0 (boolean per draw)."""
    n = len(next(iter(draws.values())))
    if "E" not in draws:  # the single step has no irreducible loss
        return np.ones(n, bool)
    law = np.asarray(md.law_of_task)
    first = [int(np.flatnonzero(law == g)[0]) for g in range(md.n_laws)]  # one task per step-1 law
    E, L_c = np.asarray(draws["E"])[:, first], np.asarray(draws["L_c"])[:, first]
    if constraint == "hard":
        return (E > 0).all(axis=1)
    e_floor = priors["E_floor"][1][0]
    log_w = np.asarray(log_sigmoid(E / (e_floor * L_c))).sum(axis=1)
    return np.log(np.asarray(jax.random.uniform(key, (n,)))) < log_w


def prior_predictive(
    data=None,
    *,
    model=None,
    tasks=None,
    runs=None,
    targets=None,
    num_samples: int = 500,
    seed: int = 0,
    priors=None,
    preprocessing: Preprocessing | None = None,
    constraint: str = "hard",
    max_batches: int = 50,
) -> az.InferenceData:
    """Draws from the model's prior and prior predictive, as ArviZ InferenceData.

    Parameters
    ----------
    data : what :func:`ladderfit.fit` reads (tidy DataFrame, path, ``None`` for the bundled
        ladder with the paper's 16 runs), or a fitted ``LadderFit`` (its data, model and priors).
    model, tasks, runs, priors, preprocessing : as for :func:`ladderfit.fit`.
    targets : optional targets (:func:`~ladderfit.data.targets.as_targets`): also draw
        ``target_loss`` and ``target_accuracy`` (dims ``target, task``) from the prior,
        discrepancy included.
    num_samples : prior draws kept (after the constraint).
    constraint : ``"hard"`` (every task's E > 0) or ``"soft"`` (accept with the model's factor
        ``exp(E_positive)``); see the module docstring.
    max_batches : give up (:class:`LadderDataError`) when this many batches of ``num_samples``
        draws have not produced enough accepted ones.

    Returns
    -------
    InferenceData with groups ``prior`` (parameters; dims ``task``/``law``/``run``),
    ``prior_predictive`` (the observation sites, dims ``step1_point``/``checkpoint`` with the
    coords ``step1_task``, ``checkpoint_task`` ... of a fit; the target sites), ``observed_data``
    and ``constant_data`` (``step1_loss``, ``checkpoint_loss``: the observed task losses the
    step-2 curve is read at). ``attrs``: ``constraint``, ``acceptance_rate``, ``draws_tried``.
    """
    if constraint not in ("hard", "soft"):
        raise ValueError(f"constraint must be 'hard' or 'soft', got {constraint!r}")
    if num_samples < 1:
        raise ValueError("num_samples must be at least 1")
    enable_x64()
    md, priors = _inputs(data, model, tasks, runs, priors, preprocessing)
    kw = {}
    tg = None
    if targets is not None:
        tg = as_targets(targets)
        kw["target_x"], kw["target_z"] = md.target_xz(tg)
    predictive = Predictive(model_for(md.structure), num_samples=num_samples)
    key = jax.random.PRNGKey(seed)
    kept: list[dict] = []
    n_kept = tried = 0
    for _ in range(max_batches):
        key, k_draw, k_accept = jax.random.split(key, 3)
        draws = {k: np.asarray(v) for k, v in predictive(k_draw, md, priors, observe=False, **kw).items()}
        ok = _acceptance(draws, md, priors, constraint, k_accept)
        tried += len(ok)
        kept.append({k: v[ok] for k, v in draws.items()})
        n_kept += int(ok.sum())
        if n_kept >= num_samples:
            break
    else:
        raise LadderDataError(
            f"prior_predictive: only {n_kept} of {tried} prior draws satisfy E > 0; the priors barely allow the constraint"
        )
    samples = {k: np.concatenate([b[k] for b in kept])[:num_samples] for k in kept[0]}
    return _to_inference_data(samples, md, tg, constraint, n_kept / tried, tried)


def _to_inference_data(samples: dict, md: ModelData, tg, constraint: str, rate: float, tried: int) -> az.InferenceData:
    obs_sites = OBSERVED_SITES.get(md.structure, OBSERVED_SITES["two_step"])
    pred_sites = set(obs_sites) | set(_TARGET_PREDICTIVE)
    skip = {"E_positive"}
    one_chain = {k: v[None] for k, v in samples.items() if k not in skip}
    dims = dict(DIMS)
    if md.shared_feature:
        dims.update({name: ["law"] for name in LAW_SITES})
    dims.update({name: ["target", "task"] for name in _TARGET_DIMS})
    coords = {
        "task": md.tasks,
        "run": md.runs,
        "step1_point": np.arange(len(md.s1_task)),
        "checkpoint": np.arange(len(md.s2_task)),
    }
    if md.shared_feature:
        coords["law"] = [md.feature]
    if tg is not None:
        coords["target"] = list(tg["target"])
    single = md.structure == "single_step"
    observed = {"final_acc_obs": md.s1_acc} if single else {"loss_obs": np.log(md.s1_loss), "acc_obs": md.s2_acc}
    idata = az.from_dict(
        prior={k: v for k, v in one_chain.items() if k not in pred_sites},
        prior_predictive={k: v for k, v in one_chain.items() if k in pred_sites},
        observed_data=observed,
        constant_data={"step1_loss": md.s1_loss, "checkpoint_loss": md.s2_loss},
        coords=coords,
        dims={**dims, "step1_loss": ["step1_point"], "checkpoint_loss": ["checkpoint"]},
    )
    label_points(idata, md, ("observed_data", "prior_predictive", "constant_data"))
    idata.attrs.update(
        constraint=f"E > 0 by rejection ({constraint})",
        acceptance_rate=float(rate),
        draws_tried=int(tried),
        structure=md.structure,
        feature=md.feature,
    )
    return idata
