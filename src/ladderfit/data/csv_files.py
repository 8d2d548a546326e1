"""Reading a CSV file with one clear :class:`~ladderfit.errors.LadderDataError` per failure.

Shared by :mod:`.readers` (tidy tables) and :mod:`.results_table` (per-run results tables);
it imports neither.
"""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path

import pandas as pd

from ..errors import LadderDataError
from ..io import check_input

__all__ = ["read_csv_file", "check_csv_header"]


def read_csv_file(path: Path, kind: str, empty_hint: str) -> pd.DataFrame:
    """Read a CSV file with one clear LadderDataError for each way it can fail: missing, a
    folder or no regular file, compressed (expected ``kind``; see :func:`~ladderfit.io.check_input`),
    a bad header, empty (expected ``empty_hint``), unreadable."""
    check_input(path, kind, text=True)  # missing, a link loop, a pipe, gzip or Excel under a .csv name
    check_csv_header(path)
    try:
        return pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise LadderDataError(f"{path}: the file is empty; expected {empty_hint}") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise LadderDataError(f"{path}: not a readable CSV file ({' '.join(str(err).split())})") from None


def _header_row(path: Path) -> list[str] | None:
    """The first row of a CSV file as written (pandas renames a repeated ``accuracy`` to ``accuracy.1``)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(2)
        opener = gzip.open if head == b"\x1f\x8b" else open
        with opener(path, "rt", encoding="utf-8", newline="") as fh:
            line = fh.readline()
    except (OSError, UnicodeDecodeError, EOFError):
        return None  # pandas reports unreadable files below
    if not line.strip():
        return None
    return next(csv.reader(io.StringIO(line)))


def check_csv_header(path: Path) -> None:
    """Reject repeated column names and files separated by something other than commas."""
    header = _header_row(path)
    if header is None:
        return
    names = [h.strip() for h in header]
    if len(names) == 1:
        for sep, label in ((";", "semicolons (';')"), ("\t", "tabs"), ("|", "'|'")):
            if names[0].count(sep) >= 2:
                raise LadderDataError(
                    f"{path}: the header is one column separated by {label} ({names[0][:60]!r}...); "
                    "expected a comma-separated CSV: re-save it with ',' as the separator"
                )
    dups = sorted({n for n in names if names.count(n) > 1})
    if dups:
        raise LadderDataError(
            f"{path}: column name(s) {dups} appear more than once in the header; expected each column once"
        )
