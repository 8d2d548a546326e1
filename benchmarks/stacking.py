"""Bayesian stacking of structures on the nested hold-outs: does a mixture beat the default?

    python benchmarks/stacking.py [--models two_step,single_step] [--chains 2] [--warmup 400] [--draws 400]

On the bundled OLMo ladder's nested hold-outs (:data:`ladderfit.analysis.calibration.NESTED_HOLDOUTS`),
each structure is fitted once per hold-out and predicts the held-out runs with its own
discrepancy scale, calibrated on the *other* hold-outs (as ``ladderfit calibrate`` does). The
stacking weights for hold-out h are fitted on the other hold-outs' log predictive densities
(:func:`ladderfit.analysis.stacking.stacking_weights`), so no hold-out is scored with weights
fitted to it. Prints, per model and for the stack: mean log predictive density (higher is
better), mean CRPS (points), 90% coverage and width per distance bin, and the same on the
farthest hold-out (``small_corner``), and the weights chosen for each hold-out.
"""

from __future__ import annotations

import argparse
import os
import warnings


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="two_step,single_step")
    ap.add_argument("--chains", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=400)
    ap.add_argument("--draws", type=int, default=400)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    os.environ["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={max(1, args.chains)}"

    import numpy as np
    import pandas as pd

    import ladderfit
    from ladderfit.analysis.backtest import default_pool, final_accuracy, fit_method, truth_targets
    from ladderfit.analysis.calibration import distance_bin, nested_holdouts
    from ladderfit.analysis.discrepancy import crps, crps_by_gamma, estimate_discrepancy, pair_index
    from ladderfit.analysis.stacking import log_density, mixture_draws, stacking_weights
    from ladderfit.model.spec import as_spec

    df = ladderfit.load_olmo_ladder()
    splits, _ = nested_holdouts(df, default_pool(df))
    models = args.models.split(",")
    opts = {"chains": args.chains, "warmup": args.warmup, "draws": args.draws}
    fits, truths = {}, {}
    for rule, split in splits.items():
        train = df[df["run"].isin(split.train)].reset_index(drop=True)
        truths[rule] = final_accuracy(df[df["run"].isin(split.held)])
        for m in models:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fits[rule, m], seconds = fit_method(train, "bayes", as_spec(m), None, opts, seed=args.seed)
            print(f"{rule} {m}: {fits[rule, m]} ({seconds:.0f} s)", flush=True)

    # each model's discrepancy, leave-one-hold-out-out, and its draws at the held-out pairs
    draws = {}
    for m in models:
        scores = {r: crps_by_gamma(fits[r, m], truths[r], seed=args.seed) for r in splits}
        for r in splits:
            others = [o for o in splits if o != r]
            est = estimate_discrepancy(np.vstack([scores[o] for o in others]),
                                       np.concatenate([[f"{o}/{t}" for t in truths[o]["task"]] for o in others]))  # fmt: skip
            tg = truth_targets(truths[r])
            acc = fits[r, m].predictive_draws(tg, seed=args.seed, discrepancy=est.prior)["accuracy"]
            ti, kj = pair_index(truths[r], tg, fits[r, m].tasks)
            draws[r, m] = acc[:, ti, kj]
    lpd = {(r, m): log_density(draws[r, m], truths[r]["actual"].to_numpy()) for r in splits for m in models}

    rows = []
    for r in splits:
        others = [o for o in splits if o != r]
        w = stacking_weights(np.vstack([np.column_stack([lpd[o, m] for m in models]) for o in others]))
        print(f"{r}: stacking weights {dict(zip(models, np.round(w, 2)))} (from the other hold-outs)")
        truth = truths[r]
        x = fits[r, models[0]].model_data
        d = x.distance_beyond(*x.centred(truth["N"].to_numpy(), truth["D"].to_numpy()))
        stack = mixture_draws([draws[r, m] for m in models], w, seed=args.seed)
        for name, dr in [*((m, draws[r, m]) for m in models), ("stack", stack)]:
            y = truth["actual"].to_numpy()
            lo, hi = np.quantile(dr, [0.05, 0.95], axis=0)
            rows.append(pd.DataFrame({
                "holdout": r, "model": name, "distance": d, "lpd": log_density(dr, y), "crps": 100 * crps(dr, y),
                "covered": (lo <= y) & (y <= hi), "width": 100 * (hi - lo),
            }))  # fmt: skip
    t = pd.concat(rows, ignore_index=True)
    t["bin"] = distance_bin(t["distance"])
    agg = {"pairs": ("lpd", "size"), "lpd": ("lpd", "mean"), "crps": ("crps", "mean"),
           "cov90": ("covered", "mean"), "width90": ("width", "mean")}  # fmt: skip
    print("\n# all hold-outs, by distance bin")
    print(t.groupby(["bin", "model"]).agg(**agg).round(3).to_string())
    print("\n# all pairs")
    print(t.groupby("model").agg(**agg).round(3).to_string())
    print("\n# the farthest hold-out (small_corner)")
    print(t[t["holdout"] == "small_corner"].groupby("model").agg(**agg).round(3).to_string())


if __name__ == "__main__":
    main()
