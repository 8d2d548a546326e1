"""Simulation-based calibration of the sampler users run, on a small simulated ladder design.

    python benchmarks/sbc.py [--model single_step] [--tasks 2] [--sims 200] [--warmup 300] [--draws 200]
                             [--rank-draws 49] [--bins N] [--seed 0] [--out sbc_ranks.csv] [--figure sbc_ranks.png]
                             [--params k,L0,...] [--results-name sbc]

The design: ``simulate_ladder`` with ``--tasks`` tasks and 8 runs (4 sizes x 1 and 5 x
Chinchilla, 12 checkpoints each), raw checkpoints (no smoothing, no thinning). Each
simulation draws the parameters and observations from the prior (``prior_predictive``,
E > 0 by the model's own soft barrier) and fits one NUTS chain on the default path (the
model keywords :func:`ladderfit.fit` uses: sampler geometry, likelihood grids, float32
checkpoint terms; the default's warmup; a run with divergent transitions sampled again at
``retry_target_accept``, and warmed up longer if it diverged again, as ``fit`` does); the truth's rank among ``--rank-draws`` thinned posterior draws is
recorded (:func:`ladderfit.analysis.sbc.sbc`). ``--model`` defaults to the package's default
structure.

Prints the divergences of each simulation's kept run and how many were sampled again, the chi-square test of uniform ranks per
(parameter, task) and per parameter pooled over tasks (Bonferroni threshold 0.01 / number of
tests), and a bias check: per parameter, the share of truths ranked in the lower half of the
draws, 50% when the posterior is centred, with its 99% binomial range. 200 simulations detect a
bias of 10 points in that share (60% vs 50%) with power about 0.8 at the 5% level per
(parameter, task), ranks of tasks pooled with more. Writes ``benchmarks/results/sbc.json``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import pandas as pd
from scipy import stats

from results_io import write_results
from ladderfit.analysis.sbc import rank_uniformity, sbc
from ladderfit.model.config import FitConfig
from ladderfit.model.spec import DEFAULT_MODEL
from ladderfit.data.preprocess import Preprocessing
from ladderfit.model.simulate import default_truths, simulate_ladder

RAW = Preprocessing(skip_fraction=0.1, smooth_window=1, step1_last_k=1, thin=1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--tasks", type=int, default=2)
    ap.add_argument("--sims", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=FitConfig.warmup, help="warmup iterations (default: the package's)")
    ap.add_argument("--draws", type=int, default=200)
    ap.add_argument("--rank-draws", type=int, default=49)
    ap.add_argument("--bins", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="write the rank table (CSV)")
    ap.add_argument("--figure", default=None, help="write the rank histograms (PNG)")
    ap.add_argument("--params", default=None, help="comma-separated parameters to rank (default: the structure's)")
    ap.add_argument("--results-name", default="sbc", help="write benchmarks/results/NAME.json (default sbc)")
    args = ap.parse_args()

    design = simulate_ladder(default_truths(args.tasks, seed=1), seed=1, checkpoints=12, multipliers=(1, 5)).data
    options = dict(model=args.model, chains=1, warmup=args.warmup, draws=args.draws, preprocessing=RAW, seed=args.seed)
    start = time.perf_counter()
    params = args.params.split(",") if args.params else None
    table = sbc(design, args.sims, fit_options=options, n_draws=args.rank_draws, seed=args.seed, params=params)
    seconds = time.perf_counter() - start
    divergent = table.groupby("sim")["divergences"].first()
    again = table.groupby("sim")["sampled_again"].first()
    longer = table.groupby("sim")["warmed_up_longer"].first()
    print(f"{args.model}: {args.sims} simulations, {args.tasks} tasks, {design['run'].nunique()} runs, 1 chain x "
          f"{args.warmup} + {args.draws}, ranks among {args.rank_draws} draws: {seconds:.0f} s; "
          f"prior acceptance {table.attrs['acceptance_rate']:.2f}")
    print(f"divergences per simulation: {int((divergent > 0).sum())} of {len(divergent)} fits have any; "
          f"total {int(divergent.sum())}, max {int(divergent.max())}; counts {divergent.value_counts().sort_index().to_dict()}; "
          f"{int(again.sum())} fits sampled again at retry_target_accept after divergent transitions, "
          f"{int(longer.sum())} of them warmed up longer after the second run diverged too")
    pd.set_option("display.width", 160)
    tables = {}
    for by in (("parameter", "index"), ("parameter",)):
        u = tables[by] = rank_uniformity(table, n_bins=args.bins, by=by)
        threshold = 0.01 / len(u)
        print(f"\nby {', '.join(by)}: {len(u)} tests, Bonferroni threshold {threshold:.2g}; "
              f"min p = {u['p_value'].min():.3g}; below threshold: {int((u['p_value'] < threshold).sum())}")
        print(u.drop(columns=["counts"]).to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    bias = lower_half(table)
    print("\nbias: share of truths ranked in the lower half of the draws (50% if centred), 99% binomial range")
    print(bias.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    pooled = tables[("parameter",)].set_index("parameter")
    write_results(args.results_name, {
        **({"script": "benchmarks/sbc.py " + " ".join(sys.argv[1:])} if args.results_name != "sbc" else {}),
        "settings": {**vars(args), "runs": int(design["run"].nunique())},
        "seconds": seconds,
        "divergences": {"fits_with_any": int((divergent > 0).sum()), "fits": int(len(divergent)),
                        "total": int(divergent.sum()), "max": int(divergent.max()),
                        "fits_sampled_again": int(again.sum()), "fits_warmed_up_longer": int(longer.sum())},
        "summary": [{"parameter": r["parameter"], "ranks": int(r["n"]), "lower_half": float(r["lower_half"]),
                     "range_99": f"{r['lo']:.2f}-{r['hi']:.2f}", "chi2_p": float(pooled.loc[r["parameter"], "p_value"])}
                    for r in bias.to_dict("records")],
    })
    if args.out:
        table.to_csv(args.out, index=False)
    if args.figure:
        from ladderfit.plots.sbc import plot_sbc_ranks

        plot_sbc_ranks(table, n_bins=args.bins).savefig(args.figure, dpi=110)


def lower_half(table: pd.DataFrame) -> pd.DataFrame:
    """Per parameter (tasks pooled): the share of ranks below the middle rank (ties at the middle
    count half), with the central 99% binomial range of that share when ranks are uniform."""
    rows = []
    for name, g in table.groupby("parameter", sort=False):
        mid = g["n_draws"].iloc[0] / 2
        share = float(((g["rank"] < mid) + 0.5 * (g["rank"] == mid)).mean())
        n = len(g)
        lo, hi = stats.binom.interval(0.99, n, 0.5)
        rows.append({"parameter": name, "n": n, "lower_half": share, "lo": lo / n, "hi": hi / n,
                     "outside": not (lo / n <= share <= hi / n)})
    return pd.DataFrame(rows)


if __name__ == "__main__":
    main()
