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
import contextlib
import os
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Sequence

from ..errors import LadderDataError
from . import backtest, calibrate, data, design, plot, predict, variance

__all__ = ["main", "run", "build_parser", "COMMANDS"]

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
    parser.add_argument("--version", action=_VersionAction,
                        help="print ladderfit's version and those of the libraries it samples with, and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


class _VersionAction(argparse.Action):
    """``--version``: print :func:`_version` and exit; the installed metadata is read only then."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        print(_version())  # to standard output, as argparse's own version action
        parser.exit()


def _version() -> str:
    """``ladderfit 0.3.0 (numpyro ..., jax ..., arviz ...)``, read from the installed metadata
    (nothing imported)."""
    from importlib.metadata import PackageNotFoundError, version

    from .. import __version__

    def installed(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "not installed"

    return f"ladderfit {__version__} (" + ", ".join(f"{n} {installed(n)}" for n in ("numpyro", "jax", "arviz")) + ")"


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


class _PipeSafe:
    """Standard output that outlives its reader (``ladderfit predict --out f.csv | head -1``):
    once the pipe is closed, what is printed goes nowhere and the command goes on to write its
    files."""

    def __init__(self, stream):
        self._stream, self.closed_pipe = stream, False

    def _guard(self, call, *args):
        if self.closed_pipe:
            return None
        try:
            return call(*args)
        except BrokenPipeError:
            self.closed_pipe = True
            with contextlib.suppress(OSError, ValueError, AttributeError):  # the interpreter's last flush too
                os.dup2(os.open(os.devnull, os.O_WRONLY), self._stream.fileno())
            return None

    def write(self, text):  # noqa: D102
        written = self._guard(self._stream.write, text)
        return len(text) if written is None else written

    def flush(self):  # noqa: D102
        self._guard(self._stream.flush)

    def __getattr__(self, name):
        return getattr(self._stream, name)


def _format_warning(message, category, filename, lineno, line=None) -> str:
    """A warning on the command line: ``ladderfit: warning: ...``, one line, without the file and
    source line of the code that raised it (``--debug`` shows those)."""
    return f"ladderfit: warning: {' '.join(str(message).split())}\n"


@contextlib.contextmanager
def _warnings_as_lines(on: bool = True):
    """Warnings shown as :func:`_format_warning` says while the command runs (recorded ones, as
    ``warnings.catch_warnings(record=True)`` records them, are untouched)."""
    before = warnings.formatwarning
    if on:
        warnings.formatwarning = _format_warning
    try:
        yield
    finally:
        warnings.formatwarning = before


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command. Exit status: 0 done, 2 bad input (one line on stderr), 3 not converged
    (predict), 1 an unexpected error (its traceback goes to a file in the temp folder, or
    inline with ``--debug``), 130 interrupted (every file as it was: an output is replaced
    only by a command that was not interrupted). A closed standard output (``| head``) is no
    error and stops no file from being written. Warnings are one line each, ``ladderfit:
    warning: ...`` (with ``--debug``, Python's own format, with the line that raised them)."""
    from ..io import interrupt_guard, interrupted
    from .common import setup_platform

    parser = build_parser()
    args = parser.parse_args(argv)
    setup_platform(args)
    stdout = sys.stdout
    sys.stdout = _PipeSafe(stdout)
    try:
        with interrupt_guard(), _warnings_as_lines(not args.debug):
            code = _run(args)
            if interrupted():  # a Ctrl-C that a callback swallowed: the command did not finish
                raise KeyboardInterrupt
            return code
    except KeyboardInterrupt:
        print("ladderfit: interrupted; every existing file was left as it was", file=sys.stderr)
        return 130
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
        sys.stdout = stdout


def run() -> None:
    """The ``ladderfit`` command (and ``python -m ladderfit.cli``): :func:`main`, then exit at once.

    The output is flushed and the exit handlers run (``atexit``: JAX's, logging's, temporary
    files'), but the interpreter's teardown is skipped: freeing every module and JAX's CPU
    devices one by one took about half a second of each command, after its last line (the
    *teardown* of ``benchmarks/speed.py``'s stage table).
    From Python, call :func:`main`, which returns the exit status and leaves the process alone."""
    import atexit

    code = main()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a closed pipe is no error (see main)
            stream.flush()
    atexit._run_exitfuncs()
    os._exit(code)


def _run(args: argparse.Namespace) -> int:
    """The command, its failures turned into exit statuses (but an interrupt)."""
    from .common import check_platform

    try:
        check_platform(args)
        if getattr(args, "no_plausibility_check", False):
            from ..data.plausibility import plausibility_check_off

            with plausibility_check_off():
                return int(args.func(args) or 0)
        return int(args.func(args) or 0)
    except BrokenPipeError:  # the reader stopped early, where not through sys.stdout: not an error
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.__stdout__.fileno())
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
