"""CLI commands beyond ``data``: each registers itself with :mod:`ladderfit.cli`."""

from __future__ import annotations

from .cli import _EXTRA_COMMANDS

__all__: list[str] = []
