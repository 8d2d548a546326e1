"""Why the single step is wide far from a small ladder: where its predictive spread comes from.

    python benchmarks/far_width.py [--holdouts small_corner,two_largest_sizes] [--seed 0]

On the bundled OLMo ladder's nested hold-outs with far pairs (distance > 1.5 beyond the
training runs; :mod:`ladderfit.analysis.calibration`), the default model (single step) is fitted
on the training runs and its predictive draws at each far (run, task) pair are split:

* ``curve sd``: the spread of the curve ``f + (1 - f) sigmoid(u(N, D))`` over the posterior;
* ``noise sd``: the spread of the evaluation noise the target adds (its run's deviation and
  one evaluation's jitter);
* ``curve sd, ... fixed``: the curve's spread with some parameters held at their posterior
  medians (the others' draws unchanged): the exponents alpha and beta; the logit slopes g_N and
  g_D at the ladder's centre; the centre logit u_c and the floor. What is left once those are
  known says how much of the spread they make;
* the exponents' posterior median and 90% interval against their prior's;
* the 90% interval's mean width with the shipped discrepancy and with none, beside the truths'
  coverage and the median's mean absolute error: how much of the width is the discrepancy's.

All in accuracy points, averaged over the far pairs of each hold-out. Writes
``benchmarks/results/far_width.json``.
"""

from __future__ import annotations

import argparse
import os
import warnings


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--holdouts", default="small_corner,two_largest_sizes")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"

    import numpy as np

    import ladderfit
    from results_io import write_results
    from ladderfit.analysis.holdouts import default_pool, distance_beyond, final_accuracy, nested_holdouts, run_table
    from ladderfit.analysis.discrepancy import predictive_parts
    from ladderfit.model.priors import resolve_priors

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df = ladderfit.load_olmo_ladder()
    splits, _ = nested_holdouts(df, default_pool(df))
    prior = resolve_priors(None, "single_step")
    rng = np.random.default_rng(args.seed)
    prior_alpha = np.exp(rng.normal(prior["alpha_mu"][1][0], prior["alpha_mu"][1][1], 100_000)
                         + np.exp(rng.normal(*prior["alpha_tau"][1], 100_000)) * rng.normal(size=100_000))
    records = []
    for rule in args.holdouts.split(","):
        split = splits[rule]
        train = df[df["run"].isin(split.train)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = ladderfit.fit(train, seed=args.seed)
        held = df[df["run"].isin(split.held)]
        truth = final_accuracy(held)
        far_runs = run_table(held).assign(d=lambda r: distance_beyond(r, run_table(train)))
        far_runs = far_runs[far_runs["d"] > 1.5]
        truth = truth[truth["run"].isin(far_runs["run"])].reset_index(drop=True)
        if truth.empty:
            print(f"{rule}: no far pairs")
            continue
        parts = predictive_parts(fit, truth, seed=args.seed)
        curve = parts.floor + (1 - parts.floor) / (1 + np.exp(-parts.u_curve))
        fixed = {name: curve_with_fixed(fit, truth, names) for name, names in FIXED.items()}
        post = fit.idata.posterior
        alpha = post["alpha"].values.reshape(-1, post.sizes["task"])
        (family, params), power = fit.priors["discrepancy"], fit.priors["discrepancy_power"][1][0]
        gamma = np.full(len(curve), params[0]) if family == "Fixed" else np.exp(rng.normal(*params, len(curve)))
        shipped, none = parts.accuracy(power, 0.0, gamma), parts.accuracy(power, 0.0, 0.0)

        def width(acc):
            lo, hi = np.quantile(acc, [0.05, 0.95], axis=0)
            return float(100 * (hi - lo).mean()), float(np.mean((parts.actual >= lo) & (parts.actual <= hi)))
        rec = {
            "holdout": rule, "runs": len(split.train), "far_pairs": len(truth),
            "mean_distance": float(parts.distance.mean()),
            "curve_sd": float(100 * curve.std(0).mean()), "noise_sd": float(100 * parts.noise.std(0).mean()),
            **{f"curve_sd_{name}_fixed": float(100 * c.std(0).mean()) for name, c in fixed.items()},
            "width_90": width(shipped)[0], "width_90_no_discrepancy": width(none)[0],
            "coverage_90": width(shipped)[1], "coverage_90_no_discrepancy": width(none)[1],
            "mae": float(100 * np.abs(np.median(shipped, 0) - parts.actual).mean()),
            "alpha_median": float(np.median(alpha)),
            "alpha_90": f"{np.quantile(alpha, 0.05):.2f}-{np.quantile(alpha, 0.95):.2f}",
            "prior_alpha_90": f"{np.quantile(prior_alpha, 0.05):.2f}-{np.quantile(prior_alpha, 0.95):.2f}",
            "converged": bool(fit.diagnostics.converged),
        }  # fmt: skip
        records.append(rec)
        print(", ".join(f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}" for k, v in rec.items()), flush=True)
    write_results("far_width", {"settings": vars(args), "summary": records})


#: Parameters held at their posterior medians, by the name of the column.
FIXED = {"exponents": ("alpha", "beta"), "slopes": ("logit_slope_N", "logit_slope_D"),
         "centre": ("logit_centre", "floor")}


def curve_with_fixed(fit, truth, names):
    """The curve's draws at ``truth``'s (N, D) with the parameters ``names`` at their posterior medians."""
    import numpy as np

    from ladderfit.model.curves import accuracy_from_logit, single_step_logit

    post = fit.idata.posterior
    T = post.sizes["task"]
    p = {n: post[n].values.reshape(-1, T) for n in ("logit_centre", "logit_slope_N", "logit_slope_D", "alpha",
                                                     "beta", "floor")}
    p = {n: np.broadcast_to(np.median(v, 0), v.shape) if n in names else v for n, v in p.items()}
    t = np.array([fit.tasks.index(name) for name in truth["task"]])
    x, z = fit.model_data.centred(truth["N"].to_numpy(), truth["D"].to_numpy())
    alpha, beta = p["alpha"][:, t], p["beta"][:, t]
    u = single_step_logit(x, z, p["logit_centre"][:, t], p["logit_slope_N"][:, t] / alpha, alpha,
                          p["logit_slope_D"][:, t] / beta, beta)
    return accuracy_from_logit(u, p["floor"][:, t])


if __name__ == "__main__":
    main()
