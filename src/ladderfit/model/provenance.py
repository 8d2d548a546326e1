"""Where a fit came from: library versions and a fingerprint of the data it saw.

:func:`data_sha256` hashes the tidy table a fit was given (after choosing tasks and runs,
before preprocessing); :func:`library_versions` names the versions of ladderfit, NumPyro,
JAX, ArviZ and Python. :meth:`ladderfit.model.results.LadderFit.save` writes both with the
fit, and :attr:`~ladderfit.model.results.LadderFit.provenance` returns them.
"""

from __future__ import annotations

import hashlib
import platform
import sys
from importlib import metadata

import numpy as np
import pandas as pd

from ..data.schema import OPTIONAL_NUMERIC, REQUIRED

__all__ = ["data_sha256", "library_versions", "HASHED_COLUMNS", "DATA_HASH_DESCRIPTION"]

#: The tidy table's columns that enter the data hash, in this order (those present).
HASHED_COLUMNS: tuple[str, ...] = REQUIRED + OPTIONAL_NUMERIC

DATA_HASH_DESCRIPTION = (
    "SHA-256 of the tidy table the fit was given (after choosing tasks and runs, before preprocessing): "
    "the columns " + ", ".join(HASHED_COLUMNS) + " that are present, in that order; rows sorted by run, "
    "task, step; each column as its name, then float64 little-endian values (numbers, NaN canonical) "
    "or UTF-8 strings separated by 0x1f (text); other columns are not hashed"
)


def data_sha256(df: pd.DataFrame) -> str:
    """Hex SHA-256 of the table's :data:`HASHED_COLUMNS` (see :data:`DATA_HASH_DESCRIPTION`).

    Independent of the rows' and the columns' order in ``df`` and of extra columns; any
    change of a hashed value changes it.
    """
    cols = [c for c in HASHED_COLUMNS if c in df.columns]
    keys = [c for c in ("run", "task", "step") if c in df.columns]
    table = df[cols].sort_values(keys, kind="mergesort").reset_index(drop=True) if keys else df[cols]
    h = hashlib.sha256()
    h.update(f"rows={len(table)}\n".encode())
    for col in cols:
        h.update(f"\x1e{col}\x1d".encode())
        values = table[col]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            arr = values.to_numpy(dtype="<f8", na_value=np.nan)
            arr = np.where(np.isnan(arr), np.nan, arr) + 0.0  # one NaN, and -0.0 as 0.0
            h.update(np.ascontiguousarray(arr, dtype="<f8").tobytes())
        else:
            text = values.to_numpy(dtype=object, copy=True)
            text[pd.isna(text)] = ""  # a missing value as the empty string, any other as str(v)
            h.update("\x1f".join(map(str, text)).encode("utf-8"))
    return h.hexdigest()


def library_versions() -> dict[str, str]:
    """Versions of ladderfit, NumPyro, JAX, ArviZ and Python now: a module's ``__version__``
    where it is imported, else its installed distribution's (a fit imports no ArviZ)."""
    out = {}
    for name in ("ladderfit", "numpyro", "jax", "arviz"):
        module = sys.modules.get(name)
        try:
            out[name] = str(module.__version__) if module is not None else metadata.version(name)
        except (metadata.PackageNotFoundError, AttributeError):  # pragma: no cover
            out[name] = "unknown"
    out["python"] = platform.python_version()
    return out
