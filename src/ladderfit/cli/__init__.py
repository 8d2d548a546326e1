"""The ``ladderfit`` command line: one module per command, each with ``add_parser(subparsers)``.

    ladderfit [--platform cpu|gpu] [--host-devices N] COMMAND ...

Commands: ``data summary`` (:mod:`.data`), ``predict`` (:mod:`.predict`), ``backtest``
(:mod:`.backtest`), ``calibrate`` (:mod:`.calibrate`), ``plot`` (:mod:`.plot`), ``variance``
(:mod:`.variance`), ``design`` (:mod:`.design`). The JAX platform is set (:func:`~.common.setup_platform`) before any
command imports JAX. To add a command, write a module with ``add_parser`` and list it in
:data:`COMMANDS`.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence

from ..errors import LadderDataError
from . import backtest, calibrate, data, design, plot, predict, variance

__all__ = ["main", "build_parser", "COMMANDS"]

COMMANDS = (data, predict, backtest, calibrate, plot, variance, design)


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``ladderfit: error: ...`` and exit status 2 (subcommand
    parsers are of the same class)."""

    def error(self, message: str):  # noqa: D102
        message = " ".join(message.split())
        self.exit(2, f"ladderfit: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="ladderfit",
        description="Predict LLM task accuracy from a ladder of small models (joint Bayesian scaling law).",
    )
    from .common import positive_int

    parser.add_argument("--platform", choices=["cpu", "gpu", "cuda", "tpu"], help="JAX platform (default: JAX's choice)")
    parser.add_argument("--host-devices", type=positive_int, default=None,
                        help="XLA host devices for parallel chains (default: one per chain)")
    parser.add_argument("--debug", action="store_true", help="print the full traceback of any error")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


#: Failures that come from the user's input (files, options, values): one line, exit status 2.
EXPECTED = (LadderDataError, ValueError, KeyError, FileNotFoundError, PermissionError, OSError)


def _one_line(err: BaseException) -> str:
    text = str(err)
    if isinstance(err, KeyError) and len(err.args) == 1:
        text = f"not found: {err.args[0]!r}"
    if isinstance(err, OSError) and err.strerror:
        text = f"{err.filename}: {err.strerror}" if err.filename else err.strerror
    text = " ".join(text.split()) or type(err).__name__
    return text


def _write_traceback(err: BaseException) -> str:
    fd, path = tempfile.mkstemp(prefix=f"ladderfit-{time.strftime('%Y%m%d-%H%M%S')}-", suffix=".txt")
    with os.fdopen(fd, "w") as fh:
        fh.write(f"ladderfit {' '.join(sys.argv[1:])}\n\n")
        fh.write("".join(traceback.format_exception(type(err), err, err.__traceback__)))
    return path


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command. Exit status: 0 done, 2 bad input (one line on stderr), 3 not converged
    (predict), 1 an unexpected error (its traceback goes to a file in the temp folder, or
    inline with ``--debug``), 130 interrupted."""
    from .common import check_platform, setup_platform

    parser = build_parser()
    args = parser.parse_args(argv)
    setup_platform(args)
    try:
        check_platform(args)
        if getattr(args, "no_plausibility_check", False):
            from ..data.plausibility import plausibility_check_off

            with plausibility_check_off():
                return int(args.func(args) or 0)
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("ladderfit: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader stopped early (``ladderfit data summary | head``): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except EXPECTED as err:
        if args.debug:
            raise
        print(f"ladderfit: error: {_one_line(err)}", file=sys.stderr)
        return 2
    except Exception as err:  # noqa: BLE001 (the boundary: anything else is a bug)
        if args.debug:
            raise
        try:
            where = f"the full traceback is in {_write_traceback(err)}"
        except OSError:
            where = "rerun with --debug for the full traceback"
        print(
            f"ladderfit: internal error: {type(err).__name__}: {_one_line(err)[:300]} ({where}; please report it)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
