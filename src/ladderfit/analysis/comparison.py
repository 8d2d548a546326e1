"""Compare Bayesian models by PSIS-LOO (ArviZ), where the comparison means something.

Only the step-2 observations (``acc_obs``: the accuracies of the intermediate checkpoints)
are comparable across models that share the data and preprocessing: the run-effects
model against the default, or one intermediate feature against another (the accuracies are
the same; the step-1 observations are not). Checkpoints of one run are correlated, so LOO
over checkpoints is optimistic about predicting a *new run*: treat it as a secondary measure
and the held-out-run backtest (:func:`ladderfit.analysis.backtest.backtest`) as the primary one.
"""

from __future__ import annotations

from collections.abc import Mapping

import arviz as az
import numpy as np
import pandas as pd

from ..errors import LadderDataError

__all__ = ["compare"]


def compare(fits: Mapping[str, object], var_name: str = "acc_obs", ic: str = "loo") -> pd.DataFrame:
    """``arviz.compare`` of fits (name -> LadderFit) on the pointwise log likelihood of ``var_name``.

    Raises :class:`LadderDataError` when the fits did not see the same observations.
    """
    if len(fits) < 2:
        raise LadderDataError("compare: give at least two fits")
    ref_name, ref = next(iter(fits.items()))
    ref_obs = ref.idata.observed_data[var_name].values
    for name, fit in fits.items():
        obs = fit.idata.observed_data[var_name].values
        if obs.shape != ref_obs.shape or not np.allclose(obs, ref_obs):
            raise LadderDataError(
                f"compare: fit {name!r} saw other {var_name} observations than {ref_name!r} "
                "(different tasks, runs or preprocessing); PSIS-LOO cannot compare them"
            )
    return az.compare({name: fit.idata for name, fit in fits.items()}, ic=ic, var_name=var_name)
