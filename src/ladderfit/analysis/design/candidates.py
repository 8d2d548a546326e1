"""Candidate rungs: ``NAME=N,D`` strings, tuples, dicts or tables read into one table
``candidate, N, D`` (each N and D checked against the sane range of a target), a grid of sizes
by Chinchilla multiples, and their short names (``1.3B-5xC``)."""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np
import pandas as pd

from ...data.targets import TARGET_RANGE
from ...errors import LadderDataError

__all__ = ["parse_candidate", "as_candidates", "candidate_grid", "size_label"]

_SPEC = re.compile(r"^\s*(?:(?P<name>[^=]+?)\s*=)?\s*(?P<N>[^,=]+?)\s*,\s*(?P<D>[^,=]+?)\s*$")


def size_label(N: float) -> str:
    """A short size label: 1.28e9 -> ``1.3B``, 7.6e8 -> ``760M``."""
    for unit, scale in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if N >= scale:
            v = N / scale
            return f"{v:.2g}{unit}" if v < 10 else f"{v:.0f}{unit}"
    return f"{N:.3g}"


def _auto_name(N: float, D: float) -> str:
    """``SIZE-MxC`` with M = D / (20 N), the Chinchilla multiple."""
    m = D / (20 * N)
    mult = f"{round(m):d}" if m >= 1 and abs(m - round(m)) < 0.01 * m else f"{m:.2g}"
    return f"{size_label(N)}-{mult}xC"


def _number(text: str, what: str, spec: str) -> float:
    try:
        value = float(str(text).replace("_", ""))
    except ValueError:
        raise LadderDataError(f"candidate {spec!r}: {what} {text!r} is not a number (e.g. 1.28e9)") from None
    if not np.isfinite(value) or value <= 0:
        raise LadderDataError(f"candidate {spec!r}: {what} must be a finite number > 0, got {text!r}")
    lo, hi = TARGET_RANGE[what]
    if not lo <= value <= hi:
        raise LadderDataError(f"candidate {spec!r}: {what} = {value:.4g} is outside the sane range [{lo:g}, {hi:g}]")
    return value


def parse_candidate(spec: str) -> dict:
    """``"NAME=N,D"`` or ``"N,D"`` (named ``SIZE-MxC``) into ``{candidate, N, D}``."""
    m = _SPEC.match(str(spec))
    if not m:
        raise LadderDataError(f"candidate {spec!r}: expected NAME=N,D or N,D (e.g. 1B-20xC=1.28e9,5.1e11)")
    N, D = _number(m["N"], "N", spec), _number(m["D"], "D", spec)
    return {"candidate": m["name"] or _auto_name(N, D), "N": N, "D": D}


def as_candidates(candidates) -> pd.DataFrame:
    """Candidates as a DataFrame ``candidate, N, D``: strings ``NAME=N,D``, ``(name, N, D)`` or
    ``(N, D)`` tuples, dicts, or a DataFrame with those columns (``target`` or ``run`` also
    name a row)."""
    if candidates is None:
        raise LadderDataError("design: no candidates given; expected e.g. '1B-20xC=1.28e9,5.1e11'")
    if isinstance(candidates, pd.DataFrame):
        raw = candidates.rename(columns={"target": "candidate", "run": "candidate"}).to_dict("records")
    elif isinstance(candidates, (str, dict, tuple)):
        raw = [candidates]
    elif isinstance(candidates, Iterable):
        raw = list(candidates)
    else:
        raise LadderDataError(f"candidate {candidates!r}: expected NAME=N,D, (name, N, D), a dict or a DataFrame")
    rows = []
    for c in raw:
        if isinstance(c, str):
            rows.append(parse_candidate(c))
        elif isinstance(c, tuple) and len(c) in (2, 3):
            name, N, D = (None, *c) if len(c) == 2 else c
            spec = repr(c)
            N, D = _number(N, "N", spec), _number(D, "D", spec)
            rows.append({"candidate": name or _auto_name(N, D), "N": N, "D": D})
        elif isinstance(c, dict):
            missing = {"N", "D"} - set(c)
            if missing:
                raise LadderDataError(f"candidate {c!r}: missing {sorted(missing)}; expected candidate, N, D")
            N, D = _number(c["N"], "N", repr(c)), _number(c["D"], "D", repr(c))
            name = c.get("candidate") or c.get("name") or _auto_name(N, D)
            rows.append({"candidate": str(name), "N": N, "D": D})
        else:
            raise LadderDataError(f"candidate {c!r}: expected NAME=N,D, (name, N, D), a dict or a DataFrame")
    out = pd.DataFrame(rows, columns=["candidate", "N", "D"])
    if out.empty:
        raise LadderDataError("design: no candidates given; expected e.g. '1B-20xC=1.28e9,5.1e11'")
    dup = out["candidate"][out["candidate"].duplicated()]
    if len(dup):
        raise LadderDataError(f"candidates: duplicate name {dup.iloc[0]!r}; give each candidate its own name")
    return out


def candidate_grid(sizes, multipliers, tokens_per_parameter: float = 20.0) -> pd.DataFrame:
    """Every (N, D = m * 20 N) of ``sizes`` x Chinchilla ``multipliers``, named ``SIZE-MxC``."""
    rows = []
    for N in sizes:
        for m in multipliers:
            spec = f"{N} x {m}"
            N_ = _number(N, "N", spec)
            m_ = float(m)
            if not np.isfinite(m_) or m_ <= 0:
                raise LadderDataError(f"--multipliers: {m!r} must be a number > 0 (a Chinchilla multiple, e.g. 5)")
            rows.append({"candidate": f"{size_label(N_)}-{m_:g}xC", "N": N_, "D": _number(tokens_per_parameter * m_ * N_, "D", spec)})
    return as_candidates(pd.DataFrame(rows))

