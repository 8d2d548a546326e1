"""``ladderfit predict``: fit the model (or load a saved fit) and print target accuracy with intervals."""

from __future__ import annotations

import argparse
import math
import sys

from .common import (add_data_arg, add_model_args, add_out_arg, add_progress_args, add_sampler_args, add_target_arg,
                     add_tasks_arg, check_fit_options, check_outputs, fit_header, model_from_args, say_fitting)

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


def _discrepancy(text: str):
    """--discrepancy: ``calibrated`` -> None (the fit's priors), ``none`` -> 0, else a finite number >= 0."""
    if text == "calibrated":
        return None
    if text == "none":
        return 0.0
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"expected calibrated, none or a finite number >= 0, got {text!r}")
    return value


def format_locations(fit, targets) -> str:
    """One line per target: where it lies relative to the ladder, and whether the discrepancy's
    growth with the distance is extrapolated past the hold-outs it was calibrated on."""
    lines = []
    for r in fit.locate(targets).itertuples():
        text = {"inside": "inside the ladder (d = 0)",
                "beyond": f"{r.distance:.2f} log-units beyond the ladder",
                "beside": f"{r.distance:.2f} log-units outside the ladder's hull, not beyond it"}[r.location]
        if r.extrapolated:
            top = fit.priors["discrepancy_max_distance"][1][0]
            text += f" (the discrepancy was calibrated on hold-outs up to d = {top:.2f}: its growth is extrapolated)"
        lines.append(f"  {r.target}: {text}")
    return "\n".join(lines)


def format_at_chance(fit) -> str:
    """One line per task the ladder shows only at chance (:meth:`LadderFit.tasks_at_chance`), or ""."""
    from ..model.chance import AT_CHANCE_SDS

    rows = fit.tasks_at_chance().query("at_chance")

    def sds(z: float) -> str:
        return f"{abs(z):.1f} binomial sds {'above' if z >= 0 else 'below'} it, fewer than {AT_CHANCE_SDS:g} above"

    lines = [f"  {r.task}: at chance on this ladder (best run {100 * r.best_accuracy:.1f}%, chance {100 * r.chance:.1f}%: "
             f"{sds(r.sds_above_chance)}): when it leaves chance is not in the data, and its intervals beyond the "
             "ladder are not calibrated for that" for r in rows.itertuples()]  # fmt: skip
    return "\n".join(lines)


def _cmd_predict(args: argparse.Namespace) -> int:
    import warnings

    from ..data.targets import as_targets
    from ..model.bayes import fit as fit_model
    from ..model.diagnostics import ConvergenceWarning
    from ..data.readers import read_data
    from ..data.schema import check_model_columns
    from ..model.spec import check_feature

    # checked before sampling: outputs, targets, the model options, the data and the model's columns
    check_outputs(args, out="table", save="fit")
    targets = as_targets(args.target or None)
    if args.fit:  # a saved fit: predict from its posterior, no sampling
        return _predict_saved(args, targets)
    spec = model_from_args(args)
    choice = None
    if args.calibration is not None:  # the ladder's own calibration: read before sampling
        from ..model.calibrated import read_choice
        from ..model.spec import as_spec

        choice = read_choice(args.calibration)
        if args.model is None and args.structure is None and args.feature is None and not args.run_effects:
            spec = as_spec(choice["model"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        say_fitting(args)
        data = read_data(args.data) if args.data is not None else None
        if data is not None:  # the model's columns, before sampling
            check_model_columns(data, spec.structure, spec.feature, source=args.data)
            check_feature(data, spec, source=args.data)
        options = {k: getattr(args, k) for k in ("chains", "draws", "warmup", "seed") if getattr(args, k) is not None}
        fit = fit_model(
            data,
            tasks=args.tasks,
            model=spec,
            progress_bar=args.progress,
            **options,  # the fit's own defaults for the rest
            **({"calibration": choice} if choice is not None else {}),
        )
    _show_warnings(caught, args.data or "bundled:olmo")
    if args.save:  # the fit first: it is the costly part, kept even if a later step fails
        fit.save(args.save)
        print(f"saved the fit to {args.save}")
    return _print_predictions(args, fit, targets, fit_header(fit, args.data))


def _predict_saved(args: argparse.Namespace, targets) -> int:
    """``--fit FILE``: the targets from a fit saved with ``--save`` (or ``LadderFit.save``): its
    posterior, model and discrepancy as saved; the options of a new fit are an error."""
    from ..errors import LadderDataError
    from ..model.results import load

    check_fit_options(args)
    given = [f"--{k}" for k in ("data", "tasks", "calibration") if getattr(args, k, None)]
    if given:
        raise LadderDataError(f"--fit {args.fit} loads a saved fit with its ladder, tasks and discrepancy; "
                              f"{', '.join(given)} set(s) a new fit: drop --fit to fit anew, or drop those options")
    fit = load(args.fit)
    if args.save:
        fit.save(args.save)
        print(f"saved the fit to {args.save}")
    return _print_predictions(args, fit, targets, fit_header(fit, f"of the saved fit {args.fit}"))


def _print_predictions(args: argparse.Namespace, fit, targets, header: str) -> int:
    """The fit's line, the targets' table (and --out); exit 0, or 3 if the fit did not converge."""
    from ..io import atomic_write

    pred = fit.predict(targets, discrepancy=args.discrepancy)
    d = fit.diagnostics.as_dict()
    print(header)
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


def _show_warnings(caught: list, source: str) -> None:
    """Show the warnings caught while fitting once each; a ConvergenceWarning as a plain WARNING
    line. The fit validates the table read from ``--data`` as a DataFrame: its warnings name
    ``source`` instead."""
    import warnings

    from ..model.diagnostics import ConvergenceWarning

    shown = set()
    for w in caught:
        text = str(w.message)
        text = f"{source}: {text[len('DataFrame: '):]}" if text.startswith("DataFrame: ") else text
        if (w.category, text) in shown:  # the data are validated twice
            continue
        shown.add((w.category, text))
        if issubclass(w.category, ConvergenceWarning):
            print(f"\nWARNING: {text}\n", file=sys.stderr)
        else:
            warnings.showwarning(text, w.category, w.filename, w.lineno)


def _print_summary(fit, d: dict, targets) -> None:
    """One line on the fit (tasks, runs, seconds, R-hat, ESS, divergences), then the targets."""
    chains = fit.n_chains
    rhat = "R-hat n/a (1 chain)" if chains < 2 else f"max R-hat {d['max_r_hat']:.3f}"
    print(
        f"fitted {len(fit.tasks)} tasks on {fit.model_data.n_runs} runs in {fit.sampling_seconds:.2f} s: "
        f"{rhat}, min bulk ESS {d['min_ess_bulk']:.0f}, {d['divergences']} divergences"
        + ("" if d["converged"] else "  — NOT CONVERGED")
    )
    if fit.draws_note:
        print(f"{chains} chains, {fit.draws_note}")
    print(targets.to_string(index=False, formatters={"N": "{:.4g}".format, "D": "{:.4g}".format, "flops": "{:.3g}".format}))
    print(format_locations(fit, targets))
    at_chance = format_at_chance(fit)
    if at_chance:
        print(at_chance)


def add_parser(sub) -> None:
    """Add ``predict`` to the subcommands."""
    p = sub.add_parser(
        "predict",
        help="fit the model and predict target accuracy with intervals",
        description="Fit the Bayesian model (default: the single step; the bundled OLMo ladder by default) and "
                    "predict targets; --fit predicts from a saved fit instead.",
    )
    add_data_arg(p)
    add_target_arg(p, "default: 7B-4T and 13B-5T")
    add_tasks_arg(p)
    add_sampler_args(p, defaults=False)  # None: not given (an error with --fit), the fit's default
    add_model_args(p)
    add_out_arg(p, "write the tidy predictions to this CSV")
    p.add_argument("--save", help="save the fit (netCDF) to this path")
    p.add_argument("--fit", default=None, metavar="FIT.nc",
                   help="predict from a fit saved with --save (no sampling: other targets, levels or "
                        "--discrepancy on the same posterior); the options of a new fit are then an error")
    p.add_argument("--calibration", default=None, metavar="FILE",
                   help="a ladder's own calibration (written by 'ladderfit calibrate --save-choice'): its model, "
                        "unless --model is given, and its discrepancy")
    p.add_argument("--discrepancy", type=_discrepancy, default=None, metavar="HOW",
                   help="calibrated (default: the model's calibrated discrepancy, or --calibration's), none (no "
                        "discrepancy: the law taken as exact beyond the ladder) or GAMMA (a fixed spread, a finite "
                        "number >= 0, with the calibrated drift)")
    p.add_argument("--loss", action="store_true", help="also print the predicted task loss")
    add_progress_args(p)
    p.set_defaults(func=_cmd_predict)

