"""Backtest of the ladder design: expected width (importance re-weighting) against real refits.

    python benchmarks/design_backtest.py [--quick] [--ladder 190M,370M,760M:1,2] [--target 1B-10xC]
                                         [--tasks a,b] [--chains 2 --warmup 400 --draws 400] [--out FILE.csv]

Fits a sub-ladder of the bundled OLMo ladder (default 190M-760M at 1 and 2 xC, 6 runs) and a
target beyond it that the bundled data hold (default 1B-10xC, so its actual accuracy is known).
Every other bundled run (0.5xC, 5xC, 10xC, the 1B runs, the seed reruns) is a candidate rung,
scored twice: the design's *expected* 90% width at the target if it were added
(:func:`ladderfit.analysis.design.design`), and the *actual* width after refitting the
sub-ladder with that run added (same tasks, sampler and seed). Prints the table, the Spearman
rank correlations between expected and actual (width; reduction per FLOP, the ranking's
criterion, over all candidates and over those whose expected reduction is detectable; error of
the median), the rank of the design's first choice among the actual outcomes, and how often
the actual width falls inside the design's 5-95% range of the width one run could leave (its
simulated outcomes). Widths and errors are in accuracy points, averaged over tasks; a last
table gives, per task, the Spearman correlation and the mean difference of expected and actual.

``--quick``: 3 tasks and a shorter sampler (2 x 300 + 300). Writes
``benchmarks/results/design_backtest.json``: the candidates' table as ``summary``, the correlations
and ranks as ``statistics``, the per-task table as ``per_task``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="3 tasks, 2 chains x (300 warmup + 300 draws)")
    ap.add_argument("--ladder", default="190M,370M,760M:1,2", help="sizes:multipliers of the sub-ladder")
    ap.add_argument("--target", default="1B-10xC", help="a bundled run beyond the sub-ladder")
    ap.add_argument("--tasks", default=None, help="comma-separated tasks (default 6; --quick 3)")
    ap.add_argument("--chains", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=None)
    ap.add_argument("--draws", type=int, default=None)
    ap.add_argument("--outcomes", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="also write the table to this CSV")
    args = ap.parse_args()
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + f" --xla_force_host_platform_device_count={args.chains}").strip()
    os.environ.setdefault("JAX_ENABLE_X64", "1")

    import warnings

    import numpy as np
    import pandas as pd
    from scipy.stats import spearmanr

    import ladderfit
    from ladderfit.analysis.backtest import final_accuracy
    from ladderfit.analysis.design import design
    from ladderfit.model.diagnostics import ConvergenceWarning

    warnings.simplefilter("ignore", ConvergenceWarning)
    quick = args.quick
    tasks = args.tasks.split(",") if args.tasks else (
        ["hellaswag", "arc_easy", "piqa"] if quick else ["hellaswag", "arc_easy", "piqa", "mmlu", "winogrande", "csqa"])
    warmup = args.warmup or (300 if quick else 400)
    draws = args.draws or (300 if quick else 400)
    sampler = dict(chains=args.chains, warmup=warmup, draws=draws, seed=args.seed, progress_bar=False)

    df = ladderfit.load_olmo_ladder()
    sizes, mults = args.ladder.split(":")
    base = [f"{s}-{m}xC" for s in sizes.split(",") for m in mults.split(",")]
    per_run = df.groupby("run").agg(N=("N", "first"), D=("D", "max")).reset_index()
    if args.target not in set(per_run["run"]):
        sys.exit(f"--target {args.target!r}: not a bundled run")
    tg = per_run[per_run["run"] == args.target].iloc[0]
    target = f"{args.target}={tg.N:.10g},{tg.D:.10g}"
    truth = final_accuracy(df[(df["run"] == args.target) & df["task"].isin(tasks)]).set_index("task")["actual"]
    cands = per_run[~per_run["run"].isin(base + [args.target])]
    print(f"sub-ladder: {', '.join(base)}; target {args.target} (N={tg.N:.3g}, D={tg.D:.3g}); "
          f"{len(cands)} candidates; tasks {', '.join(tasks)}; sampler {args.chains} x ({warmup} + {draws})")

    start = time.perf_counter()
    fit = ladderfit.fit(df, runs=base, tasks=tasks, model="two_step", **sampler)  # the refits' model
    fit_seconds = time.perf_counter() - start
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = design(fit, target, [(r.run, r.N, r.D) for r in cands.itertuples()], data=df, outcomes=args.outcomes,
                     greedy_steps=0)  # fmt: skip
    design_seconds = time.perf_counter() - t0

    per_task = []  # (candidate, task, expected, actual) widths

    def summarize(f, name=None) -> tuple[float, float]:
        p = f.predict(target, levels=(90,)).query("quantity == 'accuracy'").set_index("task")
        widths = 100 * (p["upper_90"] - p["lower_90"])
        if name is not None:
            exp = res.table[res.table["candidate"] == name].set_index("task")["width_90_expected"]
            per_task.extend((name, task, 100 * exp[task], w) for task, w in widths.items())
        err = 100 * (p["median"] - truth.reindex(p.index)).abs().mean()
        return float(widths.mean()), float(err)

    now_width, now_err = summarize(fit)
    rows, refit_seconds = [], 0.0
    for r in res.ranking.itertuples():
        t1 = time.perf_counter()
        refit = ladderfit.fit(df, runs=base + [r.candidate], tasks=tasks, model="two_step", **sampler)
        refit_seconds += time.perf_counter() - t1
        width, err = summarize(refit, r.candidate)
        rows.append({"candidate": r.candidate, "eflops": r.flops / 1e18, "design_rank": r.rank,
                     "expected_width": 100 * r.width_90_expected, "actual_width": width,
                     "outcome_5": 100 * r.width_90_outcome_5, "outcome_95": 100 * r.width_90_outcome_95,
                     "expected_mae": 100 * r.mae_expected, "actual_abs_error": err,
                     "ess": r.ess, "reliable": r.reliable, "detectable": r.detectable,
                     "refit_converged": refit.converged})  # fmt: skip
        print(f"  refit + {r.candidate}: width {width:.2f} (expected {100 * r.width_90_expected:.2f})", flush=True)
    t = pd.DataFrame(rows)
    t["expected_reduction_per_eflop"] = (100 * res.ranking["width_90_now"].iloc[0] - t["expected_width"]) / t["eflops"]
    t["actual_reduction_per_eflop"] = (now_width - t["actual_width"]) / t["eflops"]
    t["actual_rank"] = t["actual_reduction_per_eflop"].rank(ascending=False, method="min").astype(int)
    pd.set_option("display.width", 200)
    print()
    print(f"now: width {now_width:.2f} points (design's draws {100 * res.ranking['width_90_now'].iloc[0]:.2f}), "
          f"|median - actual| {now_err:.2f} points")
    print(t.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    rho_w = spearmanr(t["expected_width"], t["actual_width"]).statistic
    rho_r = spearmanr(t["expected_reduction_per_eflop"], t["actual_reduction_per_eflop"]).statistic
    rho_e = spearmanr(t["expected_mae"], t["actual_abs_error"]).statistic
    det = t[t["detectable"]]
    rho_d = spearmanr(det["expected_reduction_per_eflop"], det["actual_reduction_per_eflop"]).statistic if len(det) > 2 else float("nan")
    first = t.loc[t["design_rank"] == 1].iloc[0]
    best_width = t.loc[t["expected_width"].idxmin()]
    print()
    print(f"Spearman(expected width, actual width) over {len(t)} candidates: {rho_w:.3f}")
    print(f"Spearman(expected, actual reduction per EFLOP): {rho_r:.3f}")
    print(f"  among the {len(det)} candidates with a detectable expected reduction: {rho_d:.3f}")
    print(f"Spearman(expected error of the median, actual |median - actual|): {rho_e:.3f}")
    inside = ((t["actual_width"] >= t["outcome_5"]) & (t["actual_width"] <= t["outcome_95"])).sum()
    print(f"actual width inside the design's 5-95% range of one run's outcomes: {inside} of {len(t)}")
    bias = (t["expected_width"] - t["actual_width"]).mean()
    print(f"mean expected - actual width: {bias:+.2f} points")
    print(f"design's first choice {first['candidate']}: rank {first['actual_rank']} of {len(t)} by actual reduction per EFLOP")
    best_rank = int(t["actual_width"].rank(method="min")[best_width.name])
    print(f"design's narrowest expected width {best_width['candidate']}: rank {best_rank} of {len(t)} by actual width")
    pt = pd.DataFrame(per_task, columns=["candidate", "task", "expected", "actual"])
    by_task = pt.groupby("task").apply(lambda g: pd.Series({
        "spearman": spearmanr(g["expected"], g["actual"]).statistic,
        "mean_expected_minus_actual": (g["expected"] - g["actual"]).mean(),
        "mean_abs_difference": (g["expected"] - g["actual"]).abs().mean()}), include_groups=False)
    print("per task, over candidates (widths in points):")
    print(by_task.to_string(float_format=lambda v: f"{v:.3f}"))
    print(f"time: base fit {fit_seconds:.0f} s, design {design_seconds:.1f} s for {len(t)} candidates "
          f"({design_seconds / len(t):.1f} s each), refits {refit_seconds:.0f} s ({refit_seconds / len(t):.0f} s each)")
    if args.out:
        t.to_csv(args.out, index=False)
        print(f"wrote {args.out}")

    from results_io import cell, write_results

    statistics = {
        "candidates": len(t), "now_width": now_width, "now_width_design": 100 * res.ranking["width_90_now"].iloc[0],
        "now_abs_error": now_err, "spearman_width": rho_w, "spearman_reduction_per_eflop": rho_r,
        "detectable": len(det), "spearman_reduction_per_eflop_detectable": rho_d, "spearman_error": rho_e,
        "inside_outcome_range": int(inside), "mean_expected_minus_actual_width": bias,
        "first_choice": first["candidate"], "first_choice_actual_rank": int(first["actual_rank"]),
        "narrowest_expected": best_width["candidate"], "narrowest_expected_actual_rank": best_rank,
    }  # fmt: skip
    seconds = {"base_fit": fit_seconds, "design": design_seconds, "refits": refit_seconds}
    write_results("design_backtest", {
        "settings": {**vars(args), "tasks": tasks, "warmup": warmup, "draws": draws, "base": base},
        "statistics": {k: cell(v) for k, v in statistics.items()},
        "seconds": {k: round(v, 1) for k, v in seconds.items()},
        "summary": records(t), "per_task": records(by_task.reset_index())})


def records(t) -> list[dict]:
    """A table's rows as flat records of plain values (:func:`results_io.cell`)."""
    from results_io import cell

    return [{k: cell(v) for k, v in row.items()} for row in t.to_dict("records")]


if __name__ == "__main__":
    main()
