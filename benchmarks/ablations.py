"""Ablations of the joint model's choices, by the held-out-rung backtest.

    python benchmarks/ablations.py [--chains 4] [--draws N] [--warmup 300]

Fits on the 190M-760M runs, predicts the four 1B paper runs over all 10 tasks (truth: the
final-checkpoint accuracy), and prints MAE, 90% coverage and width for the default and for
one change at a time: run effects in step 2; no thinning of step-2 checkpoints; skipping 30%
instead of 10% of each run; adding the 0.5xC runs and the seed reruns to the ladder. Writes the
table to ``benchmarks/results/ablations.json``.
"""

from __future__ import annotations

import argparse
import os
import warnings


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--draws", type=int, default=None, help="draws per chain (default: by need, as ladderfit.fit)")
    ap.add_argument("--warmup", type=int, default=300)
    args = ap.parse_args()
    os.environ["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={args.chains}"
    os.environ.setdefault("JAX_ENABLE_X64", "1")

    from ladderfit import load_olmo_ladder
    from ladderfit.analysis.backtest import backtest, summarize_backtest
    from ladderfit.data.bundled import PAPER_LADDER_RUNS
    from ladderfit.data.preprocess import Preprocessing

    df = load_olmo_ladder()
    held = [r for r in PAPER_LADDER_RUNS if r.startswith("1B")]
    paper_train = [r for r in PAPER_LADDER_RUNS if not r.startswith("1B")]
    all_train = sorted(r for r in df["run"].unique() if not r.startswith("1B"))
    sampler = {"chains": args.chains, "draws": args.draws, "warmup": args.warmup}
    prep = Preprocessing().to_dict()
    cases = [
        ("default", paper_train, {}),
        ("run effects in step 2", paper_train, {"run_effects": True}),
        ("no thinning (thin=1)", paper_train, {"preprocessing": Preprocessing(**{**prep, "thin": 1})}),
        ("skip 30% of each run", paper_train, {"preprocessing": Preprocessing(**{**prep, "skip_fraction": 0.3})}),
        ("+ 0.5xC runs and reruns", all_train, {}),
    ]
    print(f"ablations: fit on 190M-760M, predict {', '.join(held)}; 10 tasks; {args.chains} chains x {args.draws or 'by-need'} draws")
    print(f"{'case':<26} {'MAE pts':>8} {'90% cov':>8} {'width pts':>9} {'converged':>9}")
    records = []
    for name, train, opts in cases:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            rows = backtest(df, holdout=held, runs=train + held, methods=["bayes"], models=["two_step"],
                            fit_options={**sampler, **opts})
        converged = not any(w.category.__name__ == "ConvergenceWarning" for w in caught)
        s = summarize_backtest(rows).iloc[0]
        print(f"{name:<26} {s.mae:8.2f} {s.coverage_90:8.1%} {s.mean_width_90:9.2f} {str(converged):>9}", flush=True)
        records.append(record(name, len(train), s, converged))

    from results_io import write_results

    write_results("ablations", {"settings": vars(args), "held_out": held, "summary": records})


def record(case: str, runs: int, s, converged: bool) -> dict:
    """One row: the case, its training runs, MAE (points), 90% coverage (%), mean 90% width (points),
    fit seconds and whether the fit converged (no ConvergenceWarning)."""
    return {"case": case, "training_runs": runs, "n": int(s.n), "mae": round(float(s.mae), 2),
            "coverage_90_pct": round(100 * float(s.coverage_90), 1), "mean_width_90": round(float(s.mean_width_90), 2),
            "fit_seconds": round(float(s.fit_seconds), 1), "converged": "yes" if converged else "no"}


if __name__ == "__main__":
    main()
