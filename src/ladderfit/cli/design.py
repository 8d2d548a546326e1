"""``ladderfit design``: which rung to train next, ranked by expected narrowing of the target's interval per FLOP.

    ladderfit design --target 7B-4T --candidate 1B-20xC=1.28e9,5.1e11 --candidate 3B=3.2e9,6.3e10
                     [--sizes 1e9,3e9 --multipliers 1,2,5,10] [--fit FIT.nc | --data PATH --model NAME --chains ...]
                     [--tasks a,b] [--outcomes 64] [--greedy 5] [--out design.csv] [--greedy-out greedy.csv]
"""

from __future__ import annotations

import argparse
import sys

from .common import (add_data_arg, add_model_args, add_out_arg, add_progress_args, add_sampler_args, add_tasks_arg,
                     check_fit_options, check_outputs, fit_header, int_at_least, model_from_args, nonnegative_int,
                     seed_int)

__all__ = ["add_parser", "format_ranking", "format_greedy", "candidates_from_args", "add_candidate_args"]


def _numbers(text: str, option: str) -> list[float]:
    from ..errors import LadderDataError

    out = []
    for item in str(text).split(","):
        item = item.strip()
        if not item:
            continue
        try:
            out.append(float(item.replace("_", "")))
        except ValueError:
            raise LadderDataError(f"{option}: {item!r} is not a number; expected e.g. {option} 1e9,3e9") from None
    if not out:
        raise LadderDataError(f"{option}: no numbers given; expected e.g. {option} 1e9,3e9")
    return out


def candidates_from_args(args: argparse.Namespace):
    """The candidates of ``--candidate`` (repeatable) and the grid ``--sizes`` x ``--multipliers``."""
    import pandas as pd

    from ..analysis.design import as_candidates, candidate_grid
    from ..errors import LadderDataError

    parts = []
    if args.candidate:
        parts.append(as_candidates(list(args.candidate)))
    if args.sizes or args.multipliers:
        if not (args.sizes and args.multipliers):
            raise LadderDataError("--sizes and --multipliers go together (a grid: D = multiplier x 20 N)")
        parts.append(candidate_grid(_numbers(args.sizes, "--sizes"), _numbers(args.multipliers, "--multipliers")))
    if not parts:
        raise LadderDataError("design: no candidates; give --candidate NAME=N,D (repeatable) or --sizes and --multipliers")
    return as_candidates(pd.concat(parts, ignore_index=True))


def format_ranking(result) -> str:
    """The ranking as text: widths in accuracy points (mean over tasks), compute in EFLOPs."""
    r = result.ranking
    lab = f"{result.level:g}"
    lines = [f"target {result.target['target']} (N={result.target['N']:.3g}, D={result.target['D']:.3g}, "
             f"{result.target['flops'] / 1e18:.3g} EFLOPs); ladder {result.ladder_flops / 1e18:.3g} EFLOPs. "
             f"Expected {lab}% width in accuracy points, mean over tasks:"]  # fmt: skip
    head = f"{'rank':>4}  {'candidate':<18}{'N':>9}{'D':>10}{'EFLOPs':>9}{'now':>7}{'expected':>10}{'(se)':>7}" \
           f"{'one run 5-95%':>15}{'per EFLOP':>11}{'ESS':>6}  tasks helped"
    lines.append(head)
    f_lo, f_hi = f"width_{lab}_outcome_5", f"width_{lab}_outcome_95"
    for row in r.to_dict("records"):
        flag = ("" if row["reliable"] else " (!)") + ("" if row["detectable"] else " (no detectable gain)")
        lines.append(
            f"{row['rank']:>4}  {str(row['candidate'])[:18]:<18}{row['N']:>9.3g}{row['D']:>10.3g}"
            f"{row['flops'] / 1e18:>9.3g}{100 * row[f'width_{lab}_now']:>7.2f}{100 * row[f'width_{lab}_expected']:>10.2f}"
            f"{100 * row[f'width_{lab}_expected_se']:>7.2f}"
            f"{f'{100 * row[f_lo]:.1f}-{100 * row[f_hi]:.1f}':>15}{100 * row['reduction_per_eflop']:>11.3g}"
            f"{row['ess']:>6.0f}  {row['tasks_helped'] or '-'}{flag}"
        )
    lines.append("one run 5-95%: the width one real run would leave ranges over these (simulated outcomes); per EFLOP: "
                 "expected width reduction (points) per 1e18 training FLOPs; ESS: the smallest median "
                 "importance-sampling ESS over tasks; (!): weights degenerated, the expected width is too optimistic.")
    return "\n".join(lines)


def format_greedy(result) -> str:
    """The stopping view as text."""
    g = result.greedy
    lab = f"{result.level:g}"
    lines = [f"greedy sequence (stopping view): expected {lab}% width at {result.target['target']} vs ladder compute"]
    lines.append(f"{'step':>4}  {'adds':<18}{'cum. EFLOPs':>12}{'% of target':>13}{'width':>8}{'ESS':>6}")
    for row in g.to_dict("records"):
        lines.append(f"{row['step']:>4}  {str(row['candidate'])[:18]:<18}{row['cumulative_flops'] / 1e18:>12.3g}"
                     f"{100 * row['share_of_target']:>13.3g}{100 * row[f'width_{lab}_expected']:>8.2f}{row['ess']:>6.0f}")
    return "\n".join(lines)


def _cmd_design(args: argparse.Namespace) -> int:
    import warnings

    from ..analysis.design import DesignWarning, design
    from ..data.readers import read_data
    from ..data.targets import as_targets
    from ..errors import LadderDataError

    # checked before any sampling: outputs, target, candidates, tasks
    check_outputs(args, out="table", greedy_out="table")
    check_fit_options(args)
    spec = None if args.fit else model_from_args(args)
    targets = args.target or ["7B-4T"]
    if len(targets) != 1:
        raise LadderDataError(f"--target: one target at a time, got {len(targets)} ({', '.join(targets)})")
    target = as_targets(targets)
    candidates = candidates_from_args(args)
    tasks = args.tasks
    data = read_data(args.data) if args.data is not None or not args.fit else None
    if tasks and data is not None:
        unknown = [t for t in tasks if t not in set(data["task"])]
        if unknown:
            raise LadderDataError(f"--tasks: {', '.join(map(repr, unknown))} not in the data; it has "
                                  f"{', '.join(sorted(data['task'].unique()))}")
    if args.fit:
        from ..model.results import load

        fit = load(args.fit)
        print(fit_header(fit, f"of the saved fit {args.fit}"))
    else:
        from ..model.bayes import fit as fit_model
        from ..model.diagnostics import ConvergenceWarning

        options = {k: getattr(args, k) for k in ("chains", "warmup", "draws", "seed") if getattr(args, k) is not None}
        print("ladderfit: fitting the model (use --fit FILE to reuse a saved fit) ...", file=sys.stderr)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            fit = fit_model(args.data, tasks=tasks, model=spec, progress_bar=args.progress, **options)
        print(fit_header(fit, args.data))
        if not fit.converged:
            print("\nWARNING: the fit did not converge: the design inherits its posterior\n", file=sys.stderr)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DesignWarning)
        result = design(fit, target, candidates, tasks=tasks, data=data, outcomes=args.outcomes,
                        max_draws=args.max_draws, greedy_steps=args.greedy, seed=args.design_seed)  # fmt: skip
    for w in caught:
        print(f"WARNING: {w.message}", file=sys.stderr)
    print(format_ranking(result))
    if result.greedy is not None:
        print()
        print(format_greedy(result))
    from .common import write_csv

    if args.out:
        write_csv(args.out, result.table)
    if args.greedy_out and result.greedy is not None:
        write_csv(args.greedy_out, result.greedy)
    return 0


def add_candidate_args(p: argparse.ArgumentParser) -> None:
    """--candidate (repeatable), --sizes and --multipliers: the rungs a design scores."""
    p.add_argument("--candidate", action="append", default=None, metavar="NAME=N,D",
                   help="a candidate rung, NAME=N,D (e.g. 1B-20xC=1.28e9,5.1e11); repeatable")
    p.add_argument("--sizes", default=None, metavar="N,N,...", help="grid of candidates: parameter counts (with --multipliers)")
    p.add_argument("--multipliers", default=None, metavar="M,M,...",
                   help="grid of candidates: Chinchilla multipliers, D = M x 20 N (with --sizes)")


def add_parser(sub) -> None:
    """Add ``design`` to the subcommands."""
    p = sub.add_parser(
        "design",
        help="which rung to train next: expected narrowing of a target's interval per FLOP",
        description="Score candidate rungs by the expected 90%% width of the target's accuracy interval if each "
                    "were added (importance re-weighting of the posterior over simulated outcomes), per FLOP.",
    )
    add_data_arg(p)
    p.add_argument("--target", action="append", default=None, metavar="NAME[=N,D]",
                   help="the target model: a paper name (7B-4T, 13B-5T) or NAME=N,D (default 7B-4T)")
    add_candidate_args(p)
    add_tasks_arg(p, "tasks to score", default="all in the fit")
    p.add_argument("--fit", default=None, metavar="FIT.nc",
                   help="a fit saved with LadderFit.save; skips fitting (the model and sampler options are then an error)")
    add_model_args(p)
    add_sampler_args(p, defaults=False)
    p.add_argument("--outcomes", type=int_at_least(2), default=64, help="simulated outcomes per candidate (default 64)")
    p.add_argument("--max-draws", type=int_at_least(10), default=1000,
                   help="posterior draws used as the importance sample (default 1000)")
    p.add_argument("--greedy", type=nonnegative_int, default=5, help="steps of the greedy stopping view (default 5; 0 skips)")
    p.add_argument("--design-seed", type=seed_int, default=None, help="seed of the outcomes (default the fit's)")
    add_out_arg(p, "write one row per (candidate, task) to this CSV")
    p.add_argument("--greedy-out", default=None, metavar="CSV", help="write the stopping view to this CSV")
    add_progress_args(p)
    p.set_defaults(func=_cmd_design)
