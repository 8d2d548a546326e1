"""The ``ladderfit`` command line: one module per command, each with ``add_parser(subparsers)``.

    ladderfit [--platform cpu|gpu] [--host-devices N] COMMAND ...

Commands: ``data summary`` (:mod:`.data`), ``predict`` (:mod:`.predict`), ``backtest``
(:mod:`.backtest`), ``plot`` (:mod:`.plot`), ``variance`` (:mod:`.variance`). The JAX
platform is set (:func:`~.common.setup_platform`) before any command imports JAX. To add a
command, write a module with ``add_parser`` and list it in :data:`COMMANDS`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ..errors import LadderDataError
from . import backtest, data, plot, predict, variance

__all__ = ["main", "build_parser", "COMMANDS"]

COMMANDS = (data, predict, backtest, plot, variance)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ladderfit",
        description="Predict LLM task accuracy from a ladder of small models (joint Bayesian scaling law).",
    )
    parser.add_argument("--platform", choices=["cpu", "gpu", "cuda", "tpu"], help="JAX platform (default: JAX's choice)")
    parser.add_argument("--host-devices", type=int, default=None, help="XLA host devices for parallel chains (default: one per chain)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from .common import setup_platform

    parser = build_parser()
    args = parser.parse_args(argv)
    setup_platform(args)
    try:
        return int(args.func(args) or 0)
    except LadderDataError as err:
        print(f"ladderfit: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ladderfit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
