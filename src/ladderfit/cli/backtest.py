"""``ladderfit backtest``: hold runs out of the ladder, fit on the rest, score the predictions.

    ladderfit backtest [--data PATH] [--holdout largest_size|largest_multiplier|RUN[,RUN...]]
                       [--method bayes] [--method least_squares] [--model two_step] ...
                       [--tasks hellaswag,piqa] [--chains 4] [--warmup 300] [--draws N]
                       [--seed 0] [--out backtest.csv]

Prints, per (method, model, task, held-out run), the actual final-checkpoint accuracy, the
predicted median, the 90% interval, whether it covers, and the absolute error in points;
then one summary line per method and model. See :mod:`ladderfit.analysis.backtest`.
"""

from __future__ import annotations

import argparse
import sys

from .common import add_data_arg, add_model_args, add_out_arg, add_pool_args, add_sampler_args, check_outputs, split_names, write_csv

__all__ = ["add_parser"]

_METHODS = ("bayes", "least_squares")


def _cmd_backtest(args: argparse.Namespace) -> int:
    from ..analysis.backtest import backtest, format_backtest, format_summary, summarize_backtest

    check_outputs(args, out="table")
    methods = list(dict.fromkeys(args.method or _METHODS))
    models = args.model or [None]  # None: the default model
    fit_options = {k: getattr(args, k) for k in ("chains", "warmup", "draws") if getattr(args, k) is not None}
    seed = 0 if args.seed is None else args.seed
    holdout = args.holdout
    if holdout not in ("largest_size", "largest_multiplier"):
        holdout = split_names([holdout])
    df = backtest(
        args.data,
        holdout=holdout,
        methods=methods,
        models=models,
        tasks=args.tasks,
        runs=args.runs,
        fit_options=fit_options,
        seed=seed,
        skip_unsupported=args.skip_unsupported,
    )
    held = list(dict.fromkeys(df["run"]))
    print(f"ladder {args.data or 'bundled:olmo'}; model(s) {', '.join(dict.fromkeys(df['model']))}; "
          f"{df['task'].nunique()} task(s): {', '.join(dict.fromkeys(df['task']))}")
    print(f"held out: {', '.join(held)}  (truth: final-checkpoint accuracy; errors and widths in accuracy points)")
    print(format_backtest(df))
    print()
    print(format_summary(summarize_backtest(df)))
    if args.out:
        write_csv(args.out, df)
    bad = df.attrs.get("unconverged", [])
    if bad:
        verdict = "--allow-unconverged given" if args.allow_unconverged else "exit status 3"
        print(f"ladderfit: warning: the fit(s) {', '.join(bad)} did not converge; their rows are not to be trusted "
              f"({verdict}; more --warmup/--draws, or --allow-unconverged)", file=sys.stderr)
        return 0 if args.allow_unconverged else 3
    return 0


def add_parser(sub) -> None:
    """Add ``backtest`` to the subcommands."""
    p = sub.add_parser(
        "backtest",
        help="hold runs out of the ladder, fit on the rest, and score the predictions",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_data_arg(p)
    p.add_argument(
        "--holdout",
        default="largest_size",
        help="largest_size (default), largest_multiplier, or run names RUN[,RUN...]",
    )
    p.add_argument("--method", action="append", choices=_METHODS,
                   help="bayes and/or least_squares (repeat the option; default: both)")
    add_model_args(p, several=True)
    p.add_argument("--skip-unsupported", action="store_true",
                   help="skip method/model pairs that do not exist (least squares + run effects) instead of failing")
    add_pool_args(p)
    add_sampler_args(p, defaults=False)
    add_out_arg(p, "write the backtest table to this CSV (e.g. backtest.csv)")
    p.add_argument("--allow-unconverged", action="store_true",
                   help="exit 0 even when a Bayesian fit did not converge (by default: exit status 3)")
    p.set_defaults(func=_cmd_backtest)

