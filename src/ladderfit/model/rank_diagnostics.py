r"""R-hat and bulk and tail ESS of draws, as ArviZ computes them, on plain arrays.

The rank-normalised split R-hat and the bulk and tail effective sample sizes of Vehtari et
al. (2021), written after ArviZ 0.23's ``az.summary(kind="diagnostics")`` step for step: the
same numbers (``tests/test_diagnostics.py`` compares them to ArviZ's to 1e-12, ties, constants
and NaN included). A fit checks its draws with them without importing ArviZ, SciPy's
``stats``, xarray and matplotlib, which a ``ladderfit predict`` does not otherwise need
(the speed guide's *The draws checked without ArviZ*).

For the draws :math:`\theta_{cs}` of one scalar (chains :math:`c`, draws :math:`s`), each chain
split in halves:

- rank-normalised: :math:`z = \Phi^{-1}((r - 3/8) / (S - 1/4 + 1))` of the pooled ranks
  :math:`r` (ties averaged) of :math:`S` values;
- :math:`\hat R = \max(\hat R(z(\theta)), \hat R(z(|\theta - \mathrm{median}\,\theta|)))` (the
  median of all draws, before the split), with
  :math:`\hat R(x) = \sqrt{(B/W + n - 1)/n}`, :math:`B` the between-chain variance (times
  :math:`n`) and :math:`W` the mean within-chain variance;
- bulk ESS: Geyer's initial monotone sequence of the autocorrelations of :math:`z(\theta)`;
  tail ESS: the smaller of those of the indicators :math:`\theta \le q_{0.05}` and
  :math:`\theta \le q_{0.95}`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.fft import next_fast_len
from scipy.special import ndtri

__all__ = ["rank_diagnostics", "diagnostics_table"]


def _split(x: np.ndarray) -> np.ndarray:
    """(chain, draw) to (2 chain, draw // 2): each chain's first and last halves (the middle
    draw of an odd count left out)."""
    half = x.shape[1] // 2
    return np.concatenate([x[:, :half], x[:, x.shape[1] - half:]], axis=0)


def _z_scale(x: np.ndarray) -> np.ndarray:
    """Pooled ranks (ties averaged) with Blom's offset, to normal quantiles."""
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    rank = (np.cumsum(counts) - (counts - 1) / 2.0)[inverse.reshape(x.shape)]
    return ndtri((rank - 3 / 8) / (x.size - 2 * 3 / 8 + 1))


def _rhat(x: np.ndarray) -> float:
    n = x.shape[1]
    between = n * np.var(x.mean(axis=1), ddof=1)
    within = np.mean(np.var(x, axis=1, ddof=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return float(np.sqrt((between / within + n - 1) / n))


def _ess(x: np.ndarray) -> float:
    """Effective sample size of (chain, draw): autocovariances by FFT, Geyer's initial positive
    then monotone sequence."""
    x = np.asarray(x, float)
    if np.max(x) - np.min(x) < np.finfo(float).resolution:
        return float(x.size)
    n_chain, n_draw = x.shape
    m = next_fast_len(2 * n_draw)
    f = np.fft.rfft(x - x.mean(axis=1, keepdims=True), n=m, axis=1)
    f *= np.conjugate(f)
    acov = (np.fft.irfft(f, n=m, axis=1)[:, :n_draw] / n_draw).mean(axis=0)  # averaged over chains
    mean_var = acov[0] * n_draw / (n_draw - 1.0)
    var_plus = mean_var * (n_draw - 1.0) / n_draw
    if n_chain > 1:
        var_plus += np.var(x.mean(axis=1), ddof=1)
    rho = np.zeros(n_draw)
    even, odd = 1.0, 1.0 - (mean_var - acov[1]) / var_plus
    rho[0], rho[1] = even, odd
    t = 1
    while t < n_draw - 3 and even + odd > 0.0:  # initial positive sequence
        even = 1.0 - (mean_var - acov[t + 1]) / var_plus
        odd = 1.0 - (mean_var - acov[t + 2]) / var_plus
        if even + odd >= 0:
            rho[t + 1], rho[t + 2] = even, odd
        t += 2
    max_t = t - 2
    if even > 0:
        rho[max_t + 1] = even
    t = 1
    while t <= max_t - 2:  # initial monotone sequence
        if rho[t + 1] + rho[t + 2] > rho[t - 1] + rho[t]:
            rho[t + 1] = rho[t + 2] = (rho[t - 1] + rho[t]) / 2.0
        t += 2
    total = n_chain * n_draw
    tau = max(-1.0 + 2.0 * np.sum(rho[: max_t + 1]) + np.sum(rho[max_t + 1: max_t + 2]), 1 / np.log10(total))
    return np.nan if np.isnan(rho).any() else float(total / tau)


def rank_diagnostics(x) -> tuple[float, float, float]:
    """``(r_hat, ess_bulk, ess_tail)`` of one scalar's draws ``(chain, draw)``; NaN where ArviZ
    gives NaN (a NaN draw, fewer than 4 draws; R-hat of one chain)."""
    x = np.asarray(x, float)
    if x.ndim != 2 or x.shape[1] < 4 or np.isnan(x).any():
        return np.nan, np.nan, np.nan
    split = _split(x)
    r_hat = np.nan
    if x.shape[0] >= 2:
        r_hat = max(_rhat(_z_scale(split)), _rhat(_z_scale(_split(np.abs(x - np.median(x))))))
    low, high = np.quantile(x, [0.05, 0.95])
    return r_hat, _ess(_z_scale(split)), min(_ess(_split(x <= low)), _ess(_split(x <= high)))


def diagnostics_table(posterior: dict, coords: dict | None = None, dims: dict | None = None) -> pd.DataFrame:
    """``r_hat``, ``ess_bulk`` and ``ess_tail`` of every scalar of ``posterior``
    (``{name: (chain, draw, ...)}``), one row each, labelled as ``az.summary`` labels them
    (``name``, ``name[coord]``, ``name[c1, c2]``; without dims, by position)."""
    coords, dims = coords or {}, dims or {}
    rows, labels = [], []
    for name, values in posterior.items():
        values = np.asarray(values)
        shape = values.shape[2:]
        names = list(dims.get(name, [])) + [None] * len(shape)
        axes = [list(coords[d]) if d in coords else list(range(n)) for d, n in zip(names, shape)]
        flat = values.reshape(values.shape[:2] + (-1,))
        for j, index in enumerate(np.ndindex(*shape) if shape else [()]):
            rows.append(rank_diagnostics(flat[:, :, j]))
            labels.append(name if not shape else f"{name}[{', '.join(str(axes[a][i]) for a, i in enumerate(index))}]")
    return pd.DataFrame(rows, index=labels, columns=["r_hat", "ess_bulk", "ess_tail"], dtype=float)
