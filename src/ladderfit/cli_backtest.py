"""``ladderfit backtest``: hold runs out of the ladder, fit on the rest, score the predictions.

    ladderfit backtest [--data PATH] [--holdout largest_size|largest_multiplier|RUN[,RUN...]]
                       [--method bayes] [--method least_squares] [--variant two_step] ...
                       [--tasks hellaswag,piqa] [--chains 4] [--warmup 500] [--draws 1000]
                       [--seed 0] [--out backtest.csv]

Prints, per (method, variant, task, held-out run), the actual final-checkpoint accuracy, the
predicted median, the 90% interval, whether it covers, and the absolute error in points;
then one summary line per method and variant. See :mod:`ladderfit.backtest`.
"""

from __future__ import annotations

import argparse

from .cli import _EXTRA_COMMANDS

__all__ = ["register"]

_METHODS = ("bayes", "least_squares")
_VARIANTS = ("two_step", "c4_loss", "task_ce", "compute", "single_step")


def _split_list(values):
    if not values:
        return None
    out = []
    for v in values:
        out += [x.strip() for x in v.split(",") if x.strip()]
    return list(dict.fromkeys(out)) or None


def _cmd_backtest(args: argparse.Namespace) -> int:
    from .backtest import backtest, format_backtest, format_summary, summarize_backtest

    methods = list(dict.fromkeys(args.method or _METHODS))
    variants = list(dict.fromkeys(args.variant or ["two_step"]))
    fit_options = {k: getattr(args, k) for k in ("chains", "warmup", "draws") if getattr(args, k) is not None}
    holdout = args.holdout
    if holdout not in ("largest_size", "largest_multiplier"):
        holdout = _split_list([holdout])
    df = backtest(
        args.data,
        holdout=holdout,
        methods=methods,
        variants=variants,
        tasks=_split_list(args.tasks),
        runs=_split_list(args.runs),
        fit_options=fit_options,
        seed=args.seed,
        skip_unsupported=args.skip_unsupported,
    )
    held = list(dict.fromkeys(df["run"]))
    print(f"held out: {', '.join(held)}  (truth: final-checkpoint accuracy; errors and widths in accuracy points)")
    print(format_backtest(df))
    print()
    print(format_summary(summarize_backtest(df)))
    if args.out:
        df.to_csv(args.out, index=False)
        print(f"wrote {args.out}")
    return 0


def register(sub, add_data_arg) -> None:
    """Add ``backtest`` to the ``ladderfit`` subcommands."""
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
    p.add_argument("--variant", action="append", choices=_VARIANTS,
                   help="two_step (default), c4_loss, task_ce (both methods), compute, single_step "
                        "(least squares only); repeat the option for several")
    p.add_argument("--skip-unsupported", action="store_true",
                   help="skip method/variant pairs that do not exist (bayes + compute/single_step) instead of failing")
    p.add_argument("--tasks", action="append", help="tasks, comma-separated or repeated (default: all)")
    p.add_argument("--runs", action="append",
                   help="the pool of runs, comma-separated or repeated (default: the paper's 16 for the bundled ladder)")
    p.add_argument("--chains", type=int, default=None, help="NUTS chains of the Bayesian fit (default 4)")
    p.add_argument("--warmup", type=int, default=None, help="NUTS warmup steps (default 500)")
    p.add_argument("--draws", type=int, default=None, help="NUTS draws per chain (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="seed of both methods (default 0)")
    p.add_argument("--out", default=None, help="write the backtest table to this CSV (e.g. backtest.csv)")
    p.set_defaults(func=_cmd_backtest)


# Register once, even if this module is reloaded.
if not any(getattr(f, "__module__", None) == __name__ and f.__name__ == "register" for f in _EXTRA_COMMANDS):
    _EXTRA_COMMANDS.append(register)
