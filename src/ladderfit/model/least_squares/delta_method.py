"""The accuracy interval: the delta-method band of the fitted curve, ``sd = sqrt(g' C g)`` with
C = s^2 (J'J)^+ from the least-squares Jacobian at the optimum, and the accuracy rows of a
prediction (``point +- z sd``, clipped to [0, 1]).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

__all__ = ["delta_cov", "delta_sd", "acc_rows"]


def delta_cov(jac, resid, n_params):
    """s^2 (J'J)^+ with s^2 = RSS / max(n - p, 1); zeros if anything is not finite."""
    n = len(resid)
    s2 = float(np.sum(resid**2)) / max(n - n_params, 1)
    with np.errstate(all="ignore"):
        cov = s2 * np.linalg.pinv(jac.T @ jac)
    if not np.all(np.isfinite(cov)):
        cov = np.zeros((n_params, n_params))
    return cov


def delta_sd(grad, cov):
    """Delta-method sd ``sqrt(g' C g)`` per row of grad; 0 where not finite."""
    var = np.einsum("ij,jk,ik->i", grad, cov, grad)
    sd = np.sqrt(np.clip(var, 0.0, None))
    return np.where(np.isfinite(sd), sd, 0.0)


def acc_rows(base, val, sd, levels, names):
    """Accuracy rows: the point clipped to [0, 1] and normal bounds ``point +- z sd``."""
    point = np.clip(val, 0.0, 1.0)
    r = base.assign(quantity="accuracy", mean=point, median=point, sd=sd)
    for lv, nm in zip(levels, names):
        z = norm.ppf(0.5 + lv / 200)
        r[f"lower_{nm}"] = np.clip(point - z * sd, 0.0, 1.0)
        r[f"upper_{nm}"] = np.clip(point + z * sd, 0.0, 1.0)
    return r


