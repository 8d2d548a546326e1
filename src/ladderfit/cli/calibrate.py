"""``ladderfit calibrate``: nested hold-outs inside the ladder, intervals scored by distance.

    ladderfit calibrate [--data PATH] [--model NAME] [--compare NAME,...] [--holdout RULE ...]
                        [--tasks hellaswag,piqa] [--runs RUN,...] [--chains 4] [--warmup 300] [--draws N]
                        [--seed 0] [--out calibration.csv] [--save-choice choice.json]

Fits the Bayesian model once per hold-out rule (default: all of largest_size,
two_largest_sizes, largest_multiplier, two_largest_multipliers, corner, small_corner; rules
that do not apply to the ladder are skipped with a note), predicts every held-out run, and
prints the coverage of the 50/80/90/95% intervals, the 90% width, the MAE and the 90%
interval score per distance bin (near d < 0.7, mid, far d > 1.5 in (log N, log D)), then the
PIT counts, then per task its 90% coverage, width, MAE, CRPS and share of truths above the
median, over all its pairs and in the far bin, then (where a hold-out's training runs show
some task only at chance) the pairs of those tasks against the others. With ``--compare``, it
calibrates each model and chooses the one with the lowest CRPS among those whose coverage
holds (the scores table says why). ``--out`` writes one row
per (hold-out, run, task); ``ladderfit plot calibration --calibration FILE`` draws it;
``--save-choice FILE`` writes the chosen model and discrepancy for ``ladderfit predict
--calibration FILE``. See :mod:`ladderfit.analysis.calibration`.
"""

from __future__ import annotations

import argparse

import math

from .common import (NameList, add_data_arg, add_model_args, add_out_arg, add_pool_args, add_sampler_args, check_outputs,
                     model_from_args, write_csv)

__all__ = ["add_parser"]


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from ..analysis.calibration import (calibration, choose_model, format_by_chance, format_by_task, format_calibration,
                                        summarize_by_chance, summarize_by_task, summarize_calibration)
    from ..model.spec import as_spec

    check_outputs(args, out="table", save_choice="calibration choice")
    specs = list(dict.fromkeys([model_from_args(args), *(as_spec(m) for m in args.compare or [])]))
    if args.save_choice and args.discrepancy != "cross_validated":
        from ..errors import LadderDataError

        raise LadderDataError("--save-choice needs --discrepancy cross_validated (the discrepancy it saves is "
                              f"calibrated on the hold-outs), got --discrepancy {args.discrepancy}")
    tables = {}
    for spec in specs:  # keyed by the model fitted (a missing task_loss resolved to the data's loss column)
        table = _calibrate_one(args, spec)
        tables[str(table["model"].iloc[0])] = table
    chosen, scores = choose_model(tables) if len(tables) > 1 else (next(iter(tables)), None)
    table = tables[chosen]
    if scores is not None:
        print("\nmodels by their held-out predictions (all pairs; CRPS and IS90 in points, lower is better; log score "
              "in nats, higher is better; admissible: 90% coverage in 80-97% in every bin of >= 10 pairs)")
        print(scores.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        print(f"chosen: {chosen} (the lowest CRPS{' among the admissible' if scores['admissible'].any() else '; none is admissible'})")
    print()
    print(format_calibration(summarize_calibration(table)))
    print("\nby task (which tasks the ladder predicts, near and far):")
    print(format_by_task(summarize_by_task(table)))
    if table["at_chance"].any():
        print("\ntasks a hold-out's training runs show only at chance (ladderfit.model.chance), against the others:")
        print(format_by_chance(summarize_by_chance(table)))
    if args.out:
        write_csv(args.out, table)
    if args.save_choice:
        from ..analysis.calibration import calibrated_priors
        from ..model.calibrated import write_choice

        records = None if scores is None else scores.to_dict("records")
        write_choice(args.save_choice, chosen, calibrated_priors(table), records, source=args.data or "bundled:olmo")
        print(f"\nwrote {args.save_choice}: model {chosen} and its discrepancy; use it with "
              f"'ladderfit predict --calibration {args.save_choice}' or fit(..., calibration=...)")
    return _convergence_status(tables, args.allow_unconverged)


def _calibrate_one(args: argparse.Namespace, spec):
    """Calibrate one model and print its fits and discrepancy."""
    from ..analysis.calibration import NESTED_HOLDOUTS, calibration
    from ..analysis.discrepancy import DRIFTS
    from ..model.spec import as_spec

    fit_options = {k: getattr(args, k) for k in ("chains", "warmup", "draws") if getattr(args, k) is not None}
    table = calibration(args.data, holdouts=args.holdout or NESTED_HOLDOUTS, model=spec, tasks=args.tasks,
                        runs=args.runs, fit_options=fit_options, seed=0 if args.seed is None else args.seed,
                        discrepancy=args.discrepancy, drifts=DRIFTS if args.drift else (0.0,))  # fmt: skip
    fitted = as_spec(str(table["model"].iloc[0]))
    print(f"ladder {args.data or 'bundled:olmo'}; model {fitted.name}"
          f"{f' (feature {fitted.feature})' if fitted.uses_feature else ''}; "
          f"{table['task'].nunique()} task(s): {', '.join(dict.fromkeys(table['task']))}")
    for rule, info in table.attrs["fits"].items():
        verdict = "converged" if info.converged else (
            "NOT converged: max R-hat {max_r_hat:.3f}, min bulk ESS {min_ess_bulk:.0f}, {divergences} divergences"
        ).format(**info.diagnostics)
        print(f"{rule}: trained on {len(info.train)} runs, predicted {len(info.held)}; fit {info.fit_seconds:.1f} s, "
              f"{verdict}")
    for rule, why in table.attrs["skipped"].items():
        print(f"{rule}: skipped ({why})")
    for rule, by_run in table.attrs.get("discrepancy_by_holdout", {}).items():
        settings = sorted({(e.power, e.drift, e.gamma) for e in by_run.values() if e is not None})
        own = [run for run, e in by_run.items() if e is None]
        print(f"{rule}: scored with " + "; ".join(f"d^{p:g} x ({dr:+.3f} + {g:.3f} eps)" for p, dr, g in settings)
              + " (chosen on the other hold-outs' other runs)"
              + (f"; {', '.join(own)} with the model's own discrepancy (no independent pair to choose on)" if own else ""))
    if "discrepancy" in table.attrs:
        est = table.attrs["discrepancy"]
        print(f"discrepancy from all hold-outs: {est}")
        print(f"  use it: priors={_priors_text(est.priors)}")
    return table


def _priors_text(priors: dict) -> str:
    """``{'discrepancy': ('LogNormal', (-3.26, 0.46)), ...}``: the priors as Python to paste
    into ``ladderfit.fit(priors=...)``, numbers to 4 significant digits."""
    items = (f"{name!r}: ({family!r}, ({', '.join(f'{v:.4g}' for v in params)}{',' if len(params) == 1 else ''}))"
             for name, (family, params) in priors.items())
    return "{" + ", ".join(items) + "}"


def _convergence_status(tables: dict, allow: bool) -> int:
    """0 when every hold-out's fit converged; else name them, and exit 3 unless ``allow``
    (then the table's ``converged`` column marks their rows)."""
    import sys

    bad = [f"{rule} ({name})" for name, t in tables.items() for rule, info in t.attrs["fits"].items()
           if not info.converged]
    if not bad:
        return 0
    verdict = "its rows are marked converged=False in the table" if allow else "exit status 3"
    print(f"ladderfit: warning: the fit(s) of hold-out(s) {', '.join(bad)} did not converge; a calibration on them "
          f"is not trustworthy ({verdict}; more --warmup/--draws, or --allow-unconverged)", file=sys.stderr)
    return 0 if allow else 3


def _discrepancy(text: str):
    if text in ("cross_validated", "model"):
        return text
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected cross_validated, model or a finite number >= 0, got {text!r}") from None
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text!r}")
    return value


def add_parser(sub) -> None:
    """Add ``calibrate`` to the subcommands."""
    from ..analysis.holdouts import NESTED_HOLDOUTS

    p = sub.add_parser(
        "calibrate",
        help="nested hold-outs inside the ladder: interval coverage by distance beyond the training runs",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_data_arg(p)
    add_model_args(p)
    p.add_argument("--holdout", nargs="+", action="extend", choices=NESTED_HOLDOUTS, metavar="RULE",
                   help=f"hold-out rules, one or more of {', '.join(NESTED_HOLDOUTS)} (default: all)")
    p.add_argument("--discrepancy", type=_discrepancy, default="cross_validated", metavar="HOW",
                   help="discrepancy to predict with: cross_validated (default: each held-out run with the setting "
                        "calibrated on the other hold-outs' other runs), model (the model's prior) or a finite "
                        "number >= 0")
    add_pool_args(p)
    add_sampler_args(p, defaults=False)
    add_out_arg(p, "write the calibration table to this CSV (e.g. calibration.csv)")
    p.add_argument("--compare", action=NameList, default=None, metavar="NAME[,NAME...]",
                   help="other models to calibrate beside --model; the one whose held-out predictions have the "
                        "lowest CRPS (among those whose 90%% coverage is 80-97%% in every distance bin) is chosen")
    p.add_argument("--drift", action="store_true",
                   help="let the hold-outs choose a drift of the discrepancy too (its mean: the law's bias beyond "
                        "the ladder), d^p (delta + gamma eps); by default delta = 0")
    p.add_argument("--save-choice", default=None, metavar="FILE",
                   help="write the chosen model and its calibrated discrepancy to this JSON file, for "
                        "'ladderfit predict --calibration FILE'")
    p.add_argument("--allow-unconverged", action="store_true",
                   help="exit 0 even when a hold-out's fit did not converge (its rows say converged=False); "
                        "by default such a calibration exits with status 3")
    p.set_defaults(func=_cmd_calibrate)
