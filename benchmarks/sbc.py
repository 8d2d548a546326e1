"""Simulation-based calibration of the joint model on a small simulated ladder design.

    python benchmarks/sbc.py [--tasks 2] [--sims 40] [--warmup 200] [--draws 200] [--rank-draws 49]
                             [--bins N] [--seed 0] [--out sbc_ranks.csv] [--figure sbc_ranks.png]

The design: ``simulate_ladder`` with ``--tasks`` tasks and 8 runs (4 sizes x 1 and 5 x
Chinchilla, 12 checkpoints each), raw checkpoints (no smoothing, no thinning). Each
simulation draws the parameters and observations from the prior (``prior_predictive``,
E > 0 by the model's own soft barrier) and fits one NUTS chain; the truth's rank among
``--rank-draws`` thinned posterior draws is recorded (:func:`ladderfit.analysis.sbc.sbc`).
Prints the chi-square test of uniform ranks per (parameter, task) and per parameter pooled
over tasks, with the Bonferroni threshold 0.01 / number of tests.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import pandas as pd

from ladderfit.analysis.sbc import rank_uniformity, sbc
from ladderfit.data.preprocess import Preprocessing
from ladderfit.model.simulate import default_truths, simulate_ladder

RAW = Preprocessing(skip_fraction=0.1, smooth_window=1, step1_last_k=1, thin=1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tasks", type=int, default=2)
    ap.add_argument("--sims", type=int, default=40)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--draws", type=int, default=200)
    ap.add_argument("--rank-draws", type=int, default=49)
    ap.add_argument("--bins", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="write the rank table (CSV)")
    ap.add_argument("--figure", default=None, help="write the rank histograms (PNG)")
    args = ap.parse_args()

    design = simulate_ladder(default_truths(args.tasks, seed=1), seed=1, checkpoints=12, multipliers=(1, 5)).data
    options = dict(chains=1, warmup=args.warmup, draws=args.draws, preprocessing=RAW, seed=args.seed)
    start = time.perf_counter()
    table = sbc(design, args.sims, fit_options=options, n_draws=args.rank_draws, seed=args.seed)
    seconds = time.perf_counter() - start
    divergent = table.groupby("sim")["divergences"].first()
    print(f"{args.sims} simulations, {args.tasks} tasks, {design['run'].nunique()} runs, 1 chain x "
          f"{args.warmup} + {args.draws}, ranks among {args.rank_draws} draws: {seconds:.0f} s; "
          f"prior acceptance {table.attrs['acceptance_rate']:.2f}; fits with divergences: "
          f"{int((divergent > 0).sum())} (total {int(divergent.sum())})")
    pd.set_option("display.width", 160)
    for by in (("parameter", "index"), ("parameter",)):
        u = rank_uniformity(table, n_bins=args.bins, by=by)
        threshold = 0.01 / len(u)
        print(f"\nby {', '.join(by)}: {len(u)} tests, Bonferroni threshold {threshold:.2g}; "
              f"min p = {u['p_value'].min():.3g}; below threshold: {int((u['p_value'] < threshold).sum())}")
        print(u.drop(columns=["counts"]).to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    if args.out:
        table.to_csv(args.out, index=False)
    if args.figure:
        from ladderfit.plots.sbc import plot_sbc_ranks

        plot_sbc_ranks(table, n_bins=args.bins).savefig(args.figure, dpi=110)


if __name__ == "__main__":
    main()
