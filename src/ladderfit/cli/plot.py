"""``ladderfit plot KIND``: draw a figure of a fit and save it.

    ladderfit plot KIND [--out FILE.png|pdf] [--data PATH] [--tasks T,T ...] [--target T ...]
                        [--fit FIT.nc | --model NAME --chains N --warmup N --draws N --seed N]
    ladderfit plot calibration --calibration calibration.csv [--out FILE.png]

KIND is one of step1, step2, chained, forest, variance, trace, rank, parameters, calibration,
prior, ppc, loo_pit, design (:data:`ladderfit.plots.PLOTS`; ``--step 1|2`` picks the observations of
ppc and loo_pit; ``design`` takes ``--candidate NAME=N,D`` or ``--sizes``/``--multipliers`` and draws
the stopping view of :func:`ladderfit.analysis.design.design` for ``--target``). ``--fit`` loads a fit saved with ``LadderFit.save`` instead
of fitting (the model and sampler options are then an error); without it the model is fitted
first (the model and sampler options apply). ``calibration``
draws the table written by ``ladderfit calibrate --out`` and fits nothing. matplotlib and
JAX are imported only inside the command.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .common import (add_data_arg, add_model_args, add_out_arg, add_sampler_args, add_target_arg, add_tasks_arg,
                     check_fit_options, check_outputs, fit_header, int_at_least, model_from_args, positive_int)

__all__ = ["add_parser", "PLOT_KINDS", "get_fit"]

PLOT_KINDS: tuple[str, ...] = (
    "step1", "step2", "chained", "forest", "variance", "trace", "rank", "parameters", "calibration",
    "prior", "ppc", "loo_pit", "design",
)  # fmt: skip


def get_fit(args: argparse.Namespace):
    """Load ``--fit`` or fit the model on ``--data`` with the model and sampler options; say which."""
    if args.fit:
        from ..model.results import load

        fit = load(args.fit)
        print(fit_header(fit, f"of the saved fit {args.fit}"))
        return fit
    from ..model.bayes import fit

    options = {k: getattr(args, k) for k in ("chains", "warmup", "draws", "seed") if getattr(args, k) is not None}
    if args.tasks:
        options["tasks"] = args.tasks
    print("ladderfit: fitting the model (use --fit FILE to reuse a saved fit) ...", file=sys.stderr)
    spec = model_from_args(args)
    if _two_step_figure(args) and args.model is None and args.structure is None:
        spec = spec.replace(structure="two_step")  # step 1 and step 2 are figures of the two-step model
    fitted = fit(args.data, model=spec, progress_bar=False, **options)  # no host callbacks: cached
    print(fit_header(fitted, args.data))
    return fitted


def _two_step_figure(args: argparse.Namespace) -> bool:
    """Whether the figure draws the two steps (task loss, the sigmoid), which the default single step has not."""
    return args.kind in ("step1", "step2", "chained")


def _cmd_plot(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")

    from ..io import atomic_path

    kind = args.kind
    if kind == "design":  # the candidates, before any fitting
        from .design import candidates_from_args

        candidates_from_args(args)
    out = Path(args.out or f"{kind}.png")
    args.out = str(out)
    check_outputs(args, out="figure")
    check_fit_options(args)
    if not args.fit and kind not in ("calibration", "variance"):
        model_from_args(args)  # the model options agree, before reading or fitting anything
    tasks = args.tasks
    targets = args.target or None  # NAME=N,D holds a comma: never split targets
    _check_before_fitting(args, targets)
    if kind in ("calibration", "variance"):
        fig = _table_figure(args, targets)
    else:
        fig = _fit_figure(args, tasks, targets)
    with atomic_path(out) as tmp:  # a failed or interrupted write leaves the previous figure
        fig.savefig(tmp, dpi=args.dpi, bbox_inches="tight", format=out.suffix.lstrip(".").lower())
    print(f"wrote {out}")
    return 0


def _check_before_fitting(args: argparse.Namespace, targets: list[str] | None) -> None:
    """What needs no posterior, before any fitting: the targets, --var-names (parameters of some
    model) and --actual (read and checked into ``args.actual_table``)."""
    from ..data.targets import as_targets

    if targets:
        as_targets(targets)
    if args.kind in ("trace", "rank", "parameters"):
        _check_var_names(args.var_names, _model_parameters(), "a parameter of the models")
    args.actual_table = _read_actual(args.actual, targets) if args.kind == "chained" and args.actual else None


def _model_parameters() -> set[str]:
    """The parameters of every model structure (the variables of a posterior)."""
    from ..model.bayes import DIMS
    from ..model.joint import SAMPLED_SITES

    return (set(DIMS) - {"loss_obs", "acc_obs", "final_acc_obs"}) | set(SAMPLED_SITES)


def _check_var_names(names, known, what: str) -> None:
    """--var-names: each a name of ``known`` (``~name`` leaves one out, as in ArviZ)."""
    from ..errors import LadderDataError

    unknown = [n for n in names if n.lstrip("~") not in known]
    if unknown:
        raise LadderDataError(f"--var-names: {', '.join(map(repr, unknown))} is not {what}; expected some of "
                              f"{', '.join(sorted(known))}")


def _read_actual(path: str, targets: list[str] | None):
    """--actual: a CSV of target, task, accuracy (of targets among those drawn), read before fitting."""
    from ..data.csv_files import read_csv_file
    from ..data.targets import as_targets
    from ..errors import LadderDataError
    from ..plots.tables import actual_table

    df = read_csv_file(Path(path), "a CSV of actual scores", "a CSV with columns target, task, accuracy")
    tg = as_targets(targets)
    try:
        table = actual_table(df, tg)
    except ValueError as err:
        raise LadderDataError(f"--actual {path}: {err}") from None
    unknown = sorted(set(table["target"]) - set(tg["target"]))
    if unknown or table.empty:
        raise LadderDataError(f"--actual {path}: " + (f"target(s) {unknown} are not among the targets drawn "
                              f"({', '.join(tg['target'])})" if unknown else "no rows; expected target, task, accuracy"))
    return df


def _table_figure(args: argparse.Namespace, targets: list[str] | None):
    """The figures of a table rather than a fit: calibration (from its CSV) and variance."""
    from .. import plots
    from ..errors import LadderDataError

    if args.kind == "calibration":
        from ..analysis.calibration import read_calibration

        if not args.calibration:
            raise LadderDataError(
                "plot calibration: needs --calibration FILE.csv, the table written by "
                "'ladderfit calibrate --out FILE.csv' (plot does not run the calibration's fits)"
            )
        return plots.plot_calibration(read_calibration(args.calibration))
    from ..analysis.variance import variance

    fit = get_fit(args) if args.fit else None
    return plots.plot_variance(
        variance(args.data, run=args.run, last_n=args.last_n, fit=fit, target=targets[0] if targets else None)
    )


def _fit_figure(args: argparse.Namespace, tasks: list[str] | None, targets: list[str] | None):
    """The figures of a fit (read with --fit, or fitted here), for the tasks asked for."""
    from .. import plots
    from ..errors import LadderDataError

    kind = args.kind
    fit = get_fit(args)
    unknown = [t for t in tasks or () if t not in fit.tasks]
    if unknown:
        source = f"the fit {args.fit}" if args.fit else "the fit"
        raise LadderDataError(
            f"--tasks: {', '.join(map(repr, unknown))} not in {source}; it has {', '.join(fit.tasks)}"
        )
    if kind == "step1":
        return plots.plot_step1(fit, data=args.data, tasks=tasks, target=targets[0] if targets else "7B-4T", x=args.x)
    if kind == "step2":
        return plots.plot_step2(fit, tasks=tasks, target=targets[0] if targets else None)
    if kind == "chained":
        return plots.plot_chained(fit, tasks=tasks, targets=targets, actual=args.actual_table)
    if kind == "forest":
        preds = fit.predict(targets, levels=(50, 90))
        if tasks:
            preds = preds[preds["task"].isin(tasks)]
        return plots.plot_forest(preds)
    if kind == "design":
        from ..analysis.design import design
        from ..data.readers import read_data
        from .design import candidates_from_args

        target = targets[0] if targets else "7B-4T"
        data = read_data(args.data) if args.data is not None or not args.fit else None
        return plots.plot_design(design(fit, target, candidates_from_args(args), tasks=tasks, data=data,
                                        greedy_steps=args.greedy))
    if kind in ("trace", "rank", "parameters"):
        _check_var_names(args.var_names, set(fit.idata.posterior.data_vars), f"a parameter of model {fit.config.model.name}")
    if kind == "trace":
        return plots.plot_trace(fit, var_names=args.var_names, tasks=tasks)
    if kind == "rank":
        return plots.plot_rank(fit, var_names=args.var_names, tasks=tasks)
    if kind == "prior":
        return plots.plot_prior_predictive(fit, task=tasks, seed=fit.config.seed)
    if kind == "ppc":
        return plots.plot_ppc(fit, step=args.step, tasks=tasks)
    if kind == "loo_pit":
        return plots.plot_loo_pit(fit, step=args.step, tasks=tasks)
    return plots.plot_parameter_forest(fit, var_names=args.var_names, tasks=tasks)  # parameters


def add_parser(sub) -> None:
    """Add ``plot`` to the subcommands."""
    p = sub.add_parser(
        "plot",
        help="draw a figure of a fit (step1, step2, chained, forest, variance, trace, rank, parameters, prior, "
             "ppc, loo_pit), "
             "the stopping view of a ladder design (design) or of a calibration table (calibration)",
        description="Draw a figure of a fitted ladder and save it (PNG, PDF, SVG: by the --out suffix).",
    )
    p.add_argument("kind", choices=PLOT_KINDS, metavar="KIND", help="one of: " + ", ".join(PLOT_KINDS))
    add_out_arg(p, "output file (default KIND.png); the suffix picks the format", metavar="FILE")
    add_data_arg(p)
    add_tasks_arg(p, "tasks to fit and draw", default="all", space_separated=True)
    add_target_arg(p, "default: 7B-4T for step1, none for step2, the paper's two for chained and forest")
    p.add_argument("--fit", default=None, metavar="FIT.nc", help="a fit saved with LadderFit.save; skips fitting")
    add_model_args(p)
    add_sampler_args(p, defaults=False)
    p.add_argument("--calibration", default=None, metavar="CSV",
                   help="calibration: the table written by 'ladderfit calibrate --out'")
    p.add_argument("--actual", default=None, metavar="CSV", help="chained: actual scores, a CSV with target, task, accuracy")
    p.add_argument("--x", choices=["D", "N"], default="D", help="step1: loss vs tokens D per size (default) or vs parameters N per length")
    p.add_argument("--var-names", nargs="+", default=["alpha", "beta", "k"], help="trace/rank/parameters: parameters to show")
    p.add_argument("--step", type=int, choices=[1, 2], default=2, help="ppc/loo_pit: step-1 or step-2 observations (default 2)")
    p.add_argument("--run", default=None, help="variance: run whose last checkpoints are used (default 1B-10xC)")
    p.add_argument("--last-n", type=int_at_least(2, " (an sd needs two checkpoints)"), default=10, help="variance: number of last checkpoints (default 10)")
    from .design import add_candidate_args

    add_candidate_args(p)
    p.add_argument("--greedy", type=positive_int, default=5, help="design: steps of the greedy stopping view (default 5)")
    p.add_argument("--dpi", type=int_at_least(20, high=1200), default=150,
                   help="resolution of raster output, 20 to 1200 (default 150)")
    p.set_defaults(func=_cmd_plot)
