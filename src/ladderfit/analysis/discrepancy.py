r"""The model-discrepancy scale gamma, calibrated on nested hold-outs.

A scaling law fitted on a ladder is wrong in ways the ladder cannot show: the further a target
lies beyond it, the larger the error of the law itself. The model carries this as a
discrepancy on the logit scale that grows with the distance d of the target beyond the
ladder's largest N and D (Euclidean, in log N and log D):

.. math::

    u^* = u_t(L^*) + \gamma\, d^p\, \varepsilon,\qquad \varepsilon \sim \mathcal N(0, 1),

(:mod:`ladderfit.model.joint`). The ladder's own runs say nothing about gamma or p, so they
are calibrated on hold-outs *inside* a ladder, where the truth is known: fit on a sub-ladder,
predict the held-out runs with each (p, gamma) of a grid, score each prediction by its
continuous ranked probability score (CRPS, a proper score: it rewards calibration and
sharpness together), and take the pair with the best total score. The uncertainty of gamma
comes from a cluster bootstrap over (hold-out, task) — the predictions of one task in one
hold-out share a fit and are not independent — and becomes the LogNormal prior the model
draws gamma from; p is kept fixed.

The posterior does not depend on gamma (it enters the prediction only), so each hold-out is
fitted once and its predictive draws re-used for the whole grid (:func:`crps_by_gamma`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import LadderDataError

__all__ = ["GAMMA_GRID", "POWERS", "DiscrepancyEstimate", "crps", "crps_by_gamma", "estimate_discrepancy", "pair_index"]

#: The gammas tried (logit units per unit of d^p): 0 and 0.01-1, log-spaced.
GAMMA_GRID: np.ndarray = np.r_[0.0, np.geomspace(0.01, 1.0, 25)]
#: The powers of the distance tried: the discrepancy's sd grows like d^p.
POWERS: tuple[float, ...] = (0.5, 1.0, 1.5, 2.0)

#: The smallest log-sd of gamma's prior (a bootstrap that always picks one grid point).
MIN_LOG_SD = 0.15


def crps(draws: np.ndarray, y: np.ndarray) -> np.ndarray:
    r"""CRPS of sample forecasts: ``E|X - y| - E|X - X'| / 2`` per column.

    ``draws`` is (samples, pairs), ``y`` (pairs,); lower is better, in the units of y. The second
    term uses the sorted-sample identity ``E|X - X'| = 2 / S^2 sum_i (2 i - S - 1) x_(i)``.
    """
    x = np.sort(np.asarray(draws, float), axis=0)
    S = x.shape[0]
    term1 = np.mean(np.abs(x - np.asarray(y, float)[None, :]), axis=0)
    w = (2 * np.arange(1, S + 1) - S - 1)[:, None]
    term2 = np.sum(w * x, axis=0) / S**2
    return term1 - term2


def pair_index(truth: pd.DataFrame, targets: pd.DataFrame, tasks) -> tuple[np.ndarray, np.ndarray]:
    """Where each (run, task) row of ``truth`` sits in predictive draws (samples, target, task):
    its target index (by ``targets["target"]``, the run names) and task index (by ``tasks``)."""
    k_idx = {t: j for j, t in enumerate(tasks)}
    missing = sorted(set(truth["task"]) - set(k_idx))
    if missing:
        raise LadderDataError(f"truth has task(s) {missing} the fit does not know")
    t_idx = {r: i for i, r in enumerate(targets["target"])}
    return truth["run"].map(t_idx).to_numpy(), truth["task"].map(k_idx).to_numpy()


def crps_by_gamma(fit, truth: pd.DataFrame, grid=GAMMA_GRID, seed: int = 0, powers=POWERS) -> np.ndarray:
    """CRPS of each (run, task) row of ``truth`` (columns ``run, task, N, D, actual``) for each
    power p of ``powers`` and gamma of ``grid``: an array (rows, powers, gammas).

    One predictive pass (at gamma = 1, p = 1) gives every pair: with the same draws of the
    curve's logit u, the discrepancy's epsilon and the evaluation noise, the accuracy is
    ``clip(f + (1 - f) sigmoid(u + gamma d^p epsilon) + noise, 0, 1)``; so differences between
    the pairs are not Monte Carlo noise.
    """
    from .backtest import truth_targets

    targets = truth_targets(truth)
    ti, kj = pair_index(truth, targets, fit.tasks)
    draws = fit.predictive_draws(targets, seed=seed, discrepancy={"discrepancy": ("Fixed", (1.0,)),
                                                                  "discrepancy_power": ("Fixed", (1.0,))})
    x, z = fit.model_data.target_xz(targets)
    d = np.asarray(fit.model_data.distance_beyond(x, z))[ti]
    eps = draws["discrepancy_draw"][:, ti, kj]
    u_curve = draws["logit"][:, ti, kj] - d * eps
    noise = draws["accuracy_raw"][:, ti, kj] - draws["accuracy_mean"][:, ti, kj]
    floor = draws["floor"][:, kj]  # (samples, task)
    y = truth["actual"].to_numpy(float)
    out = np.empty((len(truth), len(powers), len(grid)))
    for i, power in enumerate(powers):
        for g, gamma in enumerate(grid):
            acc = np.clip(floor + (1 - floor) / (1 + np.exp(-(u_curve + gamma * d**power * eps))) + noise, 0.0, 1.0)
            out[:, i, g] = crps(acc, y)
    return out


@dataclass(frozen=True)
class DiscrepancyEstimate:
    """(p, gamma) with the bootstrap uncertainty of gamma, and the score curve it came from."""

    gamma: float  # the best gamma on the grid (total CRPS), at the best power
    power: float  # the best power p of the distance
    log_sd: float  # sd of log gamma over cluster-bootstrap resamples at that power (>= MIN_LOG_SD)
    lower_90: float  # 5% and 95% bootstrap quantiles of gamma
    upper_90: float
    grid: tuple[float, ...]
    mean_crps: tuple[float, ...]  # mean CRPS (accuracy points) per gamma of the grid, at that power
    n_pairs: int
    n_clusters: int

    @property
    def prior(self) -> tuple[str, tuple[float, float]]:
        """The LogNormal prior of gamma that this estimate makes."""
        return ("LogNormal", (float(np.log(max(self.gamma, GAMMA_GRID[1]))), float(self.log_sd)))

    @property
    def priors(self) -> dict:
        """Both priors, for ``fit(priors=...)`` or ``predict(discrepancy=...)``."""
        return {"discrepancy": self.prior, "discrepancy_power": ("Fixed", (float(self.power),))}

    def __str__(self) -> str:
        return (
            f"gamma = {self.gamma:.3f} x d^{self.power:g} (90% bootstrap interval {self.lower_90:.3f}-"
            f"{self.upper_90:.3f}; log-sd {self.log_sd:.2f}) from {self.n_pairs} pairs in {self.n_clusters} "
            "(hold-out, task) clusters"
        )


def estimate_discrepancy(scores: np.ndarray, clusters, grid=GAMMA_GRID, n_boot: int = 500, seed: int = 0,
                         powers=POWERS) -> DiscrepancyEstimate:  # fmt: skip
    """The (power, gamma) with the lowest total CRPS, and the cluster-bootstrap spread of gamma.

    ``scores`` is (pairs, powers, gammas) from :func:`crps_by_gamma` (stacked over hold-outs),
    or (pairs, gammas) for one power (``powers`` of length 1); ``clusters`` labels each pair
    (e.g. ``holdout/task``). Resampling clusters with replacement, the best gamma of each
    resample at the chosen power gives the spread of log gamma (gammas of 0 count as the
    grid's smallest positive value).
    """
    scores = np.asarray(scores, float)
    grid, powers = np.asarray(grid, float), tuple(float(p) for p in powers)
    if scores.ndim == 2 and len(powers) == 1:
        scores = scores[:, None, :]
    if scores.ndim != 3 or scores.shape[1:] != (len(powers), len(grid)) or len(scores) == 0:
        raise LadderDataError(f"scores must be (pairs, {len(powers)} powers, {len(grid)} gammas) with at least one pair, "
                              f"got {scores.shape}")  # fmt: skip
    labels, cl = np.unique(np.asarray(clusters).astype(str), return_inverse=True)
    sums = np.zeros((len(labels), len(powers), len(grid)))
    np.add.at(sums, cl, scores)
    i, best = np.unravel_index(int(np.argmin(sums.sum(0))), sums.shape[1:])
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(labels), size=(n_boot, len(labels)))
    boot = grid[np.argmin(sums[:, i, :][picks].sum(1), axis=1)]
    floor = grid[grid > 0].min()
    log_boot = np.log(np.maximum(boot, floor))
    return DiscrepancyEstimate(
        gamma=float(grid[best]),
        power=powers[i],
        log_sd=float(max(np.std(log_boot), MIN_LOG_SD)),
        lower_90=float(np.quantile(boot, 0.05)),
        upper_90=float(np.quantile(boot, 0.95)),
        grid=tuple(float(g) for g in grid),
        mean_crps=tuple(float(v) for v in 100 * scores[:, i, :].mean(0)),
        n_pairs=int(len(scores)),
        n_clusters=int(len(labels)),
    )
