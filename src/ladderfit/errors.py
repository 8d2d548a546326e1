"""The errors ladderfit raises on purpose; every layer imports them from here.

A :class:`LadderDataError` says what in the user's input was wrong (the file, column or
value) and what was expected; the command line prints it as one line, never a traceback.
"""

from __future__ import annotations

__all__ = ["LadderDataError", "LadderDataWarning"]


class LadderDataError(ValueError):
    """Bad input data: the message names the source, the column or value, and what was expected."""


class LadderDataWarning(UserWarning):
    """Input data that look wrong but may be right (accuracy near chance, a falling trend)."""
