"""``python -m ladderfit.cli``: the same as the ``ladderfit`` command."""

from . import run

run()
