"""The task-loss interval: a residual bootstrap of step 1 (refits on log residuals resampled with
replacement, each started at the best fit), its losses at the targets, and the task-loss rows
of a prediction (bootstrap sd and percentile bounds, widened to hold the point).
"""

from __future__ import annotations

import numpy as np

from .step1 import HUBER_DELTA, step1_fit_from, step1_loss

__all__ = ["bootstrap_step1", "bootstrap_losses", "loss_rows"]


def bootstrap_step1(theta, X, logy, n_boot, rng) -> np.ndarray | None:
    """Residual bootstrap: ``n_boot`` refits from theta on ``log L + resampled log residuals``;
    the finite refits (n x p), or None if none."""
    pred = step1_loss(theta, X)
    res = logy - np.log(pred)
    boots = []
    for _ in range(n_boot):
        ly = np.log(pred) + res[rng.integers(0, len(res), len(res))]
        tb, ob, _ = step1_fit_from(theta, X, ly, HUBER_DELTA)
        if np.isfinite(ob) and np.all(np.isfinite(tb)):
            boots.append(tb)
    return np.array(boots) if boots else None


def bootstrap_losses(m, X) -> np.ndarray | None:
    """Step 1's loss at X under each bootstrap refit of a task's fits ``m``
    (:class:`~ladderfit.model.least_squares.task_fits.TaskModel`): (n_boot x n_targets), or None."""
    if m.s1_boot is None or not len(m.s1_boot):
        return None
    return np.vstack([m.loss(X, th) for th in m.s1_boot])


def loss_rows(base, L, boot, levels, names):
    """Task-loss rows: the point L, the bootstrap sd and percentile bounds widened to hold L."""
    sd = boot.std(axis=0, ddof=1) if boot is not None and len(boot) > 1 else np.zeros_like(L)
    r = base.assign(quantity="task_loss", mean=L, median=L, sd=sd)
    for lv, nm in zip(levels, names):
        if boot is None:
            lo, hi = L.copy(), L.copy()
        else:
            lo = np.percentile(boot, 50 - lv / 2, axis=0)
            hi = np.percentile(boot, 50 + lv / 2, axis=0)
        r[f"lower_{nm}"] = np.minimum(lo, L)
        r[f"upper_{nm}"] = np.maximum(hi, L)
    return r


