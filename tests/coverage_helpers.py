"""Helpers of the simulated-coverage tests: targets beyond the simulated ladder, and the binomial
range a calibrated interval's count of covered truths falls in."""

import numpy as np
import pandas as pd
from scipy.stats import binom

N_MAX, D_MAX = 1.28e9, 1.28e9 * 20 * 10  # the default simulated ladder's largest run (1B-10xC)


def beyond(factors) -> pd.DataFrame:
    """Targets ``f`` times the ladder's largest N and D (f = 2: one rung beyond)."""
    f = np.asarray(factors, float)
    return pd.DataFrame({"target": [f"x{v:g}" for v in f], "N": N_MAX * f, "D": D_MAX * f})


def binomial_range(n: int, level: float, mass: float = 0.99) -> tuple[int, int]:
    """Central ``mass`` range of the count inside ``level`` intervals out of ``n``, if calibrated:
    ``lo`` the smallest count with P(X <= lo) >= (1 - mass) / 2, ``hi`` the smallest with
    P(X <= hi) >= (1 + mass) / 2 (``scipy.stats.binom.interval``); each tail outside it holds at
    most (1 - mass) / 2. A count at ``lo`` is inside the range: rare (its lower tail P(X <= lo)
    is reported with each assertion), not excluded."""
    lo, hi = binom.interval(mass, n, level)
    return int(lo), int(hi)


def tails(k: int, n: int, level: float) -> str:
    """P(X <= k) and P(X >= k) for X ~ Binomial(n, level): how far in a tail a count is."""
    return f"P(X <= {k}) = {binom.cdf(k, n, level):.3g}, P(X >= {k}) = {binom.sf(k - 1, n, level):.3g}"
