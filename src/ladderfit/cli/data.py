"""``ladderfit data summary``: runs, tasks, the N x D grid and checkpoint counts; with ``--form``, a
per-run results table and what in it could not be used."""

from __future__ import annotations

import argparse

from ..errors import LadderDataError
from .common import add_data_arg

__all__ = ["add_parser"]


def run_summary(args: argparse.Namespace) -> int:
    from ..data.readers import read_data
    from ..data.summary import data_summary

    if args.form is not None:
        from ..data.results_table import read_results_table

        if args.data is None:
            raise LadderDataError("--form reads a results-table CSV: give it with --data FILE")
        # the summary reports runs without N or D instead of stopping at the first
        df = read_results_table(args.data, form=args.form, missing_nd="drop")
    else:
        df = read_data(args.data)
    print(data_summary(df, source=args.data or "bundled OLMo ladder"))
    return 0


def add_parser(sub) -> None:
    """Add ``data summary`` to the subcommands."""
    data = sub.add_parser("data", help="inspect ladder data")
    data_sub = data.add_subparsers(dest="data_command", required=True, metavar="SUBCOMMAND")
    summ = data_sub.add_parser("summary", help="runs, tasks, the N x D grid and checkpoint counts")
    add_data_arg(summ)
    summ.add_argument(
        "--form",
        choices=("auto", "wide", "long"),
        default=None,
        help="read --data as a per-run results table (spreadsheet export): wide (a column per task) or "
             "long (run, task, accuracy); N and D from its columns. Not guessed without this option",
    )
    summ.set_defaults(func=run_summary)
