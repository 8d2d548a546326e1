"""``ladderfit data summary``: runs, tasks, the N x D grid and checkpoint counts."""

from __future__ import annotations

import argparse

from .common import add_data_arg

__all__ = ["add_parser"]


def run_summary(args: argparse.Namespace) -> int:
    from ..data.readers import read_data
    from ..data.summary import data_summary

    df = read_data(args.data)
    print(data_summary(df, source=args.data or "bundled OLMo ladder"))
    return 0


def add_parser(sub) -> None:
    """Add ``data summary`` to the subcommands."""
    data = sub.add_parser("data", help="inspect ladder data")
    data_sub = data.add_subparsers(dest="data_command", required=True, metavar="SUBCOMMAND")
    summ = data_sub.add_parser("summary", help="runs, tasks, the N x D grid and checkpoint counts")
    add_data_arg(summ)
    summ.set_defaults(func=run_summary)
