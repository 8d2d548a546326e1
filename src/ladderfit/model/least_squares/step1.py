"""Step 1 of the paper's fit: the task-loss law ``L = E + A / N**alpha + B / D**beta`` (compute:
``E + A / C**alpha``) on normalized log inputs, its Jacobian, the Huber objective on log
residuals, bounds and starts, one L-BFGS-B run, and the parameters in raw units.

L = E + exp(la) e^{-alpha x} [+ exp(lb) e^{-beta z}], x = log(N / N_ref), z = log(D / D_ref)
(compute: x = log(C / C_ref), one term); A = exp(la) N_ref**alpha in raw units.
theta = (E, la, alpha[, lb, beta]).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from .. import curves

__all__ = ["HUBER_DELTA", "step1_loss", "step1_starts", "step1_fit_from", "step1_params", "log_inputs"]


#: Huber loss's delta on the log residuals of step 1 (the paper's 1e-3).
HUBER_DELTA = 1e-3


def step1_loss(theta, X):
    """Step 1's loss at the normalized log inputs X (n x 1 for compute, n x 2 for (N, D))."""
    if X.shape[1] == 1:  # compute: L = E + a e^{-alpha x}, the second term absent
        return curves.scaling_law_centred(X[:, 0], 0.0, theta[0], np.exp(theta[1]), theta[2], 0.0, 0.0)
    return curves.scaling_law_centred(X[:, 0], X[:, 1], theta[0], np.exp(theta[1]), theta[2],
                                      np.exp(theta[3]), theta[4])


def _step1_jacobian(theta, X):
    """d L / d theta (n x p): 1 for E; t and -x t for (la, alpha), t = exp(la) e^{-alpha x}."""
    jac = np.zeros((X.shape[0], len(theta)))
    jac[:, 0] = 1.0
    for j in range(X.shape[1]):
        t = np.exp(theta[1 + 2 * j]) * np.exp(-theta[2 + 2 * j] * X[:, j])
        jac[:, 1 + 2 * j] = t
        jac[:, 2 + 2 * j] = -X[:, j] * t
    return jac


def _huber(r, delta):
    a = np.abs(r)
    return np.where(a <= delta, 0.5 * r**2, delta * (a - 0.5 * delta))


def _step1_objective(theta, X, logy, delta):
    """Huber loss of the log residuals ``log L - log y`` and its gradient, both divided by
    delta**2 (same minimizer, better scaled)."""
    pred = np.maximum(step1_loss(theta, X), 1e-300)
    r = np.log(pred) - logy
    f = _huber(r, delta).sum() / delta**2
    g = (np.clip(r, -delta, delta) / pred) @ _step1_jacobian(theta, X) / delta**2
    return f, g


def _step1_bounds(n_terms):
    return [(0.0, None)] + [(-50.0, 50.0), (0.0, 10.0)] * n_terms


def step1_starts(y, n_terms, n_starts, rng):
    ymin, ymean = float(np.min(y)), float(np.mean(y))
    E0 = 0.5 * ymin
    starts = [np.array([E0] + [np.log(max(ymean - E0, 1e-6) / n_terms), 0.3] * n_terms)]
    for _ in range(n_starts - 1):
        th = [rng.uniform(0.0, 0.95 * ymin)]
        for _ in range(n_terms):
            th += [np.log(ymean) + rng.uniform(-4.0, 1.0), rng.uniform(0.0, 1.5)]
        starts.append(np.array(th))
    return starts


def step1_fit_from(theta0, X, logy, delta):
    """One L-BFGS-B run from theta0: (theta, Huber objective, converged)."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        res = minimize(
            _step1_objective, theta0, args=(X, logy, delta), jac=True, method="L-BFGS-B",
            bounds=_step1_bounds((len(theta0) - 1) // 2),
            options={"maxiter": 3000, "ftol": 1e-14, "gtol": 1e-9},
        )
    obj = float(res.fun) * delta**2
    return res.x, obj, bool(res.success) and np.isfinite(obj)


def log_inputs(frame: pd.DataFrame, structure: str, refs: dict) -> np.ndarray:
    """Step 1's normalized inputs: ``log(C / C_ref)`` (n x 1) for compute, else
    ``log(N / N_ref), log(D / D_ref)`` (n x 2)."""
    if structure == "compute":
        return np.log(frame["flops"].to_numpy(float) / refs["C_ref"])[:, None]
    return np.column_stack([
        np.log(frame["N"].to_numpy(float) / refs["N_ref"]),
        np.log(frame["D"].to_numpy(float) / refs["D_ref"]),
    ])


def step1_params(task, theta, structure, refs) -> list[tuple]:
    """Step 1's parameter rows in raw units (A = exp(la) N_ref**alpha, ...)."""
    if structure == "compute":
        values = (("E", theta[0]), ("A", np.exp(theta[1]) * refs["C_ref"] ** theta[2]), ("alpha", theta[2]))
    else:
        values = (("E", theta[0]), ("A", np.exp(theta[1]) * refs["N_ref"] ** theta[2]), ("alpha", theta[2]),
                  ("B", np.exp(theta[3]) * refs["D_ref"] ** theta[4]), ("beta", theta[4]))
    return [(task, "step1", name, float(v)) for name, v in values]

