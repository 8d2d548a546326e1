"""The fitted ladder as the design sees it: its runs as points (whose hull the target's
distance is measured from), and the FLOPs of its runs and of a candidate, by the ladder's
FLOPs-per-token law (else 6 N D)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...data.targets import flops_per_token_coef

__all__ = ["ladder_points", "flops_coef", "run_flops", "ladder_runs"]


def ladder_points(md) -> np.ndarray:
    """The ladder's runs as centred (x, z) points (k, 2): the hull its distance is measured from."""
    return np.unique(np.column_stack([md.s1_x, md.s1_z]), axis=0)


def flops_coef(fit, data: pd.DataFrame | None = None) -> tuple[float, float]:
    """The ladder's FLOPs per token, ``log(flops / D) = c0 + c1 log N``: the fit's own (compute
    structure), else from ``data``'s ``flops`` column, else 6 (6 N D)."""
    md = fit.model_data
    if md.structure == "compute":
        return tuple(md.flops_coef)
    if data is not None and "flops" in data.columns:
        return flops_per_token_coef(data)
    return (float(np.log(6.0)), 1.0)


def run_flops(coef, N, D) -> np.ndarray:
    """Training FLOPs of runs of N parameters on D tokens: ``exp(c0 + c1 log N) D``."""
    return np.exp(coef[0] + coef[1] * np.log(np.asarray(N, float))) * np.asarray(D, float)


def ladder_runs(fit, coef) -> pd.DataFrame:
    """The fitted ladder's runs: ``run, N, D, flops`` (from the model's step-1 points)."""
    md = fit.model_data
    first = pd.DataFrame({"r": md.s1_run, "x": md.s1_x, "z": md.s1_z}).groupby("r").first()
    runs = np.array(md.runs)[first.index]
    if md.structure == "compute":  # x is log C; N and D are not kept
        flops = np.exp(first["x"].to_numpy() + md.logC_c)
        return pd.DataFrame({"run": runs, "N": np.nan, "D": np.nan, "flops": flops})
    N, D = np.exp(first["x"].to_numpy() + md.logN_c), np.exp(first["z"].to_numpy() + md.logD_c)
    return pd.DataFrame({"run": runs, "N": N, "D": D, "flops": run_flops(coef, N, D)})

