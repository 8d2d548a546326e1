"""Importance weights and what they give: the weights Pareto-smoothed (their ESS and
Pareto k), weighted quantiles, and per outcome the width of a central interval, its median
and the expected absolute error of the median."""

from __future__ import annotations

import warnings

import numpy as np

__all__ = ["weighted_quantile", "smoothed_weights", "interval_stats"]


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


def smoothed_weights(log_w: np.ndarray, psis: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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


def interval_stats(acc: np.ndarray, w: np.ndarray, level: float):
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


