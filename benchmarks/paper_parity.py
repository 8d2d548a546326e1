"""Paper parity: one table of method x model -> backtest MAE, 90% coverage, width, fit time.

    python benchmarks/paper_parity.py [--methods bayes,least_squares] [--chains 4] [--draws N]
                                      [--warmup 300] [--tasks a,b] [--bayes-models two_step,c4_loss]

Holds out the largest size of the paper's 16-run ladder (the four 1B runs), fits on the 12
runs of 190M-760M, and scores each method and model over all tasks (truth:
final-checkpoint accuracy). Both methods run two_step, two_step/c4_loss, two_step/task_ce,
compute and single_step; the Bayesian model also two_step+run_effects. Writes the table to
``benchmarks/results/paper_parity.json``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--methods", default="bayes,least_squares")
    ap.add_argument("--ls-models", default="two_step,c4_loss,task_ce,compute,single_step")
    ap.add_argument("--bayes-models", default="two_step,c4_loss,task_ce,two_step+run_effects,compute,single_step")
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--draws", type=int, default=None, help="draws per chain (default: by need, as ladderfit.fit)")
    ap.add_argument("--warmup", type=int, default=300)
    ap.add_argument("--tasks", default=None, help="comma-separated tasks (default: all 10)")
    ap.add_argument("--holdout", default="largest_size")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--host-devices", type=int, default=None)
    ap.add_argument("--out", default=None, help="also write all backtest rows to this CSV")
    args = ap.parse_args()
    hd = args.host_devices or max(1, args.chains)  # one device per chain, as the CLI
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count={hd}".strip()
    os.environ.setdefault("JAX_ENABLE_X64", "1")

    import warnings

    import pandas as pd

    from ladderfit.analysis.backtest import backtest, summarize_backtest

    split = lambda s: [x.strip() for x in s.split(",") if x.strip()]  # noqa: E731
    tasks = split(args.tasks) if args.tasks else None
    plan = {"least_squares": split(args.ls_models), "bayes": split(args.bayes_models)}
    parts, notes = [], []
    t0 = time.perf_counter()
    for method in split(args.methods):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            parts.append(backtest(
                holdout=args.holdout, methods=[method], models=plan[method], tasks=tasks, seed=args.seed,
                fit_options={"chains": args.chains, "draws": args.draws, "warmup": args.warmup},
            ))
        conv = [str(w.message).splitlines() for w in caught if w.category.__name__ == "ConvergenceWarning"]
        for lines in conv:
            notes.append(f"{method}: " + " ".join(x.strip() for x in lines[:3]))
    df = pd.concat(parts, ignore_index=True)
    if args.out:
        df.to_csv(args.out, index=False)
    s = summarize_backtest(df)
    held = list(dict.fromkeys(df["run"]))
    print(f"paper parity: holdout {args.holdout} ({', '.join(held)}), {df['task'].nunique()} tasks, "
          "truth = final-checkpoint accuracy"
          + (f"; bayes {args.chains} chains x {args.draws or 'by-need'} draws (+{args.warmup} warmup)" if "bayes" in set(df["method"]) else ""))
    hdr = f"{'method':<14} {'model':<22} {'n':>4} {'MAE pts':>8} {'90% cov':>8} {'width pts':>9} {'fit s':>7}"
    print(hdr)
    print("-" * len(hdr))
    for r in s.itertuples(index=False):
        print(f"{r.method:<14} {r.model:<22} {r.n:>4} {r.mae:8.2f} {r.coverage_90:8.1%} {r.mean_width_90:9.2f} {r.fit_seconds:7.1f}")
    for n in notes:
        print(f"note: {n}")
    wall = time.perf_counter() - t0
    print(f"total wall time {wall:.1f} s")
    sys.stdout.flush()

    from results_io import write_results

    write_results("paper_parity", {"settings": vars(args), "held_out": held, "seconds": round(wall, 1),
                                   "convergence_notes": notes, "summary": summary_records(s)})


def summary_records(summary) -> list[dict]:
    """The table's rows: per method and model, MAE (points), 90% coverage (%), mean 90% width (points), fit s."""
    return [{"method": r.method, "model": r.model, "n": int(r.n), "mae": round(float(r.mae), 2),
             "coverage_90_pct": round(100 * float(r.coverage_90), 1), "mean_width_90": round(float(r.mean_width_90), 2),
             "fit_seconds": round(float(r.fit_seconds), 1)} for r in summary.itertuples(index=False)]


if __name__ == "__main__":
    main()
