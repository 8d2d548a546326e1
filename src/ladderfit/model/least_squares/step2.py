"""Step 2 of the paper's fit: accuracy from task loss, ``acc = a / (1 + exp(-k (L - L0))) + b``,
its Jacobian, bounds and starts.

acc = a sigmoid(kn (xn - L0n)) + b, xn = L / L_ref; k = kn / L_ref, L0 = L0n L_ref, fitted as
theta = (f, b, kn, L0n) with a = (1 - b) f, f in [0, 1], so a + b <= 1.
"""

from __future__ import annotations

import numpy as np

from .. import curves

__all__ = ["sigmoid_eval", "sigmoid_bounds", "sigmoid_starts"]


def sigmoid_eval(theta, xn):
    """Step 2's accuracy at normalized losses xn and its Jacobian (n x 4) in theta.

    The paper's ``a / (1 + e^{-k (L - L0)}) + b`` has a free upper asymptote a + b, so it is
    ``a * curves.sigmoid(.) + b``, not ``curves.accuracy_from_loss`` (which has a + b = 1).
    """
    f, b, kn, L0n = theta
    a = (1.0 - b) * f
    s = curves.sigmoid(kn * (xn - L0n))
    val = a * s + b
    ds = s * (1.0 - s)
    jac = np.column_stack([(1.0 - b) * s, 1.0 - f * s, a * ds * (xn - L0n), -a * ds * kn])
    return val, jac


def sigmoid_bounds(chance):
    lo = [0.0, max(0.0, chance - 0.2), -100.0, -2.0]  # f = a / (1 - b), b, k L_ref, L0 / L_ref
    hi = [1.0, min(0.99, chance + 0.2), 0.0, 10.0]
    return lo, hi


def sigmoid_starts(xn, acc, chance, ideal, n_starts, rng):
    lo, hi = sigmoid_bounds(chance)
    b0 = float(np.clip(chance, lo[1], hi[1]))
    a0 = (1.0 - b0) if ideal else float(np.clip(np.max(acc) - b0 + 0.05, 0.05, 1.0 - b0))
    # Default start: with a, b fixed, logit((acc - b) / a) = k (x - L0) is linear in x.
    p = np.clip((acc - b0) / a0, 0.02, 0.98)
    slope, icpt = np.polyfit(xn, np.log(p / (1 - p)), 1) if np.ptp(xn) > 0 else (-1.0, 1.0)
    k0 = float(np.clip(slope, lo[2] + 1e-3, -1e-2))
    L00 = float(np.clip(-icpt / k0, lo[3] + 1e-3, hi[3] - 1e-3))
    starts = [np.array([a0 / (1.0 - b0), b0, k0, L00])]
    for _ in range(n_starts - 1):
        starts.append(np.array([
            rng.uniform(0.05, 1.0), rng.uniform(lo[1], hi[1]),
            -np.exp(rng.uniform(np.log(0.1), np.log(50.0))), rng.uniform(-1.0, 4.0),
        ]))
    return [np.clip(s, np.array(lo) + 1e-9, np.array(hi) - 1e-9) for s in starts]

