r"""The model-discrepancy scale gamma, calibrated on nested hold-outs.

A scaling law fitted on a ladder is wrong in ways the ladder cannot show: the further a target
lies beyond it, the larger the error of the law itself. The model carries this as a
discrepancy on the logit scale that grows with the distance d of the target beyond the
ladder's largest N and D (Euclidean, in log N and log D):

.. math::

    u^* = u_t(L^*) + d^p\,(\delta + \gamma\, \varepsilon),\qquad \varepsilon \sim \mathcal N(0, 1),

(:mod:`ladderfit.model.joint`): a spread gamma and a drift delta, the law's bias beyond the
ladder (on both bundled ladders, OLMo and Pythia, the laws fitted on sub-ladders predict the
larger runs low). The ladder's own runs say nothing about them, so they are calibrated on
hold-outs *inside* a ladder, where the truth is known: fit on a sub-ladder, predict the held-out
runs with each (p, delta, gamma) of a grid, score each prediction by its continuous ranked
probability score (CRPS, a proper score: it rewards calibration and sharpness together), and
take the setting with the best total score. The uncertainty of gamma comes from a bootstrap
over the held-out runs (pairs of one run share its truth, in every hold-out that predicts it)
and becomes the LogNormal prior the model draws gamma from; p and delta are kept fixed.

The posterior does not depend on gamma (it enters the prediction only), so each hold-out is
fitted once and its predictive draws re-used for the whole grid (:func:`crps_by_gamma`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit

from ..errors import LadderDataError

__all__ = ["GAMMA_GRID", "POWERS", "DRIFTS", "DiscrepancyEstimate", "PredictiveParts", "crps", "crps_by_gamma",
           "estimate_discrepancy", "pair_index", "predictive_parts"]

#: The gammas tried (logit units per unit of d^p): 0 and 0.01-1, log-spaced.
GAMMA_GRID: np.ndarray = np.r_[0.0, np.geomspace(0.01, 1.0, 25)]
#: The powers of the distance tried: the discrepancy's sd grows like d^p.
POWERS: tuple[float, ...] = (0.5, 1.0, 1.5, 2.0)
#: The drifts tried (logit units per unit of d^p): the discrepancy's mean, a bias of the law
#: beyond the ladder that the hold-outs can measure (positive: the truth lies above the curve).
DRIFTS: tuple[float, ...] = (-0.1, -0.05, 0.0, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3)

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


@dataclass(frozen=True)
class PredictiveParts:
    r"""The pieces of held-out accuracy draws that do not depend on the discrepancy.

    With the same draws of the curve's logit ``u`` (discrepancy removed), the discrepancy's
    epsilon and the evaluation noise, a setting (p, delta, gamma) gives the accuracy draws

    .. math:: \mathrm{clip}\big(f + (1 - f)\,\mathrm{sigmoid}(u + d^p(\delta + \gamma\varepsilon))
              + \text{noise},\ 0,\ 1\big),

    so settings are compared on the same Monte Carlo draws. Arrays are (samples, pairs).
    """

    u_curve: np.ndarray
    eps: np.ndarray
    noise: np.ndarray
    floor: np.ndarray
    distance: np.ndarray  # (pairs,)
    actual: np.ndarray  # (pairs,)

    def accuracy(self, power: float, drift: float, gamma, rows=slice(None)) -> np.ndarray:
        """Accuracy draws (samples, pairs) of ``rows``; ``gamma`` a number or one per sample."""
        g = np.asarray(gamma, float)
        g = g[:, None] if g.ndim == 1 else g
        dp = self.distance[rows] ** power
        u = self.u_curve[:, rows] + dp * (drift + g * self.eps[:, rows])
        floor = self.floor[:, rows]
        return np.clip(floor + (1 - floor) * expit(u) + self.noise[:, rows], 0.0, 1.0)  # expit: no overflow at large |u|


def predictive_parts(fit, truth: pd.DataFrame, seed: int = 0, max_samples: int | None = None) -> PredictiveParts:
    """:class:`PredictiveParts` of each (run, task) row of ``truth`` (``run, task, N, D, actual``):
    one predictive pass at gamma = 1, p = 1, no drift, of ``fit``; at most ``max_samples`` draws
    (evenly thinned)."""
    from .backtest import truth_targets

    targets = truth_targets(truth)
    ti, kj = pair_index(truth, targets, fit.tasks)
    unit = {"discrepancy": ("Fixed", (1.0,)), "discrepancy_power": ("Fixed", (1.0,)), "discrepancy_drift": ("Fixed", (0.0,))}
    draws = fit.predictive_draws(targets, seed=seed, discrepancy=unit)
    x, z = fit.model_data.target_xz(targets)
    d = np.asarray(fit.model_data.distance_beyond(x, z), float)[ti]
    S = draws["logit"].shape[0]
    keep = slice(None) if not max_samples or S <= max_samples else np.linspace(0, S - 1, max_samples).astype(int)
    eps = draws["discrepancy_draw"][keep][:, ti, kj]
    return PredictiveParts(
        u_curve=draws["logit"][keep][:, ti, kj] - d * eps,
        eps=eps,
        noise=(draws["accuracy_raw"] - draws["accuracy_mean"])[keep][:, ti, kj],
        floor=draws["floor"][keep][:, kj],
        distance=d,
        actual=truth["actual"].to_numpy(float),
    )


def crps_by_gamma(fit, truth: pd.DataFrame, grid=GAMMA_GRID, seed: int = 0, powers=POWERS, drifts=DRIFTS,
                  max_samples: int | None = 1000) -> np.ndarray:  # fmt: skip
    """CRPS of each (run, task) row of ``truth`` (columns ``run, task, N, D, actual``) for each
    power p of ``powers``, drift delta of ``drifts`` and gamma of ``grid``: an array
    (rows, powers, drifts, gammas), from one predictive pass (:func:`predictive_parts`), so
    differences between the settings are not Monte Carlo noise."""
    parts = predictive_parts(fit, truth, seed, max_samples)
    out = np.empty((len(parts.actual), len(powers), len(drifts), len(grid)))
    for i, power in enumerate(powers):
        for j, drift in enumerate(drifts):
            for g, gamma in enumerate(grid):
                out[:, i, j, g] = crps(parts.accuracy(power, drift, gamma), parts.actual)
    return out


@dataclass(frozen=True)
class DiscrepancyEstimate:
    """(p, delta, gamma) with the bootstrap uncertainty of gamma, and the score curve it came from."""

    gamma: float  # the best gamma on the grid (total CRPS), at the best power and drift
    power: float  # the best power p of the distance
    log_sd: float  # sd of log gamma over cluster-bootstrap resamples at that power (>= MIN_LOG_SD)
    lower_90: float  # 5% and 95% bootstrap quantiles of gamma
    upper_90: float
    grid: tuple[float, ...]
    mean_crps: tuple[float, ...]  # mean CRPS (accuracy points) per gamma of the grid, at that power
    n_pairs: int
    n_clusters: int
    drift: float = 0.0  # the best drift delta: the discrepancy's mean per unit of d^p

    @property
    def prior(self) -> tuple[str, tuple[float, float]]:
        """The LogNormal prior of gamma that this estimate makes."""
        return ("LogNormal", (float(np.log(max(self.gamma, GAMMA_GRID[1]))), float(self.log_sd)))

    @property
    def priors(self) -> dict:
        """Both priors, for ``fit(priors=...)`` or ``predict(discrepancy=...)``."""
        return {"discrepancy": self.prior, "discrepancy_power": ("Fixed", (float(self.power),)),
                "discrepancy_drift": ("Fixed", (float(self.drift),))}

    def __str__(self) -> str:
        return (
            f"logit shift d^{self.power:g} x ({self.drift:+.3f} + {self.gamma:.3f} eps): gamma = {self.gamma:.3f} "
            f"(90% bootstrap interval {self.lower_90:.3f}-{self.upper_90:.3f}; log-sd {self.log_sd:.2f}), "
            f"drift {self.drift:+.3f}, from {self.n_pairs} pairs in {self.n_clusters} clusters"
        )


def estimate_discrepancy(scores: np.ndarray, clusters, grid=GAMMA_GRID, n_boot: int = 500, seed: int = 0,
                         powers=POWERS, drifts=(0.0,)) -> DiscrepancyEstimate:  # fmt: skip
    """The (power, drift, gamma) with the lowest total CRPS, and the cluster-bootstrap spread of gamma.

    ``scores`` is (pairs, powers, drifts, gammas) from :func:`crps_by_gamma` (stacked over
    hold-outs), (pairs, powers, gammas) for no drift, or (pairs, gammas) for one power;
    ``clusters`` labels each pair (the held-out run: pairs of one run share its truth).
    Resampling clusters with replacement, the best gamma of each resample at the chosen power
    and drift gives the spread of log gamma (gammas of 0 count as the grid's smallest positive value).
    """
    scores = np.asarray(scores, float)
    grid, powers = np.asarray(grid, float), tuple(float(p) for p in powers)
    drifts = tuple(float(d) for d in drifts)
    if scores.ndim == 2 and len(powers) == 1:
        scores = scores[:, None, :]
    if scores.ndim == 3 and len(drifts) == 1:
        scores = scores[:, :, None, :]
    want = (len(powers), len(drifts), len(grid))
    if scores.ndim != 4 or scores.shape[1:] != want or len(scores) == 0:
        raise LadderDataError(f"scores must be (pairs, {want[0]} powers, {want[1]} drifts, {want[2]} gammas) with at "
                              f"least one pair, got {scores.shape}")  # fmt: skip
    labels, cl = np.unique(np.asarray(clusters).astype(str), return_inverse=True)
    sums = np.zeros((len(labels), *want))
    np.add.at(sums, cl, scores)
    i, j, best = np.unravel_index(int(np.argmin(sums.sum(0))), want)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(labels), size=(n_boot, len(labels)))
    boot = grid[np.argmin(sums[:, i, j, :][picks].sum(1), axis=1)]
    floor = grid[grid > 0].min()
    log_boot = np.log(np.maximum(boot, floor))
    return DiscrepancyEstimate(
        gamma=float(grid[best]),
        power=powers[i],
        log_sd=float(max(np.std(log_boot), MIN_LOG_SD)),
        lower_90=float(np.quantile(boot, 0.05)),
        upper_90=float(np.quantile(boot, 0.95)),
        grid=tuple(float(g) for g in grid),
        mean_crps=tuple(float(v) for v in 100 * scores[:, i, j, :].mean(0)),
        n_pairs=int(len(scores)),
        n_clusters=int(len(labels)),
        drift=drifts[j],
    )
