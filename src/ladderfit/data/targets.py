"""Target models to predict: a name, N (parameters) and D (training tokens).

Targets can be given as the paper's names (``"7B-4T"``, ``"13B-5T"``), as strings
``"NAME=N,D"`` (``"my-3B=3e9,1.2e12"``), as ``(name, N, D)`` tuples, as dicts, or as a
DataFrame with columns ``target, N, D`` (and optionally ``flops``). :func:`as_targets`
turns any of these into that DataFrame.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np
import pandas as pd

from .bundled import paper_targets
from .plausibility import TARGET_RANGE
from ..errors import LadderDataError

__all__ = ["as_targets", "parse_target", "fill_flops", "flops_per_token_coef", "TARGET_RANGE"]



def _check_range(name: str, col: str, value: float) -> None:
    lo, hi = TARGET_RANGE[col]
    if not lo <= value <= hi:
        what = "parameters" if col == "N" else "training tokens"
        raise LadderDataError(
            f"target {name!r}: {col} = {value:.4g} is outside the sane range [{lo:g}, {hi:g}] of {what}; "
            f"expected a count such as {'7e9' if col == 'N' else '4e12'}"
        )

_SPEC = re.compile(r"^\s*(?P<name>[^=]+?)\s*=\s*(?P<N>[^,]+?)\s*,\s*(?P<D>[^,]+?)\s*$")


def _number(text: str, what: str, spec: str) -> float:
    try:
        value = float(text.replace("_", ""))
    except ValueError:
        raise LadderDataError(f"target {spec!r}: {what} {text!r} is not a number (e.g. 7e9 or 7000000000)") from None
    if not np.isfinite(value) or value <= 0:
        raise LadderDataError(f"target {spec!r}: {what} must be a finite number > 0, got {text!r}")
    return value


def parse_target(spec: str) -> dict:
    """Parse ``"7B-4T"`` (a paper target) or ``"NAME=N,D"`` into ``{target, N, D}``."""
    known = paper_targets().set_index("target")
    if spec in known.index:
        row = known.loc[spec]
        return {"target": spec, "N": float(row["N"]), "D": float(row["D"]), "flops": float(row["flops"])}
    m = _SPEC.match(spec)
    if not m:
        raise LadderDataError(
            f"target {spec!r}: expected a known name ({', '.join(known.index)}) or NAME=N,D (e.g. 3B-1T=3e9,1e12)"
        )
    out = {"target": m["name"], "N": _number(m["N"], "N", spec), "D": _number(m["D"], "D", spec)}
    for col in ("N", "D"):
        _check_range(spec, col, out[col])
    return out


def as_targets(targets: object = None) -> pd.DataFrame:
    """Normalize targets to a DataFrame ``target, N, D[, flops]``; ``None`` gives the paper's two."""
    if targets is None:
        return paper_targets()
    if isinstance(targets, pd.DataFrame):
        rows = targets.to_dict("records")
    else:
        if isinstance(targets, (str, dict, tuple)):
            targets = [targets]
        rows = []
        for t in targets if isinstance(targets, Iterable) else [targets]:
            if isinstance(t, str):
                rows.append(parse_target(t))
            elif isinstance(t, dict):
                rows.append(dict(t))
            elif isinstance(t, tuple) and len(t) == 3:
                rows.append({"target": t[0], "N": t[1], "D": t[2]})
            else:
                raise LadderDataError(f"target {t!r}: expected a name, 'NAME=N,D', (name, N, D) or a dict")
    out = pd.DataFrame(rows)
    if out.empty:
        raise LadderDataError("targets: none given")
    if "target" not in out.columns and "name" in out.columns:
        out = out.rename(columns={"name": "target"})
    for col in ("target", "N", "D"):
        if col not in out.columns:
            raise LadderDataError(f"targets: missing column {col!r}; expected columns target, N, D")
    if out["target"].isna().any():
        i = int(np.flatnonzero(out["target"].isna().to_numpy())[0])
        raise LadderDataError(f"targets: target {i} has no name; expected columns target, N, D")
    for col in ("N", "D") + (("flops",) if "flops" in out.columns else ()):
        vals = pd.to_numeric(out[col], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(vals) | (vals <= 0)
        if col == "flops":
            bad &= ~np.isnan(vals)  # missing flops is allowed; filled later
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            value = out[col].iloc[i]
            value = value.item() if isinstance(value, np.generic) else value
            raise LadderDataError(f"target {out['target'].iloc[i]!r}: {col} must be a number > 0, got {value!r}")
        if col in TARGET_RANGE:
            for name, v in zip(out["target"], vals):
                _check_range(name, col, float(v))
        out[col] = vals
    if out["target"].duplicated().any():
        raise LadderDataError(f"targets: duplicate name {out['target'][out['target'].duplicated()].iloc[0]!r}")
    out["target"] = out["target"].astype(str)
    return out.reset_index(drop=True)


def flops_per_token_coef(data: pd.DataFrame) -> tuple[float, float]:
    """(c0, c1) of ``log(flops / D) = c0 + c1 log N`` fitted on the ladder's runs (6 N D without flops)."""
    if "flops" not in data.columns:
        return (float(np.log(6.0)), 1.0)
    per_run = data.groupby("run").agg(N=("N", "first"), D=("D", "max"), flops=("flops", "max"))
    x, y = np.log(per_run["N"]), np.log(per_run["flops"] / per_run["D"])
    if x.nunique() >= 2:
        c1, c0 = np.polyfit(x, y, 1)
        return (float(c0), float(c1))
    return (float((y - x).mean()), 1.0)


def fill_flops(targets: pd.DataFrame, data: pd.DataFrame) -> pd.DataFrame:
    """Give targets without ``flops`` an estimate from the ladder.

    Training FLOPs per token grow with N; we fit ``log(flops / D) = c0 + c1 log N`` on the
    ladder's runs and apply it. Falls back to ``6 N D`` when the ladder has no ``flops``.
    """
    targets = targets.copy()
    if "flops" not in targets.columns:
        targets["flops"] = np.nan
    missing = targets["flops"].isna().to_numpy()
    if not missing.any():
        return targets
    c0, c1 = flops_per_token_coef(data)
    per_token = np.exp(c0 + c1 * np.log(targets["N"]))
    targets.loc[missing, "flops"] = (per_token * targets["D"])[missing]
    return targets
