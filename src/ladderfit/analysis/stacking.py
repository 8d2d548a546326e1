r"""Bayesian stacking of model structures (Yao, Vehtari, Simpson & Gelman 2018).

Several structures (two-step, single-step, C4 loss) predict the same held-out runs; none is
best everywhere. Stacking weighs their predictive distributions to maximize the held-out
log score of the mixture,

.. math::

    \hat w = \arg\max_{w \in \Delta} \sum_i \log \sum_m w_m\, p_m(y_i),

with ``p_m(y_i)`` the predictive density of structure m at held-out truth y_i (from nested
hold-outs, never from the pairs the mixture is scored on). The densities come from the
predictive draws with a Gaussian kernel (:func:`log_density`).
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp, softmax

from ..errors import LadderDataError

__all__ = ["log_density", "stacking_weights", "mixture_draws"]


def log_density(draws: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Log predictive density of ``y`` (pairs,) under sample forecasts ``draws`` (samples, pairs):
    a Gaussian kernel density with Silverman's bandwidth per pair."""
    x = np.asarray(draws, float)
    S = x.shape[0]
    sd = np.std(x, axis=0)
    iqr = np.subtract(*np.quantile(x, [0.75, 0.25], axis=0))
    h = 0.9 * np.minimum(sd, iqr / 1.34).clip(1e-6) * S ** (-0.2)
    z = (np.asarray(y, float)[None, :] - x) / h
    return logsumexp(-0.5 * z**2, axis=0) - np.log(S * h * np.sqrt(2 * np.pi))


def stacking_weights(lpd: np.ndarray) -> np.ndarray:
    """Weights on the simplex maximizing the summed log score of the mixture; ``lpd`` is
    (pairs, models) of log predictive densities."""
    lpd = np.asarray(lpd, float)
    if lpd.ndim != 2 or lpd.shape[1] < 2 or not np.isfinite(lpd).all():
        raise LadderDataError(f"lpd must be a finite (pairs, models >= 2) array, got shape {lpd.shape}")
    K = lpd.shape[1]

    def loss(v):
        w = softmax(np.r_[0.0, v])
        return -np.sum(logsumexp(lpd + np.log(w)[None, :], axis=1))

    from scipy.optimize import minimize  # here: scipy.optimize adds ~0.4 s to every command's import

    res = minimize(loss, np.zeros(K - 1), method="BFGS")
    return softmax(np.r_[0.0, res.x])


def mixture_draws(draws: list[np.ndarray], weights, seed: int = 0) -> np.ndarray:
    """Draws of the mixture: each sample taken from model m with probability w_m (the models'
    draw arrays must share their shape)."""
    shapes = {np.shape(d) for d in draws}
    if len(shapes) != 1:
        raise LadderDataError(f"draws of the models differ in shape: {sorted(shapes)}")
    stack = np.stack(draws)  # (models, samples, ...)
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(draws), size=stack.shape[1], p=np.asarray(weights, float))
    return stack[pick, np.arange(stack.shape[1])]
