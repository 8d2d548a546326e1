"""Convergence checks for a fit: R-hat, bulk and tail ESS (ArviZ's, :mod:`.rank_diagnostics`), divergences.

A fit that falls short warns loudly with :class:`ConvergenceWarning`, naming the worst
parameters and what to try.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .config import RETRY_TARGET_ACCEPT, RETRY_WARMUP_FACTOR
from .rank_diagnostics import diagnostics_table

if TYPE_CHECKING:
    import arviz as az

__all__ = ["ConvergenceWarning", "ConvergenceReport", "check_convergence", "convergence_report", "warn_if_not_converged", "PARAMETERS"]

#: The parameters users read; convergence is judged on these (plus hyperparameters).
PARAMETERS: tuple[str, ...] = (
    "alpha_mu", "alpha_tau", "beta_mu", "beta_tau", "k_mu", "k_tau",
    "L_c", "slope_N", "slope_D", "alpha", "beta", "E", "sigma_loss",
    "logit_centre", "k", "L0", "sigma_acc", "floor", "logit_slope_N", "logit_slope_D",
    "logit_slope_N_mu", "logit_slope_N_tau", "logit_slope_D_mu", "logit_slope_D_tau",
    "logit_slope_N_by_centre", "logit_slope_D_by_centre",
)  # fmt: skip


class ConvergenceWarning(UserWarning):
    """The sampler did not converge: results may be wrong."""


@dataclass
class ConvergenceReport:
    """Per-parameter diagnostics and the verdict."""

    table: pd.DataFrame  # one row per scalar parameter: r_hat, ess_bulk, ess_tail
    divergences: int
    n_draws: int
    rhat_max: float
    ess_min: float

    @property
    def converged(self) -> bool:
        return not self.problems()

    def problems(self) -> list[str]:
        out = []
        t = self.table
        bad_r = t[t["r_hat"] > self.rhat_max].sort_values("r_hat", ascending=False)
        if len(bad_r):
            out.append(f"R-hat above {self.rhat_max} for {len(bad_r)} parameter(s), worst " + _worst(bad_r, "r_hat", "{:.3f}"))
        for col in ("ess_bulk", "ess_tail"):
            bad = t[t[col] < self.ess_min].sort_values(col)
            if len(bad):
                out.append(f"{col.replace('_', ' ')} ESS below {self.ess_min:.0f} for {len(bad)} parameter(s), worst " + _worst(bad, col, "{:.0f}"))
        if self.divergences:
            out.append(f"{self.divergences} divergent transition(s) out of {self.n_draws} draws")
        return out

    def as_dict(self) -> dict:
        return {
            "max_r_hat": float(self.table["r_hat"].max()),
            "min_ess_bulk": float(self.table["ess_bulk"].min()),
            "min_ess_tail": float(self.table["ess_tail"].min()),
            "divergences": int(self.divergences),
            "converged": bool(self.converged),
        }


def _worst(t: pd.DataFrame, col: str, fmt: str) -> str:
    return ", ".join(f"{name} ({fmt.format(v)})" for name, v in t[col].head(4).items())


def check_convergence(
    idata: az.InferenceData,
    var_names: tuple[str, ...] = PARAMETERS,
    rhat_max: float = 1.01,
    ess_min: float | None = None,
    warn: bool = True,
) -> ConvergenceReport:
    """Compute R-hat, bulk/tail ESS and divergences; warn if the fit falls short.

    ``ess_min`` defaults to 100 per chain (Vehtari et al. 2021). The numbers are ArviZ's
    (:mod:`~ladderfit.model.rank_diagnostics`), unrounded.
    """
    post = idata.posterior
    names = [v for v in var_names if v in post]
    posterior = {v: post[v].transpose("chain", "draw", ...).values for v in names}
    dims = {v: list(post[v].dims)[2:] for v in names}
    coords = {d: post[d].values for d in post.dims if d in post.coords}
    stats = idata.sample_stats if "sample_stats" in idata.groups() else {}
    diverging = stats["diverging"].values if "diverging" in stats else None
    return convergence_report(posterior, diverging, coords, dims, rhat_max, ess_min, warn=warn)


def convergence_report(
    posterior: dict,
    diverging=None,
    coords: dict | None = None,
    dims: dict | None = None,
    rhat_max: float = 1.01,
    ess_min: float | None = None,
    var_names: tuple[str, ...] = PARAMETERS,
    warn: bool = False,
) -> ConvergenceReport:
    """:func:`check_convergence` of draws ``{name: (chain, draw, ...)}`` (those of ``var_names``,
    in its order) with NUTS's ``diverging`` flags, labelled by ``coords`` and ``dims``."""
    posterior = {v: np.asarray(posterior[v]) for v in var_names if v in posterior}
    chains, draws = next(iter(posterior.values())).shape[:2]
    if ess_min is None:
        ess_min = 100.0 * chains
    table = diagnostics_table(posterior, coords, dims)
    # a single chain has no R-hat; constant parameters give NaN: treat as worst case
    table = table.fillna({"r_hat": np.inf if chains > 1 else 1.0, "ess_bulk": 0.0, "ess_tail": 0.0})
    div = int(np.sum(diverging)) if diverging is not None else 0
    report = ConvergenceReport(table, div, chains * draws, rhat_max, ess_min)
    if warn:
        warn_if_not_converged(report, stacklevel=5)
    return report


def warn_if_not_converged(report: ConvergenceReport, stacklevel: int = 3) -> None:
    """Warn loudly (:class:`ConvergenceWarning`) if ``report`` falls short, naming the worst
    parameters and what to try."""
    if report.converged:
        return
    warnings.warn(
        "ladderfit: the fit did NOT converge — its intervals cannot be trusted.\n  - "
        + "\n  - ".join(report.problems())
        + "\n  Try: more warmup (warmup=2000), more draws, a higher target_accept (a fit with divergences"
        f" was already sampled again at retry_target_accept, {RETRY_TARGET_ACCEPT:g}, and with"
        f" {RETRY_WARMUP_FACTOR}x the warmup: try 0.995),"
        " fewer tasks at once, or check the data of the tasks named above.",
        ConvergenceWarning,
        stacklevel=stacklevel,
    )
