"""Backtest on the paper's ladder: fit on the 190M-760M runs, predict the four 1B runs.

    python benchmarks/backtest.py [--chains 4] [--draws N] [--warmup 300] [--tasks a,b] [--host-devices 2]

Fits the joint Bayesian model and the paper's least squares (two-step, task loss) on the 12
paper runs of 190M, 370M and 760M (1, 2, 5, 10 x Chinchilla) and predicts the 1B runs of the
same multipliers. The truth is each 1B run's final-checkpoint accuracy. Prints, per task and
run, each method's absolute error of the median (accuracy points), whether its 90% interval
covers the truth, and the interval's width (points), side by side; then per task (MAE over
the 4 runs, coverage k/4, mean width); then one summary line per method. Writes
``benchmarks/results/backtest.json``: the per-task table as ``summary``, the per-run rows as
``rows`` and the summary lines as ``methods``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--draws", type=int, default=None, help="draws per chain (default: by need, as ladderfit.fit)")
    ap.add_argument("--warmup", type=int, default=300)
    ap.add_argument("--tasks", default=None, help="comma-separated tasks (default: all 10)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--host-devices", type=int, default=None, help="CPU devices for parallel chains (default: one per chain)")
    ap.add_argument("--out", default=None, help="also write the backtest rows to this CSV")
    args = ap.parse_args()
    hd = args.host_devices or max(1, args.chains)  # one device per chain, as the CLI
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count={hd}".strip()
    os.environ.setdefault("JAX_ENABLE_X64", "1")

    import warnings

    from ladderfit.analysis.backtest import backtest, format_summary, summarize_backtest

    tasks = [t.strip() for t in args.tasks.split(",")] if args.tasks else None
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        df = backtest(
            holdout="largest_size", methods=("bayes", "least_squares"), models=("two_step",), tasks=tasks,
            fit_options={"chains": args.chains, "draws": args.draws, "warmup": args.warmup}, seed=args.seed,
        )
    wall = time.perf_counter() - t0
    conv = [w for w in caught if w.category.__name__ == "ConvergenceWarning"]
    if args.out:
        df.to_csv(args.out, index=False)

    b = df[df["method"] == "bayes"].set_index(["task", "run"])
    ls = df[df["method"] == "least_squares"].set_index(["task", "run"])
    held = list(dict.fromkeys(df["run"]))
    print(f"backtest: fit on 190M-760M paper runs (12), predict {', '.join(held)}; truth = final-checkpoint accuracy")
    print(f"bayes: {args.chains} chains x {args.draws or 'by-need'} draws (+{args.warmup} warmup); least squares: paper's two-step, "
          "delta-method 90% band; |err| and width in accuracy points")
    print()
    hdr = (f"{'task':<14} {'run':<8} {'actual':>6} | {'bayes':>6} {'|err|':>5} {'cov':>3} {'width':>5} | "
           f"{'LS':>6} {'|err|':>5} {'cov':>3} {'width':>5}")
    print(hdr)
    print("-" * len(hdr))
    for (task, run), r in b.iterrows():
        q = ls.loc[(task, run)]
        print(f"{task:<14} {run:<8} {100 * r['actual']:6.2f} | {100 * r['median']:6.2f} {r['abs_error']:5.2f} "
              f"{'yes' if r['covered'] else 'no':>3} {r['width_90']:5.2f} | {100 * q['median']:6.2f} {q['abs_error']:5.2f} "
              f"{'yes' if q['covered'] else 'no':>3} {q['width_90']:5.2f}")
    print()
    print("per task (over the held-out runs): MAE pts, 90% coverage, mean width pts")
    hdr2 = f"{'task':<14} | {'bayes MAE':>9} {'cov':>5} {'width':>6} | {'LS MAE':>7} {'cov':>5} {'width':>6}"
    print(hdr2)
    print("-" * len(hdr2))
    for task in dict.fromkeys(df["task"]):
        bt, lt = b.loc[task], ls.loc[task]
        print(f"{task:<14} | {bt['abs_error'].mean():9.2f} {int(bt['covered'].sum())}/{len(bt):<3} {bt['width_90'].mean():6.2f} | "
              f"{lt['abs_error'].mean():7.2f} {int(lt['covered'].sum())}/{len(lt):<3} {lt['width_90'].mean():6.2f}")
    print()
    print(format_summary(summarize_backtest(df)))
    if conv:
        print(f"note: {len(conv)} convergence warning(s) from the Bayesian fit:")
        for w in conv:
            print("  " + str(w.message).replace("\n", "\n  "))
    print(f"total wall time {wall:.1f} s")
    sys.stdout.flush()

    from results_io import write_results

    write_results("backtest", {"settings": vars(args), "seconds": round(wall, 1), "convergence_warnings": len(conv),
                               "summary": task_records(df), "rows": run_records(df),
                               "methods": method_records(summarize_backtest(df))})


#: The two methods' column prefixes in the results file.
PREFIX = {"bayes": "bayes", "least_squares": "ls"}


def task_records(df) -> list[dict]:
    """The per-task table: held-out runs, and per method the MAE (points), the runs its 90% interval
    covers and its mean 90% width (points)."""
    out = []
    for task, g in df.groupby("task", sort=False):
        rec = {"task": task, "runs": int(g["run"].nunique())}
        for method, pre in PREFIX.items():
            m = g[g["method"] == method]
            rec |= {f"{pre}_mae": round(float(m["abs_error"].mean()), 2), f"{pre}_covered": int(m["covered"].sum()),
                    f"{pre}_width_90": round(float(m["width_90"].mean()), 2)}
        out.append(rec)
    return out


def method_records(summary) -> list[dict]:
    """The summary lines: per method and model, MAE (points), 90% coverage (%), mean 90% width (points), fit s."""
    return [{"method": r.method, "model": r.model, "n": int(r.n), "mae": round(float(r.mae), 2),
             "coverage_90_pct": round(100 * float(r.coverage_90), 1), "mean_width_90": round(float(r.mean_width_90), 2),
             "fit_seconds": round(float(r.fit_seconds), 1)} for r in summary.itertuples(index=False)]


def run_records(df) -> list[dict]:
    """The per-(task, run) table: the actual accuracy and each method's median (points), |error|,
    coverage and 90% width."""
    out = []
    for (task, run), g in df.groupby(["task", "run"], sort=False):
        rec = {"task": task, "run": run, "actual": round(100 * float(g["actual"].iloc[0]), 2)}
        for method, pre in PREFIX.items():
            r = g[g["method"] == method].iloc[0]
            rec |= {f"{pre}_median": round(100 * float(r["median"]), 2),
                    f"{pre}_abs_error": round(float(r["abs_error"]), 2),
                    f"{pre}_covered": "yes" if r["covered"] else "no",
                    f"{pre}_width_90": round(float(r["width_90"]), 2)}
        out.append(rec)
    return out


if __name__ == "__main__":
    main()
