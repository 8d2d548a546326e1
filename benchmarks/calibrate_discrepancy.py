"""Calibrate the model-discrepancy scale gamma by holding out the ladder's largest rung.

    python benchmarks/calibrate_discrepancy.py [--chains 2] [--draws 500] [--warmup 500]

Fits the joint model without the discrepancy term (gamma = 0) on the 190M-760M paper runs,
predicts the four 1B runs, and finds the gamma that maximizes the Gaussian likelihood of the
errors of the medians, ``e ~ N(0, sd_pred^2 + (gamma d)^2)``, where d is each target's
distance beyond the ladder in (log N, log D). Prints gamma, and the 90% coverage and width of
the accuracy intervals with gamma = 0 and with the fitted gamma. The default in
``ladderfit.priors`` ("discrepancy") comes from this script.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("JAX_ENABLE_X64", "1")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chains", type=int, default=2)
    ap.add_argument("--draws", type=int, default=500)
    ap.add_argument("--warmup", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import numpy as np
    from scipy.optimize import minimize_scalar

    import ladderfit
    from ladderfit.data.bundled import PAPER_LADDER_RUNS, load_olmo_ladder

    df = load_olmo_ladder()
    train = [r for r in PAPER_LADDER_RUNS if not r.startswith("1B")]
    test = [r for r in PAPER_LADDER_RUNS if r.startswith("1B")]
    fit = ladderfit.fit(
        df, runs=train, chains=args.chains, draws=args.draws, warmup=args.warmup, seed=args.seed,
        priors={"discrepancy": ("Fixed", (0.0,))},
    )
    last = df[df["run"].isin(test)].sort_values("step").groupby(["run", "task"]).tail(1)
    targets = last.groupby("run").agg(N=("N", "first"), D=("D", "max")).reset_index().rename(columns={"run": "target"})
    pred = fit.predict(targets).query("quantity == 'accuracy'")
    pred = pred.merge(last[["run", "task", "accuracy"]].rename(columns={"run": "target"}), on=["target", "task"])
    x, z = fit.model_data.centred(pred["N"].to_numpy(), pred["D"].to_numpy())
    d = fit.model_data.distance_beyond(x, z)
    e = (pred["median"] - pred["accuracy"]).to_numpy()
    s = pred["sd"].to_numpy()

    def nll(g: float) -> float:
        v = s**2 + (g * d) ** 2
        return 0.5 * float(np.sum(np.log(v) + e**2 / v))

    gamma = minimize_scalar(nll, bounds=(0.0, 0.2), method="bounded").x
    z90 = 1.6448536269514722
    print(f"fit: {fit}")
    print(f"targets: 4 x 1B runs, {len(pred)} (task, run) pairs; distance beyond the ladder d = {sorted(set(np.round(d, 3)))}")
    print(f"{'gamma':>8} {'90% coverage':>13} {'mean width (points)':>20}")
    for g in (0.0, gamma):
        sd = np.sqrt(s**2 + (g * d) ** 2)
        print(f"{g:8.4f} {np.mean(np.abs(e) <= z90 * sd):13.2f} {np.mean(2 * z90 * sd) * 100:20.2f}")
    print(f"MAE of the median: {np.mean(np.abs(e)) * 100:.2f} points; maximum-likelihood gamma = {gamma:.4f}")


if __name__ == "__main__":
    main()
