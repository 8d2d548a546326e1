"""The criterion: the expected width of the target's interval if a candidate were added.

:class:`TargetDraws` holds the target's accuracy draws with the discrepancy's distance beyond
the ladder as a free argument; :class:`DesignContext` holds what every candidate shares (the
posterior draws, the draws that simulate outcomes, the target's draws, the FLOPs) and turns a
candidate's log weights into its expected width, corrected for the weights' finite effective
sample by the shuffled null."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...model.geometry import hull_distance
from .ladder import flops_coef, ladder_points, ladder_runs, run_flops
from .outcomes import candidate_loglik
from .weights import interval_stats, smoothed_weights

__all__ = ["TargetDraws", "DesignContext"]


def _posterior_subsample(fit, max_draws: int) -> dict[str, np.ndarray]:
    samples = fit._posterior_samples()
    S = len(next(iter(samples.values())))
    idx = np.unique(np.linspace(0, S - 1, min(S, max_draws)).round().astype(int))
    return {k: v[idx] for k, v in samples.items()}


def _take(samples: dict, idx) -> dict:
    return {k: v[idx] for k, v in samples.items()}


class TargetDraws:
    """The target's accuracy draws with the discrepancy's distance as a free argument."""

    def __init__(self, fit, samples: dict, target: pd.DataFrame, seed: int):
        import jax
        from numpyro.infer import Predictive

        from ...model.joint import model_for

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


class DesignContext:
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
        self.target_draws = TargetDraws(fit, self.samples, target, seed + 1)
        self.task_idx = np.array([fit.tasks.index(t) for t in (tasks or fit.tasks)])
        self.tasks = [fit.tasks[i] for i in self.task_idx]
        self.coef = flops_coef(fit, data)
        self.runs = ladder_runs(fit, self.coef)
        self.ladder_flops = float(self.runs["flops"].sum())
        tg = target.iloc[0]
        tflops = float(tg["flops"]) if "flops" in target.columns and np.isfinite(tg.get("flops", np.nan)) else float(
            run_flops(self.coef, tg["N"], tg["D"]))
        self.target = {"target": str(tg["target"]), "N": float(tg["N"]), "D": float(tg["D"]), "flops": tflops}
        uniform = np.ones((S, 1, self.md.n_tasks))
        acc_now = self.target_draws.accuracy(ladder_points(self.md))
        width, _, mae = interval_stats(acc_now, uniform / S, level)
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
        w, ess, k = smoothed_weights(ll, self.psis if psis is None else psis)
        acc = self.target_draws.accuracy(edge)[:, self.task_idx]
        width, med, mae = interval_stats(acc, w, self.level)
        if not self.null:
            return {"width": width, "mae": mae, "ess": ess, "k": k, "width_raw": width}
        # the same weights, shuffled over the draws: as degenerate, but blind to the target.
        # A weighted quantile of an effective sample of size ESS is biased (narrow) by itself;
        # the null has that bias and no information, so the difference is the information's.
        S = len(acc)
        base_w, _, base_mae = interval_stats(acc, np.full((S, 1, acc.shape[1]), 1.0 / S), self.level)
        null_w, _, null_mae = interval_stats(acc, w[self.shuffle], self.level)
        return {"width": base_w - (null_w - width), "mae": base_mae - (null_mae - mae), "ess": ess, "k": k,
                "width_raw": width}


