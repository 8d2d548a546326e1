"""Multi-start: every fit runs from several starts (start 0 data-driven, the others random from a
generator seeded by the seed, the task and the stage), the best objective wins, and the
starts' agreement is recorded (see :mod:`ladderfit.model.least_squares`). Also one
trust-region-reflective least-squares run, the solver of step 2 and the single step.
"""

from __future__ import annotations

import zlib

import numpy as np
from scipy.optimize import least_squares

from ...errors import LadderDataError

__all__ = ["multistart", "least_squares_from", "task_rng"]


#: Starts agree when their objectives are within these tolerances and their predictions within 1%.
_OBJ_RTOL, _OBJ_ATOL, _PRED_RTOL = 1e-6, 1e-12, 0.01


def multistart(fit_from, starts, predict_ref):
    """Run every start; return the best theta and the agreement record."""
    results = [fit_from(s) for s in starts]
    conv = [(th, obj) for th, obj, ok in results if ok]
    pool = conv if conv else [(th, obj) for th, obj, _ in results if np.isfinite(obj)]
    if not pool:
        raise LadderDataError("every start of the least-squares fit failed (non-finite objective)")
    best_th, best_obj = min(pool, key=lambda t: t[1])
    best_pred = predict_ref(best_th)
    n_best = n_agree = 0
    preds = []
    for th, obj in conv:
        p = predict_ref(th)
        preds.append(p)
        if abs(obj - best_obj) <= _OBJ_RTOL * abs(best_obj) + _OBJ_ATOL:
            n_best += 1
            if np.all(np.abs(p - best_pred) <= _PRED_RTOL * np.abs(best_pred)):
                n_agree += 1
    nc = len(conv)
    spread = float(np.max(np.ptp(np.vstack(preds), axis=0))) if preds else 0.0
    record = {
        "n_starts": len(starts),
        "n_converged": nc,
        "frac_best_objective": n_best / nc if nc else 0.0,
        "agreement": n_agree / nc if nc else 0.0,
        "pred_spread": spread if np.isfinite(spread) else 0.0,
        "best_objective": best_obj,
    }
    return best_th, record


def least_squares_from(fun, theta0, lo, hi):
    """One trust-region-reflective run of ``fun(theta) -> (residuals, Jacobian)`` from theta0:
    (theta, sum of squared residuals, converged)."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        res = least_squares(
            lambda t: fun(t)[0], theta0, jac=lambda t: fun(t)[1], bounds=(lo, hi),
            method="trf", x_scale="jac", ftol=1e-12, xtol=1e-12, gtol=1e-12, max_nfev=500,
        )
    obj = float(np.sum(res.fun**2))
    return res.x, obj, bool(res.status > 0) and np.isfinite(obj)


def task_rng(seed: int, task: str, stage: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), zlib.crc32(task.encode()), stage])


