"""The ``plot`` and ``variance`` commands of the ``ladderfit`` CLI.

    ladderfit plot KIND [--out FILE.png|pdf] [--data PATH] [--tasks T ...] [--target T ...]
                        [--fit FIT.nc] [--chains N --warmup N --draws N --seed N]
    ladderfit variance [--data PATH] [--run 1B-10xC] [--last-n 10] [--fit FIT.nc]
                       [--target 7B-4T] [--out variance.csv]

KIND is one of step1, step2, chained, forest, variance, trace, rank, parameters
(:data:`ladderfit.plots.PLOTS`). ``--fit`` loads a fit saved with ``LadderFit.save`` instead
of fitting; without it the model is fitted first (the sampler options apply). The module
registers itself with :mod:`ladderfit.cli` on import; matplotlib and JAX are imported only
inside the commands.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .cli import _EXTRA_COMMANDS

__all__ = ["register", "PLOT_KINDS"]

PLOT_KINDS: tuple[str, ...] = ("step1", "step2", "chained", "forest", "variance", "trace", "rank", "parameters")


def _names(values) -> list[str] | None:
    """``--tasks a b`` and ``--tasks a,b`` alike; None when not given."""
    if not values:
        return None
    out = [v.strip() for item in values for v in str(item).split(",") if v.strip()]
    return out or None


def _get_fit(args: argparse.Namespace):
    """Load ``--fit`` or fit the model on ``--data`` with the sampler options."""
    tasks = _names(args.tasks)
    if args.fit:
        from .results import load

        return load(args.fit)
    from .fitting import fit

    options = {k: getattr(args, k) for k in ("chains", "warmup", "draws", "seed") if getattr(args, k) is not None}
    if tasks:
        options["tasks"] = tasks
    print("ladderfit: fitting the model (use --fit FILE to reuse a saved fit) ...", file=sys.stderr)
    return fit(args.data, **options)


def _targets(args: argparse.Namespace):
    return _names(args.target)


def _cmd_plot(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import pandas as pd

    from . import plots

    kind = args.kind
    out = Path(args.out or f"{kind}.png")
    tasks = _names(args.tasks)
    targets = _targets(args)
    if kind == "variance":
        from .variance import variance

        fit = _get_fit(args) if args.fit else None
        fig = plots.plot_variance(
            variance(args.data, run=args.run, last_n=args.last_n, fit=fit, target=targets[0] if targets else None)
        )
    else:
        fit = _get_fit(args)
        if kind == "step1":
            fig = plots.plot_step1(fit, data=args.data, tasks=tasks, target=targets[0] if targets else "7B-4T", x=args.x)
        elif kind == "step2":
            fig = plots.plot_step2(fit, tasks=tasks, target=targets[0] if targets else None)
        elif kind == "chained":
            actual = pd.read_csv(args.actual) if args.actual else None
            fig = plots.plot_chained(fit, tasks=tasks, targets=targets, actual=actual)
        elif kind == "forest":
            preds = fit.predict(targets, levels=(50, 90))
            if tasks:
                preds = preds[preds["task"].isin(tasks)]
            fig = plots.plot_forest(preds)
        elif kind == "trace":
            fig = plots.plot_trace(fit, var_names=args.var_names, tasks=tasks)
        elif kind == "rank":
            fig = plots.plot_rank(fit, var_names=args.var_names, tasks=tasks)
        else:  # parameters
            fig = plots.plot_parameter_forest(fit, var_names=args.var_names, tasks=tasks)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=args.dpi, bbox_inches="tight")
    print(f"wrote {out}")
    return 0


_SHOW = [
    ("rank", "{:d}"), ("acc_sd", "{:.4f}"), ("acc_cv", "{:.4f}"), ("loss_sd", "{:.4f}"), ("loss_cv", "{:.4f}"),
    ("rerun_acc_diff", "{:.4f}"), ("rerun_loss_diff", "{:.4f}"), ("binom_se", "{:.4f}"),
    ("sigma_loss", "{:.4f}"), ("sigma_acc", "{:.4f}"), ("run_tau", "{:.4f}"), ("pred_acc_width90", "{:.4f}"),
    ("backtest_abs_error", "{:.2f}"),
]  # fmt: skip


def format_variance(df) -> str:
    """A readable text table of :func:`ladderfit.variance.variance` (the CSV has every column)."""
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
    import pandas as pd

    from .variance import variance

    fit = None
    if args.fit:
        from .results import load

        fit = load(args.fit)
    backtest = pd.read_csv(args.backtest) if args.backtest else None
    targets = _targets(args)
    df = variance(
        args.data, run=args.run, last_n=args.last_n, fit=fit, target=targets[0] if targets else None,
        backtest=backtest, sort_by=args.sort_by,
    )  # fmt: skip
    print(format_variance(df))
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        df.to_csv(out, index=False)
        print(f"wrote {out}")
    return 0


def _add_target_arg(p: argparse.ArgumentParser, help_default: str) -> None:
    p.add_argument(
        "--target",
        action="append",
        default=None,
        metavar="TARGET",
        help=f"target model: a paper name (7B-4T, 13B-5T) or NAME=N,D; repeatable ({help_default})",
    )


def register(sub, add_data_arg) -> None:
    """Add the ``plot`` and ``variance`` subcommands to the CLI's subparsers."""
    p = sub.add_parser(
        "plot",
        help="draw a figure of a fit (step1, step2, chained, forest, variance, trace, rank, parameters)",
        description="Draw a figure of a fitted ladder and save it (PNG, PDF, SVG: by the --out suffix).",
    )
    p.add_argument("kind", choices=PLOT_KINDS, metavar="KIND", help="one of: " + ", ".join(PLOT_KINDS))
    p.add_argument("--out", default=None, help="output file (default KIND.png); the suffix picks the format")
    add_data_arg(p)
    p.add_argument("--tasks", nargs="+", default=None, help="tasks to fit and draw (default: all)")
    _add_target_arg(p, "default: 7B-4T for step1, none for step2, the paper's two for chained and forest")
    p.add_argument("--fit", default=None, metavar="FIT.nc", help="a fit saved with LadderFit.save; skips fitting")
    p.add_argument("--chains", type=int, default=None, help="NUTS chains (default 4)")
    p.add_argument("--warmup", type=int, default=None, help="warm-up iterations per chain (default 500)")
    p.add_argument("--draws", type=int, default=None, help="draws per chain (default 1000)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default 0)")
    p.add_argument("--actual", default=None, metavar="CSV", help="chained: actual scores, a CSV with target, task, accuracy")
    p.add_argument("--x", choices=["D", "N"], default="D", help="step1: loss vs tokens D per size (default) or vs parameters N per length")
    p.add_argument("--var-names", nargs="+", default=["alpha", "beta", "k"], help="trace/rank/parameters: parameters to show")
    p.add_argument("--run", default=None, help="variance: run whose last checkpoints are used (default 1B-10xC)")
    p.add_argument("--last-n", type=int, default=10, help="variance: number of last checkpoints (default 10)")
    p.add_argument("--dpi", type=int, default=150, help="resolution of raster output (default 150)")
    p.set_defaults(func=_cmd_plot)

    v = sub.add_parser(
        "variance",
        help="rank tasks by predictability (checkpoint noise, seed reruns, binomial SE, fitted noise)",
        description="Per-task noise measures (Bhagia et al. 2024, Sec. 5, and ours), most predictable task first.",
    )
    add_data_arg(v)
    v.add_argument("--run", default=None, help="run whose last checkpoints are used (default 1B-10xC, else the largest run)")
    v.add_argument("--last-n", type=int, default=10, help="number of last checkpoints (default 10)")
    v.add_argument("--fit", default=None, metavar="FIT.nc", help="a saved fit: adds fitted noise scales and 90%% widths")
    _add_target_arg(v, "default 7B-4T; the target of the predictive widths, with --fit")
    v.add_argument("--backtest", default=None, metavar="CSV", help="a backtest table (task, abs_error) to add")
    v.add_argument("--sort-by", default="acc_sd", help="column to rank by, ascending (default acc_sd)")
    v.add_argument("--out", default=None, metavar="CSV", help="also write the full table to this CSV")
    v.set_defaults(func=_cmd_variance)


# once, even if the module is reloaded
if not any(getattr(f, "__module__", None) == __name__ and f.__name__ == "register" for f in _EXTRA_COMMANDS):
    _EXTRA_COMMANDS.append(register)
