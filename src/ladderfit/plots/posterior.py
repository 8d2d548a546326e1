r"""Posterior draws of a fit's parameters and of its mean curves, for the figures.

The curves come from :mod:`ladderfit.model.curves`, evaluated on every posterior draw:

.. math::

    L(N, D) = E + A N^{-\alpha} + B D^{-\beta}

    \mathrm{acc}(L) = f + (1 - f)\,\mathrm{sigmoid}\big(u_c - k (L - \bar L)\big)

with :math:`\bar L` the fit's ``loss_centre`` and :math:`f` its fitted ``floor``. They are
mean curves (parameter uncertainty only); predictive intervals come from
:meth:`~ladderfit.model.results.LadderFit.predict`.
"""

from __future__ import annotations

import numpy as np

from ..model.curves import accuracy_from_logit, scaling_law

__all__ = ["posterior_draws", "loss_draws", "accuracy_draws"]


def posterior_draws(fit, name: str) -> np.ndarray:
    """Posterior draws of a per-task parameter, shape (samples, task) in the fit's task order."""
    da = fit.idata.posterior[name].stack(sample=("chain", "draw")).transpose("sample", "task")
    return np.asarray(da.sel(task=list(fit.tasks)).values, dtype=float)


def _column(fit, t: int, name: str) -> np.ndarray:
    """Draws of parameter ``name`` of task ``t`` as a column (samples, 1)."""
    return posterior_draws(fit, name)[:, t][:, None]


def loss_draws(fit, t: int, N, D) -> np.ndarray:
    """Mean task loss L(N, D) of task ``t`` per posterior draw: (samples, points); N, D are
    scalars or 1-d and broadcast together."""
    N, D = np.broadcast_arrays(np.asarray(N, float), np.asarray(D, float))
    E, A, alpha, B, beta = (_column(fit, t, v) for v in ("E", "A", "alpha", "B", "beta"))
    return scaling_law(N[None], D[None], E, A, alpha, B, beta)


def accuracy_draws(fit, t: int, loss) -> np.ndarray:
    """Mean accuracy of task ``t`` at task loss ``loss`` per posterior draw (no run effect):
    (samples, points)."""
    md = fit.model_data
    u = _column(fit, t, "logit_centre") - _column(fit, t, "k") * (np.asarray(loss, float)[None] - md.loss_centre[t])
    # fits without a fitted floor (none of today's structures) fall back to the chance level
    floor = _column(fit, t, "floor") if "floor" in fit.idata.posterior else md.chance[t]
    return accuracy_from_logit(u, floor)
