"""CLI commands beyond ``data``: ``predict`` here; others register from their own modules."""

from __future__ import annotations

import argparse
import sys

from .cli import _EXTRA_COMMANDS

__all__ = ["format_predictions", "add_sampler_args"]


def add_sampler_args(p: argparse.ArgumentParser) -> None:
    """--tasks, --chains, --draws, --warmup, --seed: shared by commands that fit."""
    from .config import FitConfig

    d = FitConfig()
    p.add_argument("--tasks", default=None, help="comma-separated task names (default: all in the data)")
    p.add_argument("--chains", type=int, default=d.chains, help=f"NUTS chains (default {d.chains})")
    p.add_argument("--draws", type=int, default=d.draws, help=f"draws per chain after warmup (default {d.draws})")
    p.add_argument("--warmup", type=int, default=d.warmup, help=f"warmup iterations per chain (default {d.warmup})")
    p.add_argument("--seed", type=int, default=d.seed, help="random seed (default 0)")


def _split(text: str | None) -> list[str] | None:
    return None if not text else [t.strip() for t in text.split(",") if t.strip()]


def format_predictions(pred, quantity: str = "accuracy", level: int = 90) -> str:
    """A readable table: one row per task, per target the median and central interval."""
    import pandas as pd

    p = pred[pred["quantity"] == quantity]
    scale, unit = (100.0, "%") if quantity == "accuracy" else (1.0, "")
    cells = {}
    for (target, task), r in p.set_index(["target", "task"]).iterrows():
        lo, hi = r[f"lower_{level}"] * scale, r[f"upper_{level}"] * scale
        fmt = "{:.1f}" if quantity == "accuracy" else "{:.3f}"
        cells.setdefault(target, {})[task] = f"{fmt.format(r['median'] * scale)}{unit} [{fmt.format(lo)}, {fmt.format(hi)}]"
    table = pd.DataFrame(cells)[list(dict.fromkeys(p["target"]))]
    table.index.name = "task"
    title = f"{quantity.replace('_', ' ')}: posterior predictive median [{level}% interval]"
    return title + "\n" + table.to_string()


def _cmd_predict(args: argparse.Namespace) -> int:
    import warnings

    import ladderfit

    from .diagnostics import ConvergenceWarning
    from .targets import as_targets

    targets = as_targets(args.target or None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        fit = ladderfit.fit(
            args.data,
            tasks=_split(args.tasks),
            chains=args.chains,
            draws=args.draws,
            warmup=args.warmup,
            seed=args.seed,
            variant=args.variant,
            feature=args.feature,
            run_effects=args.run_effects,
            progress_bar=not args.quiet,
        )
    for w in caught:
        if issubclass(w.category, ConvergenceWarning):
            print(f"\nWARNING: {w.message}\n", file=sys.stderr)
        else:
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    pred = fit.predict(targets)
    d = fit.diagnostics.as_dict()
    print(
        f"fitted {len(fit.tasks)} tasks on {fit.model_data.n_runs} runs in {fit.sampling_seconds:.0f} s: "
        f"max R-hat {d['max_r_hat']:.3f}, min bulk ESS {d['min_ess_bulk']:.0f}, {d['divergences']} divergences"
        + ("" if d["converged"] else "  — NOT CONVERGED")
    )
    print(targets.to_string(index=False, formatters={"N": "{:.4g}".format, "D": "{:.4g}".format, "flops": "{:.3g}".format}))
    print()
    print(format_predictions(pred, "accuracy"))
    if args.loss and (pred["quantity"] == "task_loss").any():
        print()
        print(format_predictions(pred, "task_loss"))
    if args.out:
        pred.to_csv(args.out, index=False)
        print(f"\nwrote {args.out}")
    if args.save:
        fit.save(args.save)
        print(f"saved the fit to {args.save}")
    return 0 if d["converged"] else 3


def _register_predict(sub, add_data_arg) -> None:
    p = sub.add_parser(
        "predict",
        help="fit the joint model and predict target accuracy with intervals",
        description="Fit the joint Bayesian two-step model (bundled OLMo ladder by default) and predict targets.",
    )
    add_data_arg(p)
    p.add_argument(
        "--target",
        action="append",
        metavar="NAME[=N,D]",
        help="a paper target (7B-4T, 13B-5T) or NAME=N,D (repeatable; default: 7B-4T and 13B-5T)",
    )
    add_sampler_args(p)
    p.add_argument("--variant", choices=["two_step", "compute", "single_step"], default="two_step",
                   help="step 1 in (N, D) (default), in training compute C, or accuracy straight from (N, D)")
    p.add_argument("--feature", default="task_loss", help="intermediate feature column (default task_loss)")
    p.add_argument("--run-effects", action="store_true", help="add run-level effects to step 2 (a model variant)")
    p.add_argument("--out", help="write the tidy predictions to this CSV")
    p.add_argument("--save", help="save the fit (netCDF) to this path")
    p.add_argument("--loss", action="store_true", help="also print the predicted task loss")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_predict)


_EXTRA_COMMANDS.append(_register_predict)

# Commands in their own modules register on import.
from . import cli_backtest, cli_plots  # noqa: E402,F401
