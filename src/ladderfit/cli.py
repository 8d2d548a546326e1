"""The ``ladderfit`` command line.

    ladderfit [--platform cpu|gpu] [--host-devices N] COMMAND ...

Commands: ``data summary``, ``predict``, ``backtest``, ``plot``, ``variance``. Each lives
in a ``_cmd_*`` function registered in :func:`build_parser`; heavy imports (JAX) happen
only inside the commands that need them, after the platform is set.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from .schema import LadderDataError

__all__ = ["main", "build_parser"]


def _setup_platform(args: argparse.Namespace) -> None:
    """Pick the JAX platform and host devices before JAX is imported anywhere."""
    devices = getattr(args, "host_devices", None)
    if devices is None and getattr(args, "chains", None):
        # one XLA host device per chain, so chains run in parallel even with fewer cores:
        # 4 chains on 2 cores took 46 s instead of 104 s sequentially (benchmarks/speed.py)
        devices = args.chains
    if devices and "xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
        flags = os.environ.get("XLA_FLAGS", "")
        os.environ["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={devices}".strip()
    if getattr(args, "platform", None):
        os.environ["JAX_PLATFORMS"] = {"gpu": "cuda"}.get(args.platform, args.platform)
    os.environ.setdefault("JAX_ENABLE_X64", "1")
    # JAX's persistent compilation cache: re-runs skip most of the compile time.
    cache = os.path.join(os.path.expanduser("~"), ".cache", "ladderfit", "jax")
    os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", cache)


def _cmd_data_summary(args: argparse.Namespace) -> int:
    from .readers import read_data
    from .summary import data_summary

    df = read_data(args.data)
    print(data_summary(df, source=args.data or "bundled OLMo ladder"))
    return 0


def _add_data_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data",
        default=None,
        help="tidy CSV, an OLMo log CSV, or a folder of OLMo logs (default: the bundled OLMo ladder)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ladderfit",
        description="Predict LLM task accuracy from a ladder of small models (joint Bayesian scaling law).",
    )
    parser.add_argument("--platform", choices=["cpu", "gpu", "cuda", "tpu"], help="JAX platform (default: JAX's choice)")
    parser.add_argument("--host-devices", type=int, default=None, help="XLA host devices for parallel chains (default: one per chain)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    data = sub.add_parser("data", help="inspect ladder data")
    data_sub = data.add_subparsers(dest="data_command", required=True, metavar="SUBCOMMAND")
    summ = data_sub.add_parser("summary", help="runs, tasks, the N x D grid and checkpoint counts")
    _add_data_arg(summ)
    summ.set_defaults(func=_cmd_data_summary)

    for register in _EXTRA_COMMANDS:
        register(sub, _add_data_arg)
    return parser


# Commands defined in other modules register themselves here (see ladderfit.cli_commands).
_EXTRA_COMMANDS: list = []


def main(argv: Sequence[str] | None = None) -> int:
    from . import cli_commands  # noqa: F401  (registers predict, backtest, ...)

    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_platform(args)
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
