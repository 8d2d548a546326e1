"""``ladderfit variance``: rank tasks by predictability.

    ladderfit variance [--data PATH] [--run 1B-10xC] [--last-n 10] [--fit FIT.nc]
                       [--target 7B-4T] [--out variance.csv]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import add_data_arg, add_target_arg, check_outputs, int_at_least, split_names

__all__ = ["add_parser", "format_variance"]

_SHOW = [
    ("rank", "{:d}"), ("acc_sd", "{:.4f}"), ("acc_cv", "{:.4f}"), ("loss_sd", "{:.4f}"), ("loss_cv", "{:.4f}"),
    ("rerun_acc_diff", "{:.4f}"), ("rerun_loss_diff", "{:.4f}"), ("binom_se", "{:.4f}"),
    ("sigma_loss", "{:.4f}"), ("sigma_acc", "{:.4f}"), ("pred_acc_width90", "{:.4f}"),
    ("backtest_abs_error", "{:.2f}"),
]  # fmt: skip


def format_variance(df) -> str:
    """A readable text table of :func:`ladderfit.analysis.variance.variance` (the CSV has every column)."""
    cols = [(c, f) for c, f in _SHOW if c in df.columns and df[c].notna().any()]
    head = f"{'task':<14}" + "".join(f"{c:>{max(len(c), 7) + 2}}" for c, _ in cols)
    lines = [head]
    for r in df.to_dict("records"):
        cells = []
        for c, f in cols:
            v = r[c]
            text = "nan" if v != v else f.format(int(v) if f == "{:d}" else v)  # noqa: PLR0124 (NaN check)
            cells.append(f"{text:>{max(len(c), 7) + 2}}")
        lines.append(f"{r['task']:<14}" + "".join(cells))
    run, last_n, key = df.attrs.get("run"), df.attrs.get("last_n"), df.attrs.get("sort_by", "acc_sd")
    lines.append(
        f"\nrun {run}, last {last_n} checkpoints; sorted by {key} (most predictable first). "
        "Accuracy measures are fractions; backtest_abs_error is in points."
    )
    return "\n".join(lines)


def _cmd_variance(args: argparse.Namespace) -> int:
    from ..analysis.variance import variance
    from ..io import atomic_write

    check_outputs(args, out="table")
    fit = None
    if args.fit:
        from ..model.results import load

        fit = load(args.fit)
    backtest = None
    if args.backtest:
        from ..data.csv_files import read_csv_file

        backtest = read_csv_file(Path(args.backtest), "a backtest table", "a CSV written by 'ladderfit backtest --out'")
    targets = args.target or None  # NAME=N,D holds a comma: never split targets
    df = variance(
        args.data, run=args.run, last_n=args.last_n, fit=fit, target=targets[0] if targets else None,
        backtest=backtest, sort_by=args.sort_by,
    )  # fmt: skip
    print(format_variance(df))
    if args.out:
        out = Path(args.out)
        atomic_write(out, lambda tmp: df.to_csv(tmp, index=False))
        print(f"wrote {out}")
    return 0


def add_parser(sub) -> None:
    """Add ``variance`` to the subcommands."""
    v = sub.add_parser(
        "variance",
        help="rank tasks by predictability (checkpoint noise, seed reruns, binomial SE, fitted noise)",
        description="Per-task noise measures (Bhagia et al. 2024, Sec. 5, and ours), most predictable task first.",
    )
    add_data_arg(v)
    v.add_argument("--run", default=None, help="run whose last checkpoints are used (default 1B-10xC, else the largest run)")
    v.add_argument("--last-n", type=int_at_least(2, " (an sd needs two checkpoints)"), default=10, help="number of last checkpoints (default 10)")
    v.add_argument("--fit", default=None, metavar="FIT.nc", help="a saved fit: adds fitted noise scales and 90%% widths")
    add_target_arg(v, "default 7B-4T; the target of the predictive widths, with --fit")
    v.add_argument("--backtest", default=None, metavar="CSV", help="a backtest table (task, abs_error) to add")
    v.add_argument("--sort-by", default="acc_sd", help="column to rank by, ascending (default acc_sd)")
    v.add_argument("--out", default=None, metavar="CSV", help="also write the full table to this CSV")
    v.set_defaults(func=_cmd_variance)
