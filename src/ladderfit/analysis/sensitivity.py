"""Prior sensitivity: how much do the predictions at the targets lean on a prior?

For each named prior, :func:`prior_sensitivity` refits the model with the prior's scale
(the second parameter of its Normal or LogNormal: the sd, or the sd of the log) multiplied
by ``factor`` ("wider") and divided by it ("narrower"), with the same data, sampler settings
and seed, and reports how the targets' posterior predictive median and 90% interval move
against the fit with the priors as given. A prediction that moves by a sizeable fraction of
its interval's width when a weakly informative prior is made twice as wide or narrow leans on
that prior: the ladder does not pin it down.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from ..data.readers import read_data
from ..data.targets import as_targets
from ..model.bayes import fit as fit_model
from ..model.priors import resolve_priors

__all__ = ["prior_sensitivity", "SCALE_PARAMETER"]

#: Position of the scale parameter of each prior family.
SCALE_PARAMETER: dict[str, int] = {"Normal": 1, "LogNormal": 1}

DIRECTIONS = ("wider", "narrower")


def _scaled(priors: dict, name: str, multiplier: float) -> tuple[str, tuple[float, ...]]:
    if name not in priors:
        raise KeyError(f"unknown prior {name!r}; known priors: {', '.join(priors)}")
    family, params = priors[name]
    if family not in SCALE_PARAMETER:
        raise ValueError(f"prior {name!r} is {family}: it has no scale parameter to vary")
    i = SCALE_PARAMETER[family]
    return family, tuple(p * multiplier if j == i else p for j, p in enumerate(params))


def _interval(fit, targets, quantity: str) -> pd.DataFrame:
    pred = fit.predict(targets, levels=(90,))
    pred = pred[pred["quantity"] == quantity]
    return pred[["target", "task", "median", "lower_90", "upper_90"]].reset_index(drop=True)


def prior_sensitivity(
    data=None,
    names: Sequence[str] = ("alpha_mu", "beta_mu", "k_mu", "slope_N", "slope_D"),
    factor: float = 2.0,
    targets=("7B-4T",),
    fit_options: Mapping | None = None,
    priors: Mapping | None = None,
    quantity: str = "accuracy",
) -> pd.DataFrame:
    """Refit with each named prior's scale multiplied and divided by ``factor``.

    Parameters
    ----------
    data : what :func:`ladderfit.fit` reads (``None``: the bundled ladder, the paper's 16 runs).
    names : priors of :data:`~ladderfit.model.priors.DEFAULT_PRIORS` with a scale (Normal or
        LogNormal); each costs two fits.
    factor : the scale's multiplier (> 1).
    targets : where to predict (:func:`~ladderfit.data.targets.as_targets`).
    fit_options : keywords of :func:`ladderfit.fit` (``tasks``, ``chains``, ``warmup``,
        ``draws``, ``seed``, ``model`` ...), the same for every fit.
    priors : overrides of the defaults that every fit uses; the named prior is varied around them.
    quantity : ``"accuracy"`` or ``"task_loss"``.

    Returns
    -------
    One row per (prior, direction, target, task): ``prior, direction`` (``wider``/``narrower``),
    ``scale`` and ``base_scale``, ``target, task``, the refit's ``median, lower_90, upper_90``,
    the base fit's ``base_median, base_lower_90, base_upper_90``, ``median_shift`` (refit minus
    base), ``shift_in_widths`` (the shift over the base 90% width), ``width_ratio`` (of the 90%
    widths) and ``converged`` (the refit's sampler diagnostics).
    """
    if factor <= 1:
        raise ValueError(f"factor must be > 1, got {factor!r}")
    names = [names] if isinstance(names, str) else list(names)
    options = dict(fit_options or {})
    options.pop("priors", None)
    given = dict(priors or {})
    resolved = resolve_priors(given)
    for name in names:
        _scaled(resolved, name, factor)  # fail early on a prior without a scale
    if isinstance(targets, tuple) and all(isinstance(t, str) for t in targets):
        targets = list(targets)  # names (a 3-tuple would read as one (name, N, D))
    targets = as_targets(targets)
    df = read_data(data)
    base = _interval(fit_model(df, priors=given, **options), targets, quantity)
    base = base.rename(columns={c: f"base_{c}" for c in ("median", "lower_90", "upper_90")})
    tables = []
    for name in names:
        for direction, multiplier in zip(DIRECTIONS, (factor, 1 / factor)):
            family, params = _scaled(resolved, name, multiplier)
            refit = fit_model(df, priors={**given, name: (family, params)}, **options)
            t = _interval(refit, targets, quantity).merge(base, on=["target", "task"])
            i = SCALE_PARAMETER[family]
            t.insert(0, "prior", name)
            t.insert(1, "direction", direction)
            t.insert(2, "scale", params[i])
            t.insert(3, "base_scale", resolved[name][1][i])
            width = t["base_upper_90"] - t["base_lower_90"]
            t["median_shift"] = t["median"] - t["base_median"]
            t["shift_in_widths"] = t["median_shift"] / width
            t["width_ratio"] = (t["upper_90"] - t["lower_90"]) / width
            t["converged"] = bool(refit.converged)
            tables.append(t)
    return pd.concat(tables, ignore_index=True)
