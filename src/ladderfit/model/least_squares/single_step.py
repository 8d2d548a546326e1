"""The single-step structure: accuracy straight from (N, D), the two laws composed with E = 0 and
k = -1 (only k (L - L0) is identified); its Jacobian, bounds and starts.

acc = a sigmoid(L0 - L(N, D)) + b, L = exp(la) e^{-alpha x} + exp(lb) e^{-beta z};
theta = (L0, la, alpha, lb, beta, f, b), a = (1 - b) f.
"""

from __future__ import annotations

import numpy as np

from .. import curves
from .step2 import sigmoid_bounds

__all__ = ["single_step_eval", "single_step_bounds", "single_step_starts"]


def single_step_eval(theta, X):
    """Accuracy and its Jacobian (n x 7). X: n x 2 normalized log N, log D; rows with inf are
    the ideal point (L = 0)."""
    L0, la, al, lb, be, f, b = theta
    a = (1.0 - b) * f
    ideal = ~np.isfinite(X[:, 0])
    Xf = np.where(ideal[:, None], 0.0, X)
    L = np.where(ideal, 0.0, curves.scaling_law_centred(Xf[:, 0], Xf[:, 1], 0.0, np.exp(la), al, np.exp(lb), be))
    s = curves.sigmoid(L0 - L)  # -k (L - L0) with k = -1
    val = a * s + b
    # Jacobian: the two terms of L, dL/d(la, alpha, lb, beta) = (tA, -x tA, tB, -z tB).
    tA = np.where(ideal, 0.0, np.exp(la) * np.exp(-al * Xf[:, 0]))
    tB = np.where(ideal, 0.0, np.exp(lb) * np.exp(-be * Xf[:, 1]))
    ds = a * s * (1.0 - s)
    jac = np.column_stack([ds, -ds * tA, ds * tA * Xf[:, 0], -ds * tB, ds * tB * Xf[:, 1], (1.0 - b) * s, 1.0 - f * s])
    return val, jac


def single_step_bounds(chance):
    lo_s, hi_s = sigmoid_bounds(chance)
    return [-50.0, -50.0, 0.0, -50.0, 0.0, lo_s[0], lo_s[1]], [50.0, 50.0, 10.0, 50.0, 10.0, hi_s[0], hi_s[1]]


def single_step_starts(acc, chance, ideal, n_starts, rng):
    lo, hi = single_step_bounds(chance)
    b0 = float(np.clip(chance, lo[6], hi[6]))
    f0 = 1.0 if ideal else float(np.clip((np.max(acc) - b0 + 0.05) / (1.0 - b0), 0.05, 1.0))
    starts = [np.array([0.0, 0.0, 0.3, 0.0, 0.3, f0, b0])]
    for _ in range(n_starts - 1):
        starts.append(np.array([
            rng.uniform(-3.0, 5.0), rng.uniform(-3.0, 2.0), rng.uniform(0.0, 1.5),
            rng.uniform(-3.0, 2.0), rng.uniform(0.0, 1.5), rng.uniform(0.05, 1.0), rng.uniform(lo[6], hi[6]),
        ]))
    return [np.clip(s, np.array(lo) + 1e-9, np.array(hi) - 1e-9) for s in starts]

