"""What a candidate run would show, and how likely each posterior draw finds it.

J posterior draws each simulate the candidate's outcome from the joint model itself (its step-1
point, and step-2 checkpoints shaped like those of the ladder run nearest in tokens per
parameter); every draw then scores every outcome, per task (:func:`candidate_loglik`): the
log weights of the importance re-weighting."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["candidate_loglik"]


@dataclass
class _Template:
    """A ladder run's step-2 checkpoints, per task: the feature relative to the final one."""

    run: str
    task: np.ndarray
    ratio: np.ndarray
    nsmooth: np.ndarray
    step: np.ndarray


def _template(md, cx: float, cz: float) -> _Template:
    """The checkpoints of the ladder run nearest in tokens per parameter (log D - log N)."""
    r_s1 = md.s1_run
    if md.structure == "compute":
        key_run, key_c = md.s1_x, cx
    else:
        key_run, key_c = (md.s1_z + md.logD_c) - (md.s1_x + md.logN_c), cz + md.logD_c - (cx + md.logN_c)
    candidates = pd.DataFrame({"r": r_s1, "key": key_run, "x": md.s1_x}).groupby("r").first()
    has_s2 = np.isin(candidates.index, md.s2_run)
    candidates = candidates[has_s2]
    if candidates.empty:
        return _Template("", np.zeros(0, np.int32), np.zeros(0), np.zeros(0), np.zeros(0, np.int64))
    # nearest tokens per parameter; among equals the largest run (the most checkpoints)
    score = np.abs(candidates["key"] - key_c) - 1e-6 * candidates["x"]
    r = int(candidates.index[np.argmin(score.to_numpy())])
    tasks, ratios, ns, steps = [], [], [], []
    for t in range(md.n_tasks):
        law = md.law_of_task[t]
        i1 = np.flatnonzero((md.s1_run == r) & (md.s1_task == law))
        j = np.flatnonzero((md.s2_run == r) & (md.s2_task == t))
        if not len(i1) or not len(j):
            continue
        tasks.append(np.full(len(j), t))
        ratios.append(md.s2_loss[j] / md.s1_loss[i1[0]])
        ns.append(md.s2_nsmooth[j])
        steps.append(md.s2_step[j])
    cat = np.concatenate
    return _Template(md.runs[r], cat(tasks).astype(np.int32), cat(ratios), cat(ns), cat(steps))


def _synthetic(md, cx: float, cz: float, tpl: _Template, J: int, final_loss=None):
    """ModelData holding J copies of the candidate run (copy j's step-2 feature scaled to
    ``final_loss[j]``, per law), on the fit's centring and per-task constants."""
    laws = np.unique(md.s1_task)
    n1, n2 = len(laws), len(tpl.task)
    copy1, copy2 = np.repeat(np.arange(J), n1), np.repeat(np.arange(J), n2)
    s1_task = np.tile(laws, J).astype(np.int32)
    if final_loss is None:
        final_loss = np.ones((J, n1))
    law_pos = {law: i for i, law in enumerate(laws)}
    t2 = np.tile(tpl.task, J)
    pos = np.array([law_pos[md.law_of_task[t]] for t in tpl.task], dtype=int) if n2 else np.zeros(0, int)
    s2_loss = np.tile(tpl.ratio, J) * final_loss[copy2, np.tile(pos, J)] if n2 else np.zeros(0)
    return dataclasses.replace(
        md, runs=[f"candidate#{j}" for j in range(J)],
        s1_task=s1_task, s1_run=copy1.astype(np.int32), s1_x=np.full(J * n1, cx), s1_z=np.full(J * n1, cz),
        s1_loss=np.asarray(final_loss, float).ravel(), s1_acc=np.full(J * n1, 0.5),
        s1_nlast=np.ones(J * n1), s2_task=t2.astype(np.int32), s2_run=copy2.astype(np.int32),
        s2_step=np.tile(tpl.step, J), s2_loss=s2_loss, s2_acc=np.full(J * n2, 0.5),
        s2_nsmooth=np.tile(tpl.nsmooth, J), s1_config=None,
    )  # fmt: skip


def _block_diagonal(arr: np.ndarray, J: int) -> np.ndarray:
    """From (J draws, J * n points) the points of copy j simulated by draw j: (J, n)."""
    n = arr.shape[1] // J
    return np.stack([arr[j, j * n:(j + 1) * n] for j in range(J)])


def candidate_loglik(fit, samples: dict, gen: dict, cx: float, cz: float, seed: int, chunk: int = 16) -> np.ndarray:
    """log p(y_j | theta_s) per task: (S, J, T) for J outcomes y_j simulated from the draws ``gen``."""
    import jax
    from numpyro.infer import Predictive, log_likelihood

    from ...model.joint import model_for

    md, priors = fit.model_data, fit.priors
    model = model_for(md.structure)
    J = len(next(iter(gen.values())))
    tpl = _template(md, cx, cz)
    key1, key2 = jax.random.split(jax.random.PRNGKey(seed))
    single = md.structure == "single_step"
    if single:
        one = _synthetic(md, cx, cz, tpl, J)
        out = Predictive(model, posterior_samples=gen, return_sites=["final_acc_obs"])(key1, one, priors, observe=False)
        obs = {"final_acc_obs": _block_diagonal(np.asarray(out["final_acc_obs"]), J)}
        final = np.ones((J, len(np.unique(md.s1_task))))
    else:
        one = _synthetic(md, cx, cz, tpl, 1)
        out = Predictive(model, posterior_samples=gen, return_sites=["loss_obs"])(key1, one, priors, observe=False)
        final = np.exp(np.asarray(out["loss_obs"]))  # (J, laws): the run's final feature
        many = _synthetic(md, cx, cz, tpl, J, final)
        out = Predictive(model, posterior_samples=gen, return_sites=["acc_obs"])(key2, many, priors, observe=False)
        obs = {"acc_obs": _block_diagonal(np.asarray(out["acc_obs"]), J)}
    S = len(next(iter(samples.values())))
    ll = np.zeros((S, J, md.n_tasks))
    for start in range(0, J, chunk):
        js = np.arange(start, min(J, start + chunk))
        part = _synthetic(md, cx, cz, tpl, len(js), final[js])
        if single:
            part = dataclasses.replace(part, s1_acc=obs["final_acc_obs"][js].ravel())
        else:
            part = dataclasses.replace(part, s2_acc=obs["acc_obs"][js].ravel())
        got = log_likelihood(model, samples, part, priors)
        copy1 = part.s1_run
        if single:
            l1 = np.asarray(got["final_acc_obs"])  # (S, n) per task
            np.add.at(ll, (slice(None), js[copy1], part.s1_task), l1)
            continue
        l1, l2 = np.asarray(got["loss_obs"]), np.asarray(got["acc_obs"])
        for t in range(md.n_tasks):  # a task's own checkpoints and its law's step-1 point
            i1 = part.s1_task == md.law_of_task[t]
            i2 = part.s2_task == t
            for local, j in enumerate(js):
                ll[:, j, t] = l1[:, i1 & (part.s1_run == local)].sum(1) + l2[:, i2 & (part.s2_run == local)].sum(1)
    return ll

