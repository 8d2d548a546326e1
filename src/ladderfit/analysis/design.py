r"""Which rung to train next: the expected width of a target's interval if a candidate run were added.

A preposterior analysis by importance re-weighting of the fit's posterior draws. For a
candidate run c at (N_c, D_c) and the target (N*, D*):

1. **Outcomes.** J posterior draws theta_j (``outcomes``) each simulate what the run would
   show, from the joint model itself (NumPyro ``Predictive`` with ``observe=False``): its step-1
   point (log of the final feature, with the run's scatter ``sigma_loss``) and its step-2
   checkpoints, which copy a ladder run's (the one with the nearest tokens-per-parameter):
   as many points, the same smoothing counts, and the same shape of the feature along the
   run (checkpoint feature / final feature), scaled to the simulated final feature. Each
   checkpoint's accuracy is then drawn with the model's evaluation noise.
2. **Weights.** Every posterior draw s scores outcome j: ``log w_sj = log p(y_j | theta_s)``
   (NumPyro ``log_likelihood``), per task t from task t's own observations (and its step-1
   law's), so that the weights of one task are not degraded by the nine others' (tasks share
   only the population priors of the exponents and slopes). The draw that simulated y_j is
   left out of its own weights. The weights are Pareto-smoothed (PSIS,
   :func:`arviz.psislw`): ``ess`` and ``pareto_k`` say how far to trust them.
3. **The would-be interval.** The target's predictive accuracy draws (those of
   :meth:`~ladderfit.model.results.LadderFit.predictive_draws`: both steps, the target run's
   deviation, one evaluation's noise, and the calibrated discrepancy ``gamma d^p``) are
   re-weighted; the discrepancy's distance d beyond the ladder is recomputed with the candidate
   in the ladder (a rung beyond the largest N or D moves the ladder's edge: a large part of
   why far rungs help). The weighted 5% and 95% quantiles give the width, corrected for the
   weights' finite effective sample (a weighted quantile of ESS effective draws is narrower than
   the distribution by itself): the same weights shuffled over the draws, as degenerate but blind
   to the target, measure that bias, and the width is the unweighted one minus (shuffled -
   weighted). Averaging over the J outcomes gives the expectation (``width_90_expected``, with
   its Monte Carlo SE; ``width_90_expected_raw`` without the correction).

Candidates are ranked by the expected reduction of the width, averaged over tasks, per
training FLOP (``reduction_per_eflop``: accuracy as a fraction, per 1e18 FLOPs).
FLOPs are those of the ladder's fitted FLOPs-per-token law (``log(flops / D) = c0 + c1 log N``,
:func:`~ladderfit.data.targets.flops_per_token_coef`) when the data hold ``flops``, else 6 N D.

:func:`greedy_design` repeats the choice: the rungs chosen so far are conditioned on jointly
(their outcomes drawn from the same theta_j), which gives the *stopping view*: expected width
against the ladder's cumulative compute as a share of the target's.

Why importance re-weighting: it costs two ``Predictive`` passes and one ``log_likelihood``
per candidate (about 3 s for 6 tasks on 2 CPU cores), against a NUTS refit per simulated
outcome (about 16 s each, times J), and it
uses the fit's own likelihood, noise model and discrepancy, nothing re-derived. It breaks
where the candidate is very informative relative to the posterior (a rung far beyond a small
ladder, with dozens of precise checkpoints): the weights degenerate on few draws (small
``ess``, ``pareto_k`` > 0.7) and the expected width is then too optimistic; and where a real
run moves a broad posterior (a near-chance task whose curve the ladder barely shows) beyond the
region its draws cover, which no re-weighting of those draws can follow. It also treats
the candidate as a new configuration: a seed rerun of an existing rung (which the model fits
as a replicate, sharing the rung's deviation from the law, with a seed-share parameter) is
scored as if it were a new rung. ``benchmarks/design_backtest.py`` checks the ranking against real
refits on the bundled ladder.
"""

from __future__ import annotations

import dataclasses
import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..data.targets import TARGET_RANGE, as_targets, flops_per_token_coef
from ..errors import LadderDataError
from ..model.geometry import hull_distance

__all__ = ["design", "greedy_design", "as_candidates", "parse_candidate", "candidate_grid", "DesignResult", "DesignWarning",
           "weighted_quantile"]

#: ESS of the importance weights below which an expected width is flagged as unreliable.
LOW_ESS = 20.0
_SPEC = re.compile(r"^\s*(?:(?P<name>[^=]+?)\s*=)?\s*(?P<N>[^,=]+?)\s*,\s*(?P<D>[^,=]+?)\s*$")


class DesignWarning(UserWarning):
    """The importance weights of a candidate degenerated: its expected width is unreliable."""


# ---------------------------------------------------------------------------------- candidates

def ladder_points(md) -> np.ndarray:
    """The ladder's runs as centred (x, z) points (k, 2): the hull its distance is measured from."""
    return np.unique(np.column_stack([md.s1_x, md.s1_z]), axis=0)

def size_label(N: float) -> str:
    """A short size label: 1.28e9 -> ``1.3B``, 7.6e8 -> ``760M``."""
    for unit, scale in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if N >= scale:
            v = N / scale
            return f"{v:.2g}{unit}" if v < 10 else f"{v:.0f}{unit}"
    return f"{N:.3g}"


def _auto_name(N: float, D: float) -> str:
    """``SIZE-MxC`` with M = D / (20 N), the Chinchilla multiple."""
    m = D / (20 * N)
    mult = f"{round(m):d}" if m >= 1 and abs(m - round(m)) < 0.01 * m else f"{m:.2g}"
    return f"{size_label(N)}-{mult}xC"


def _number(text: str, what: str, spec: str) -> float:
    try:
        value = float(str(text).replace("_", ""))
    except ValueError:
        raise LadderDataError(f"candidate {spec!r}: {what} {text!r} is not a number (e.g. 1.28e9)") from None
    if not np.isfinite(value) or value <= 0:
        raise LadderDataError(f"candidate {spec!r}: {what} must be a finite number > 0, got {text!r}")
    lo, hi = TARGET_RANGE[what]
    if not lo <= value <= hi:
        raise LadderDataError(f"candidate {spec!r}: {what} = {value:.4g} is outside the sane range [{lo:g}, {hi:g}]")
    return value


def parse_candidate(spec: str) -> dict:
    """``"NAME=N,D"`` or ``"N,D"`` (named ``SIZE-MxC``) into ``{candidate, N, D}``."""
    m = _SPEC.match(str(spec))
    if not m:
        raise LadderDataError(f"candidate {spec!r}: expected NAME=N,D or N,D (e.g. 1B-20xC=1.28e9,5.1e11)")
    N, D = _number(m["N"], "N", spec), _number(m["D"], "D", spec)
    return {"candidate": m["name"] or _auto_name(N, D), "N": N, "D": D}


def as_candidates(candidates) -> pd.DataFrame:
    """Candidates as a DataFrame ``candidate, N, D``: strings ``NAME=N,D``, ``(name, N, D)`` or
    ``(N, D)`` tuples, dicts, or a DataFrame with those columns (``target`` or ``run`` also
    name a row)."""
    if candidates is None:
        raise LadderDataError("design: no candidates given; expected e.g. '1B-20xC=1.28e9,5.1e11'")
    if isinstance(candidates, pd.DataFrame):
        raw = candidates.rename(columns={"target": "candidate", "run": "candidate"}).to_dict("records")
    elif isinstance(candidates, (str, dict, tuple)):
        raw = [candidates]
    elif isinstance(candidates, Iterable):
        raw = list(candidates)
    else:
        raise LadderDataError(f"candidate {candidates!r}: expected NAME=N,D, (name, N, D), a dict or a DataFrame")
    rows = []
    for c in raw:
        if isinstance(c, str):
            rows.append(parse_candidate(c))
        elif isinstance(c, tuple) and len(c) in (2, 3):
            name, N, D = (None, *c) if len(c) == 2 else c
            spec = repr(c)
            N, D = _number(N, "N", spec), _number(D, "D", spec)
            rows.append({"candidate": name or _auto_name(N, D), "N": N, "D": D})
        elif isinstance(c, dict):
            missing = {"N", "D"} - set(c)
            if missing:
                raise LadderDataError(f"candidate {c!r}: missing {sorted(missing)}; expected candidate, N, D")
            N, D = _number(c["N"], "N", repr(c)), _number(c["D"], "D", repr(c))
            name = c.get("candidate") or c.get("name") or _auto_name(N, D)
            rows.append({"candidate": str(name), "N": N, "D": D})
        else:
            raise LadderDataError(f"candidate {c!r}: expected NAME=N,D, (name, N, D), a dict or a DataFrame")
    out = pd.DataFrame(rows, columns=["candidate", "N", "D"])
    if out.empty:
        raise LadderDataError("design: no candidates given; expected e.g. '1B-20xC=1.28e9,5.1e11'")
    dup = out["candidate"][out["candidate"].duplicated()]
    if len(dup):
        raise LadderDataError(f"candidates: duplicate name {dup.iloc[0]!r}; give each candidate its own name")
    return out


def candidate_grid(sizes, multipliers, tokens_per_parameter: float = 20.0) -> pd.DataFrame:
    """Every (N, D = m * 20 N) of ``sizes`` x Chinchilla ``multipliers``, named ``SIZE-MxC``."""
    rows = []
    for N in sizes:
        for m in multipliers:
            spec = f"{N} x {m}"
            N_ = _number(N, "N", spec)
            m_ = float(m)
            if not np.isfinite(m_) or m_ <= 0:
                raise LadderDataError(f"--multipliers: {m!r} must be a number > 0 (a Chinchilla multiple, e.g. 5)")
            rows.append({"candidate": f"{size_label(N_)}-{m_:g}xC", "N": N_, "D": _number(tokens_per_parameter * m_ * N_, "D", spec)})
    return as_candidates(pd.DataFrame(rows))


# ---------------------------------------------------------------------------------- weights and quantiles
def weighted_quantile(values: np.ndarray, weights: np.ndarray, q) -> np.ndarray:
    """Quantiles ``q`` of ``values`` (n,) under each column of ``weights`` (n, m): (len(q), m).

    The weighted empirical distribution with mid-point plotting positions; with equal weights
    it equals ``np.percentile`` up to the plotting positions' convention.
    """
    order = np.argsort(values)
    v = values[order]
    w = np.asarray(weights, float)[order]
    w = w / w.sum(0, keepdims=True)
    cdf = np.cumsum(w, 0) - 0.5 * w
    q = np.atleast_1d(q)
    return np.stack([np.array([np.interp(qq, cdf[:, j], v) for j in range(w.shape[1])]) for qq in q])


def _smoothed_weights(log_w: np.ndarray, psis: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Normalized weights (S, ...) from log weights (S, ...), their ESS and Pareto k (...)."""
    lw = np.moveaxis(log_w, 0, -1)
    lw = lw - lw.max(-1, keepdims=True)
    if psis:
        import arviz as az

        flat = lw.reshape(-1, lw.shape[-1])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            smoothed, k = az.psislw(flat.copy())
        lw, k = smoothed.reshape(lw.shape), np.asarray(k).reshape(lw.shape[:-1])
    else:
        k = np.full(lw.shape[:-1], np.nan)
    w = np.exp(lw - lw.max(-1, keepdims=True))
    w /= w.sum(-1, keepdims=True)
    ess = 1.0 / (w**2).sum(-1)
    return np.moveaxis(w, -1, 0), ess, k


# ---------------------------------------------------------------------------------- the model's pieces
def _posterior_subsample(fit, max_draws: int) -> dict[str, np.ndarray]:
    samples = fit._posterior_samples()
    S = len(next(iter(samples.values())))
    idx = np.unique(np.linspace(0, S - 1, min(S, max_draws)).round().astype(int))
    return {k: v[idx] for k, v in samples.items()}


def _take(samples: dict, idx) -> dict:
    return {k: v[idx] for k, v in samples.items()}


def flops_coef(fit, data: pd.DataFrame | None = None) -> tuple[float, float]:
    """The ladder's FLOPs per token, ``log(flops / D) = c0 + c1 log N``: the fit's own (compute
    structure), else from ``data``'s ``flops`` column, else 6 (6 N D)."""
    md = fit.model_data
    if md.structure == "compute":
        return tuple(md.flops_coef)
    if data is not None and "flops" in data.columns:
        return flops_per_token_coef(data)
    return (float(np.log(6.0)), 1.0)


def _flops(coef, N, D) -> np.ndarray:
    return np.exp(coef[0] + coef[1] * np.log(np.asarray(N, float))) * np.asarray(D, float)


def ladder_runs(fit, coef) -> pd.DataFrame:
    """The fitted ladder's runs: ``run, N, D, flops`` (from the model's step-1 points)."""
    md = fit.model_data
    first = pd.DataFrame({"r": md.s1_run, "x": md.s1_x, "z": md.s1_z}).groupby("r").first()
    runs = np.array(md.runs)[first.index]
    if md.structure == "compute":  # x is log C; N and D are not kept
        flops = np.exp(first["x"].to_numpy() + md.logC_c)
        return pd.DataFrame({"run": runs, "N": np.nan, "D": np.nan, "flops": flops})
    N, D = np.exp(first["x"].to_numpy() + md.logN_c), np.exp(first["z"].to_numpy() + md.logD_c)
    return pd.DataFrame({"run": runs, "N": N, "D": D, "flops": _flops(coef, N, D)})


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

    from ..model.joint import model_for

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


class _TargetDraws:
    """The target's accuracy draws with the discrepancy's distance as a free argument."""

    def __init__(self, fit, samples: dict, target: pd.DataFrame, seed: int):
        import jax
        from numpyro.infer import Predictive

        from ..model.joint import model_for

        md, priors = fit.model_data, fit.priors
        self.md = md
        self.x, self.z = (float(v[0]) for v in md.target_xz(target))
        sites = ["target_accuracy_mean", "target_accuracy_raw", "target_logit", "target_discrepancy", "floor",
                 "discrepancy_scale"]  # fmt: skip
        out = Predictive(model_for(md.structure), posterior_samples=samples, return_sites=sites)(
            jax.random.PRNGKey(seed), md, priors, target_x=np.array([self.x]), target_z=np.array([self.z])
        )
        family, params = priors["discrepancy"]
        S = len(next(iter(samples.values())))
        gamma = np.full(S, params[0]) if family == "Fixed" else np.asarray(out["discrepancy_scale"]).reshape(S)
        self.power = priors["discrepancy_power"][1][0]
        drift = priors.get("discrepancy_drift", ("Fixed", (0.0,)))[1][0]
        # the discrepancy per unit of d^p, its drift included: drift + gamma eps
        self.gamma_eps = drift + gamma[:, None] * np.asarray(out["target_discrepancy"]).reshape(S, -1)
        d_now = self.distance(ladder_points(md))
        self.u0 = np.asarray(out["target_logit"]).reshape(S, -1) - self.gamma_eps * d_now**self.power
        self.floor = np.asarray(out["floor"]).reshape(S, -1)
        self.noise = (np.asarray(out["target_accuracy_raw"]) - np.asarray(out["target_accuracy_mean"])).reshape(S, -1)

    def distance(self, edge: np.ndarray) -> float:
        """The target's distance from the convex hull of the ladder's points ``edge`` (k, 2)."""
        return float(hull_distance(edge, self.x, self.z))

    def accuracy(self, edge: np.ndarray) -> np.ndarray:
        """(S, T) accuracy draws with the ladder's points (its hull) at ``edge``."""
        from scipy.special import expit

        u = self.u0 + self.gamma_eps * self.distance(edge) ** self.power
        return np.clip(self.floor + (1 - self.floor) * expit(u) + self.noise, 0.0, 1.0)


def _interval_stats(acc: np.ndarray, w: np.ndarray, level: float):
    """Per task (T) and outcome (J): width of the central ``level`` interval, median, and the
    expected absolute error of the median, E|acc - median|, from draws (S, T), weights (S, J, T)."""
    lo, hi = 0.5 - level / 200, 0.5 + level / 200
    T, J = acc.shape[1], w.shape[1]
    width, med, mae = np.zeros((J, T)), np.zeros((J, T)), np.zeros((J, T))
    for t in range(T):
        q = weighted_quantile(acc[:, t], w[:, :, t], [lo, 0.5, hi])
        width[:, t], med[:, t] = q[2] - q[0], q[1]
        mae[:, t] = (w[:, :, t] * np.abs(acc[:, t][:, None] - q[1][None, :])).sum(0)
    return width, med, mae


# ---------------------------------------------------------------------------------- the design
@dataclass
class DesignResult:
    """What :func:`design` returns.

    table : one row per (candidate, task): ``candidate, N, D, flops, task, width_90_now,
        width_90_expected`` (its Monte Carlo SE), ``reduction``, ``reduction_per_eflop``,
        ``mae_now``/``mae_expected`` (the expected absolute error of the median), ``ess``
        (median over outcomes of the importance weights' ESS), ``pareto_k`` (median),
        ``reliable`` and the distances beyond the ladder before and after.
    ranking : one row per candidate, best first: the same averaged over tasks, with
        ``tasks_helped`` (tasks whose width shrinks by more than two SE and 2%) and
        ``detectable`` (the mean width does; those without come last), and the spread of the
        width one real run would leave over the simulated outcomes (``width_90_outcome_sd``, its
        5% and 95% quantiles ``width_90_outcome_5``/``_95``): the expectation averages them, a
        single run lands somewhere among them.
    greedy : the stopping view (:func:`greedy_design`), or ``None``.
    target : the target's row (``target, N, D, flops``); ``ladder_flops`` the ladder's compute.
    """

    table: pd.DataFrame
    ranking: pd.DataFrame
    target: dict
    ladder_flops: float
    greedy: pd.DataFrame | None = None
    level: float = 90

    def __repr__(self) -> str:
        best = self.ranking.iloc[0]
        return (f"<DesignResult: {len(self.ranking)} candidates, target {self.target['target']}; best "
                f"{best['candidate']} ({best['reduction_per_eflop']:.3g} width per EFLOP)>")


def _check_inputs(fit, target, tasks):
    if not hasattr(fit, "model_data") or not hasattr(fit, "idata"):
        raise LadderDataError(f"design: expected a Bayesian LadderFit (ladderfit.fit), got {type(fit).__name__}")
    if fit.model_data.spec.run_effects:
        raise LadderDataError(
            f"design: model {fit.model_data.spec.name!r} has run effects, which a new rung would add a "
            "parameter for; expected a fit without run effects (e.g. 'two_step')"
        )
    tg = as_targets(target)
    if len(tg) != 1:
        raise LadderDataError(f"design: one target at a time, got {len(tg)} ({', '.join(tg['target'])})")
    if tasks is not None:
        tasks = [tasks] if isinstance(tasks, str) else list(tasks)
        unknown = [t for t in tasks if t not in fit.tasks]
        if unknown:
            raise LadderDataError(f"design: task(s) {unknown} not in the fit; it has {', '.join(fit.tasks)}")
    return tg, tasks


class _Context:
    """Everything the candidates share: posterior draws, outcome draws, target draws, FLOPs."""

    def __init__(self, fit, target, tasks, data, outcomes, max_draws, seed, level, psis, null=True, weights="task"):
        self.fit, self.md, self.level, self.psis, self.null = fit, fit.model_data, level, psis, null
        self.weights = weights
        self.samples = _posterior_subsample(fit, max_draws)
        S = len(next(iter(self.samples.values())))
        rng = np.random.default_rng(seed)
        self.J = int(min(outcomes, S))
        self.gen_idx = np.sort(rng.choice(S, size=self.J, replace=False))
        self.gen = _take(self.samples, self.gen_idx)
        self.shuffle = rng.permutation(S)  # the null's shuffle of the weights over draws
        self.seed = seed
        self.target_draws = _TargetDraws(fit, self.samples, target, seed + 1)
        self.task_idx = np.array([fit.tasks.index(t) for t in (tasks or fit.tasks)])
        self.tasks = [fit.tasks[i] for i in self.task_idx]
        self.coef = flops_coef(fit, data)
        self.runs = ladder_runs(fit, self.coef)
        self.ladder_flops = float(self.runs["flops"].sum())
        tg = target.iloc[0]
        tflops = float(tg["flops"]) if "flops" in target.columns and np.isfinite(tg.get("flops", np.nan)) else float(
            _flops(self.coef, tg["N"], tg["D"]))
        self.target = {"target": str(tg["target"]), "N": float(tg["N"]), "D": float(tg["D"]), "flops": tflops}
        uniform = np.ones((S, 1, self.md.n_tasks))
        acc_now = self.target_draws.accuracy(ladder_points(self.md))
        width, _, mae = _interval_stats(acc_now, uniform / S, level)
        self.width_now, self.mae_now = width[0], mae[0]

    def xz(self, N: float, D: float) -> tuple[float, float]:
        x, z = self.md.target_xz(pd.DataFrame({"N": [N], "D": [D]}))
        return float(x[0]), float(z[0])

    def loglik(self, cx: float, cz: float, i: int) -> np.ndarray:
        ll = candidate_loglik(self.fit, self.samples, self.gen, cx, cz, self.seed + 100 + i)
        ll[self.gen_idx, np.arange(self.J), :] = -np.inf  # the draw that simulated y_j is left out
        return ll

    def evaluate(self, ll: np.ndarray, edge: np.ndarray, psis: bool | None = None) -> dict:
        """Expected width etc. per task given the summed log weights (S, J, T) and the edge."""
        ll = np.where(np.isfinite(ll), ll, np.nanmin(np.where(np.isfinite(ll), ll, np.inf)) - 50.0)
        ll = ll[:, :, self.task_idx]
        if self.weights == "joint":  # every task's observations weigh every task's draws
            ll = np.repeat(ll.sum(-1, keepdims=True), ll.shape[-1], axis=-1)
        w, ess, k = _smoothed_weights(ll, self.psis if psis is None else psis)
        acc = self.target_draws.accuracy(edge)[:, self.task_idx]
        width, med, mae = _interval_stats(acc, w, self.level)
        if not self.null:
            return {"width": width, "mae": mae, "ess": ess, "k": k, "width_raw": width}
        # the same weights, shuffled over the draws: as degenerate, but blind to the target.
        # A weighted quantile of an effective sample of size ESS is biased (narrow) by itself;
        # the null has that bias and no information, so the difference is the information's.
        S = len(acc)
        base_w, _, base_mae = _interval_stats(acc, np.full((S, 1, acc.shape[1]), 1.0 / S), self.level)
        null_w, _, null_mae = _interval_stats(acc, w[self.shuffle], self.level)
        return {"width": base_w - (null_w - width), "mae": base_mae - (null_mae - mae), "ess": ess, "k": k,
                "width_raw": width}


def design(fit, target="7B-4T", candidates=None, *, tasks=None, data=None, outcomes: int = 64, max_draws: int = 1000,
           level: float = 90, greedy_steps: int | None = 5, seed: int | None = None, psis: bool = True,
           min_reduction: float = 0.02, null: bool = True, weights: str = "task") -> DesignResult:
    """Rank candidate rungs by how much they are expected to narrow the target's interval, per FLOP.

    Parameters
    ----------
    fit : a Bayesian :class:`~ladderfit.model.results.LadderFit` of the current ladder (no run effects).
    target : one target: a paper name (``"7B-4T"``), ``"NAME=N,D"`` or a one-row DataFrame.
    candidates : rungs to score: ``"NAME=N,D"`` strings, ``(name, N, D)`` tuples, dicts or a
        DataFrame ``candidate, N, D`` (:func:`as_candidates`; :func:`candidate_grid` for a grid).
    tasks : tasks to score (default: all of the fit's); the ranking averages over them.
    data : the ladder's tidy table, for its FLOPs per token (``flops`` column); else 6 N D.
    outcomes : simulated outcomes per candidate (J); the expected width's Monte Carlo SE
        shrinks as 1/sqrt(J).
    max_draws : posterior draws used as the importance sample (thinned evenly).
    level : the central interval, in percent (the table's columns keep the name ``width_90``
        for the default; other levels name theirs ``width_L``).
    greedy_steps : rungs of the stopping view (:func:`greedy_design`); ``0`` or ``None`` skips it.
    seed : random seed (default the fit's seed).
    psis : Pareto-smooth the importance weights (default); ``False`` for raw weights.
    min_reduction : a reduction counts (``detectable``) when it exceeds this share of the current
        width (default 2%) and two Monte Carlo SE; candidates without one are ranked after those
        with one (per FLOP, a tiny gain of a tiny run is noise divided by little), and the greedy
        sequence stops when no rung left has one.
    weights : ``"task"`` (default): each task's draws are weighted by that task's observations
        of the rung (and its step-1 law's); ``"joint"``: by all tasks' together, which also
        credits what the rung says about the pooled exponents and slopes, at the cost of far
        fewer effective draws (the weights degenerate T times faster).
    null : correct each outcome's width for the finite effective sample of its weights (default):
        the weighted quantiles of an effective sample of size ESS are narrower than the
        distribution's by themselves; the same weights shuffled over the draws (as degenerate,
        blind to the target) measure that bias, and the expected width is the unweighted width
        minus (shuffled - weighted). ``width_90_expected_raw`` keeps the uncorrected width.

    Returns
    -------
    :class:`DesignResult` (``table``, ``ranking``, ``greedy``). Warns with
    :class:`DesignWarning` where the weights degenerated (median ESS < 20 or Pareto k > 0.7):
    those expected widths are too optimistic.
    """
    tg, tasks = _check_inputs(fit, target, tasks)
    cands = as_candidates(candidates)
    if not 0 < level < 100:
        raise LadderDataError(f"design: level must be in (0, 100), got {level!r}")
    if int(outcomes) < 2 or int(max_draws) < 10:
        raise LadderDataError(f"design: need outcomes >= 2 and max_draws >= 10, got {outcomes!r} and {max_draws!r}")
    seed = fit.config.seed if seed is None else int(seed)
    if weights not in ("task", "joint"):
        raise LadderDataError(f"design: weights must be 'task' or 'joint', got {weights!r}")
    ctx = _Context(fit, tg, tasks, data, int(outcomes), int(max_draws), seed, level, psis, bool(null), weights)
    lls, rows, spread = _score_candidates(ctx, cands)
    table, ranking, rename = _design_tables(rows, spread, float(min_reduction), level)
    bad = ranking.loc[~ranking["reliable"], "candidate"].tolist()
    if bad:
        warnings.warn(
            f"design: the importance weights degenerated (median ESS < {LOW_ESS:g} or Pareto k > 0.7) for "
            f"{', '.join(bad)}: their expected widths are too optimistic; check with a refit or more draws",
            DesignWarning, stacklevel=2,
        )
    result = DesignResult(table=table, ranking=ranking, target=ctx.target, ladder_flops=ctx.ladder_flops, level=level)
    if greedy_steps:
        result.greedy = _greedy(ctx, cands, lls, int(greedy_steps), float(min_reduction))
        result.greedy = result.greedy.rename(columns=rename)
    return result


def _score_candidates(ctx: _Context, cands: pd.DataFrame) -> tuple[dict, list[dict], dict]:
    """Each candidate's log-likelihood (with its x, z), its rows per task, and its per-outcome width spread."""
    lls, rows, spread = {}, [], {}
    for i, c in enumerate(cands.itertuples(index=False)):
        cx, cz = ctx.xz(c.N, c.D)
        ll = ctx.loglik(cx, cz, i)
        lls[c.candidate] = (ll, cx, cz)
        edge = np.vstack([ladder_points(ctx.md), [cx, cz]])
        ev = ctx.evaluate(ll, edge)
        flops = float(_flops(ctx.coef, c.N, c.D))
        per_outcome = ev["width"].mean(1)  # one real run gives one of these: their spread
        spread[c.candidate] = (per_outcome.std(ddof=1), *np.percentile(per_outcome, [5, 95]))
        for ti, task in enumerate(ctx.tasks):
            t_full = ctx.task_idx[ti]
            we = ev["width"][:, ti]
            rows.append({
                "candidate": c.candidate, "N": c.N, "D": c.D, "flops": flops, "task": task,
                "width_now": ctx.width_now[t_full], "width_expected": we.mean(),
                "width_expected_raw": ev["width_raw"][:, ti].mean(),
                "width_expected_se": we.std(ddof=1) / np.sqrt(len(we)),
                "mae_now": ctx.mae_now[t_full], "mae_expected": ev["mae"][:, ti].mean(),
                "ess": float(np.median(ev["ess"][:, ti])), "pareto_k": float(np.nanmedian(ev["k"][:, ti]))
                if np.isfinite(ev["k"][:, ti]).any() else np.nan,
                "distance_now": ctx.target_draws.distance(ladder_points(ctx.md)),
                "distance_after": ctx.target_draws.distance(edge),
            })  # fmt: skip
    return lls, rows, spread


def _design_tables(
    rows: list[dict], spread: dict, min_reduction: float, level: float
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, str]]:
    """The per-task table and the ranking (widths named by ``level``), and that renaming of the columns."""
    table = pd.DataFrame(rows)
    table["reduction"] = table["width_now"] - table["width_expected"]
    table["reduction_per_eflop"] = table["reduction"] / (table["flops"] / 1e18)
    table["reliable"] = (table["ess"] >= LOW_ESS) & ~(table["pareto_k"] > 0.7)
    ranking = _ranking(table, min_reduction)
    sp = pd.DataFrame(spread, index=["width_outcome_sd", "width_outcome_5", "width_outcome_95"]).T
    ranking = ranking.merge(sp, left_on="candidate", right_index=True)
    table = table.merge(ranking[["candidate", "rank"]], on="candidate").sort_values(["rank", "task"])
    first = ["candidate", "N", "D", "flops", "task", "width_now", "width_expected", "reduction_per_eflop"]
    table = table[first + [c for c in table.columns if c not in first]]
    lab = f"{level:g}"
    rename = {"width_now": f"width_{lab}_now", "width_expected": f"width_{lab}_expected",
              "width_expected_se": f"width_{lab}_expected_se", "width_expected_raw": f"width_{lab}_expected_raw",
              "width_outcome_sd": f"width_{lab}_outcome_sd", "width_outcome_5": f"width_{lab}_outcome_5",
              "width_outcome_95": f"width_{lab}_outcome_95"}
    table = table.rename(columns=rename).reset_index(drop=True)
    ranking = ranking.rename(columns=rename)
    return table, ranking, rename

def _ranking(table: pd.DataFrame, min_reduction: float) -> pd.DataFrame:
    g = table.groupby("candidate", sort=False)
    out = g.agg(N=("N", "first"), D=("D", "first"), flops=("flops", "first"), width_now=("width_now", "mean"),
                width_expected=("width_expected", "mean"), width_expected_raw=("width_expected_raw", "mean"),
                mae_now=("mae_now", "mean"),
                mae_expected=("mae_expected", "mean"), ess=("ess", "min"), pareto_k=("pareto_k", "max"),
                reliable=("reliable", "all"), distance_now=("distance_now", "first"),
                distance_after=("distance_after", "first")).reset_index()  # fmt: skip
    n = g.size().to_numpy()
    out["width_expected_se"] = np.sqrt(g["width_expected_se"].apply(lambda s: (s**2).sum()).to_numpy()) / n
    out["reduction"] = out["width_now"] - out["width_expected"]
    out["reduction_per_eflop"] = out["reduction"] / (out["flops"] / 1e18)

    def helped(s: pd.DataFrame) -> str:
        good = s[(s["reduction"] > 2 * s["width_expected_se"]) & (s["reduction"] > 0.02 * s["width_now"])]
        return ",".join(good.sort_values("reduction", ascending=False)["task"])

    out["tasks_helped"] = [helped(table[table["candidate"] == c]) for c in out["candidate"]]
    out["detectable"] = (out["reduction"] > 2 * out["width_expected_se"]) & (
        out["reduction"] > min_reduction * out["width_now"])
    out = out.sort_values(["detectable", "reduction_per_eflop"], ascending=False).reset_index(drop=True)
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return out


def _greedy(ctx: _Context, cands: pd.DataFrame, lls: dict, steps: int, min_reduction: float) -> pd.DataFrame:
    """The greedy sequence: each step adds the rung with the largest expected reduction per FLOP
    of the mean width, given the rungs chosen before it (their outcomes drawn jointly), among
    those whose reduction is detectable (> ``min_reduction`` of the current width and 2 SE);
    it stops early when none is."""
    md = ctx.md
    chosen: list[str] = []
    total = np.zeros_like(next(iter(lls.values()))[0])
    total[ctx.gen_idx, np.arange(ctx.J), :] = -np.inf
    edge = ladder_points(md)
    cum = ctx.ladder_flops
    width = float(ctx.width_now[ctx.task_idx].mean())
    rows = [{"step": 0, "candidate": "(current ladder)", "N": np.nan, "D": np.nan, "flops": 0.0,
             "cumulative_flops": cum, "share_of_target": cum / ctx.target["flops"], "width_expected": width,
             "mae_expected": float(ctx.mae_now[ctx.task_idx].mean()), "ess": float(len(total)),
             "distance": ctx.target_draws.distance(edge)}]  # fmt: skip
    by_name = cands.set_index("candidate")
    for step in range(1, min(steps, len(cands)) + 1):
        best = None
        for name in by_name.index:
            if name in chosen:
                continue
            ll, cx, cz = lls[name]
            e = np.vstack([edge, [cx, cz]])
            ev = ctx.evaluate(total + ll, e, psis=False)
            per_outcome = ev["width"].mean(1)
            w = float(per_outcome.mean())
            se = float(per_outcome.std(ddof=1) / np.sqrt(len(per_outcome)))
            if width - w <= max(2 * se, min_reduction * width):
                continue
            flops = float(_flops(ctx.coef, by_name.loc[name, "N"], by_name.loc[name, "D"]))
            gain = (width - w) / flops
            if best is None or gain > best[0]:
                best = (gain, name, w, e, ev, flops)
        if best is None:  # no rung left narrows the interval detectably: stop
            break
        gain, name, w, e, ev, flops = best
        chosen.append(name)
        total = total + lls[name][0]
        edge, width, cum = e, w, cum + flops
        rows.append({"step": step, "candidate": name, "N": by_name.loc[name, "N"], "D": by_name.loc[name, "D"],
                     "flops": flops, "cumulative_flops": cum, "share_of_target": cum / ctx.target["flops"],
                     "width_expected": w, "mae_expected": float(ev["mae"].mean()),
                     "ess": float(np.median(ev["ess"])), "distance": ctx.target_draws.distance(edge)})  # fmt: skip
    return pd.DataFrame(rows)


def greedy_design(fit, target="7B-4T", candidates=None, steps: int = 5, **options) -> pd.DataFrame:
    """The stopping view: the greedy sequence of recommended rungs, and after each the expected
    width at the target (mean over tasks) against the ladder's cumulative compute, as a share
    of the target's (``share_of_target``). Options as :func:`design`."""
    return design(fit, target, candidates, greedy_steps=steps, **options).greedy
