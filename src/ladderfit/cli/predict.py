"""``ladderfit predict``: fit the joint model and print target accuracy with intervals."""

from __future__ import annotations

import argparse
import sys

from .common import (add_data_arg, add_model_args, add_progress_args, add_sampler_args, add_target_arg, check_outputs,
                     say_fitting, split_names)

__all__ = ["add_parser", "format_predictions"]


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

    from ..data.targets import as_targets
    from ..model.bayes import fit as fit_model
    from ..model.diagnostics import ConvergenceWarning
    from ..data.readers import read_data
    from ..data.schema import check_model_columns
    from ..io import atomic_write
    from ..model.spec import as_spec

    # checked before sampling: outputs, targets, the data and the model's columns
    check_outputs(args, out="table", save="fit")
    targets = as_targets(args.target or None)
    spec = as_spec(args.model, structure=args.structure, feature=args.feature,
                   run_effects=True if args.run_effects else None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        say_fitting(args)
        data = read_data(args.data) if args.data is not None else None
        if data is not None:  # the model's columns, before sampling
            check_model_columns(data, spec.structure, spec.feature, source=args.data)
        fit = fit_model(
            data,
            tasks=split_names(args.tasks),
            chains=args.chains,
            draws=args.draws,
            warmup=args.warmup,
            seed=args.seed,
            model=spec,
            progress_bar=args.progress,
        )
    _show_warnings(caught)
    if args.save:  # the fit first: it is the costly part, kept even if a later step fails
        fit.save(args.save)
        print(f"saved the fit to {args.save}")
    pred = fit.predict(targets)
    d = fit.diagnostics.as_dict()
    _print_summary(fit, d, targets)
    print()
    print(format_predictions(pred, "accuracy"))
    if args.loss and (pred["quantity"] == "task_loss").any():
        print()
        print(format_predictions(pred, "task_loss"))
    if args.out:
        atomic_write(args.out, lambda tmp: pred.to_csv(tmp, index=False))
        print(f"\nwrote {args.out}")
    return 0 if d["converged"] else 3


def _show_warnings(caught: list) -> None:
    """Show the warnings caught while fitting once each; a ConvergenceWarning as a plain WARNING line."""
    import warnings

    from ..model.diagnostics import ConvergenceWarning

    shown = set()
    for w in caught:
        if (w.category, str(w.message)) in shown:  # the data are validated twice
            continue
        shown.add((w.category, str(w.message)))
        if issubclass(w.category, ConvergenceWarning):
            print(f"\nWARNING: {w.message}\n", file=sys.stderr)
        else:
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)


def _print_summary(fit, d: dict, targets) -> None:
    """One line on the fit (tasks, runs, seconds, R-hat, ESS, divergences), then the targets."""
    chains = fit.idata.posterior.sizes["chain"]
    rhat = "R-hat n/a (1 chain)" if chains < 2 else f"max R-hat {d['max_r_hat']:.3f}"
    print(
        f"fitted {len(fit.tasks)} tasks on {fit.model_data.n_runs} runs in {fit.sampling_seconds:.0f} s: "
        f"{rhat}, min bulk ESS {d['min_ess_bulk']:.0f}, {d['divergences']} divergences"
        + ("" if d["converged"] else "  — NOT CONVERGED")
    )
    print(targets.to_string(index=False, formatters={"N": "{:.4g}".format, "D": "{:.4g}".format, "flops": "{:.3g}".format}))


def add_parser(sub) -> None:
    """Add ``predict`` to the subcommands."""
    p = sub.add_parser(
        "predict",
        help="fit the joint model and predict target accuracy with intervals",
        description="Fit the joint Bayesian two-step model (bundled OLMo ladder by default) and predict targets.",
    )
    add_data_arg(p)
    add_target_arg(p, "default: 7B-4T and 13B-5T")
    p.add_argument("--tasks", default=None, help="comma-separated task names (default: all in the data)")
    add_sampler_args(p)
    add_model_args(p)
    p.add_argument("--out", help="write the tidy predictions to this CSV")
    p.add_argument("--save", help="save the fit (netCDF) to this path")
    p.add_argument("--loss", action="store_true", help="also print the predicted task loss")
    add_progress_args(p)
    p.set_defaults(func=_cmd_predict)

