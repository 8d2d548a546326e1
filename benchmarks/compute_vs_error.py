"""Backtest error against ladder compute: how much ladder does a prediction need?

    python benchmarks/compute_vs_error.py [--ls-only] [--schemes sizes,multipliers,flops]
                                          [--tasks a,b] [--chains 4] [--draws N] [--warmup 300]

Holds out the four 1B runs of the paper's ladder and trains on growing ladders drawn from
the other 12 paper runs: by sizes (190M, then +370M, +760M), by multipliers (1xC, then +2xC,
+5xC, +10xC) and by cumulative FLOPs (the cheapest k runs). Prints, per ladder and method,
its compute (sum of final training FLOPs), that compute as a percentage of the 7B-4T target's,
and the backtest MAE (points), 90% coverage and mean 90% width (points). Ladders too small to
fit are listed with the reason. ``--ls-only`` skips the (slow) Bayesian fits. Writes the table
to ``benchmarks/results/compute_vs_error.json``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ls-only", action="store_true", help="least squares only (fast)")
    ap.add_argument("--schemes", default="sizes,multipliers,flops")
    ap.add_argument("--model", default="two_step")
    ap.add_argument("--tasks", default=None, help="comma-separated tasks (default: all 10)")
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--draws", type=int, default=None, help="draws per chain (default: by need, as ladderfit.fit)")
    ap.add_argument("--warmup", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--host-devices", type=int, default=None)
    ap.add_argument("--out", default=None, help="also write the table to this CSV")
    args = ap.parse_args()
    hd = args.host_devices or max(1, args.chains)  # one device per chain, as the CLI
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count={hd}".strip()
    os.environ.setdefault("JAX_ENABLE_X64", "1")

    from ladderfit.analysis.compute_vs_error import compute_vs_error, format_compute_curve

    split = lambda s: [x.strip() for x in s.split(",") if x.strip()]  # noqa: E731
    methods = ["least_squares"] if args.ls_only else ["bayes", "least_squares"]
    t0 = time.perf_counter()
    df = compute_vs_error(
        schemes=split(args.schemes), methods=methods, model=args.model,
        tasks=split(args.tasks) if args.tasks else None, seed=args.seed,
        fit_options={"chains": args.chains, "draws": args.draws, "warmup": args.warmup},
    )
    if args.out:
        df.to_csv(args.out, index=False)
    print(f"compute vs error: targets {', '.join(df.attrs['target_runs'])}; {args.model}; "
          f"reference {df.attrs['reference']} = {df.attrs['reference_flops']:.3e} FLOPs; MAE and width in points")
    print(format_compute_curve(df))
    wall = time.perf_counter() - t0
    print(f"total wall time {wall:.1f} s")
    sys.stdout.flush()

    from results_io import write_results

    write_results("compute_vs_error", {
        "settings": vars(args), "target_runs": df.attrs["target_runs"], "reference": df.attrs["reference"],
        "reference_flops": df.attrs["reference_flops"], "seconds": round(wall, 1), "summary": summary_records(df)})


def summary_records(df) -> list[dict]:
    """The printed table's rows: the ladder, its compute (FLOPs; % of the reference target's), and per
    method the MAE (points), 90% coverage (%), mean 90% width (points) and fit seconds, empty (None)
    for a ladder that was skipped, with the note saying why."""
    from results_io import cell

    def num(v, scale=1.0, digits=2):  # digits None: 3 significant digits
        return cell(v, scale, digits)

    return [{"scheme": r.scheme, "ladder": r.ladder, "runs": int(r.n_runs), "sizes": int(r.n_sizes),
             "flops": num(r.compute, digits=None), "compute_pct": num(r.compute_fraction, 100, None), "method": r.method,
             "mae": num(r.mae), "coverage_90_pct": num(r.coverage_90, 100, 1), "mean_width_90": num(r.mean_width_90),
             "fit_seconds": num(r.fit_seconds, digits=1), "note": r.note}
            for r in df.itertuples(index=False)]  # fmt: skip


if __name__ == "__main__":
    main()
