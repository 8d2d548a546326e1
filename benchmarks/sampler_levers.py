"""The sampler's speed levers, one at a time, on the default fit (10 tasks, 16 runs, 4 chains).

    python benchmarks/sampler_levers.py [--seed 0]

Each row fits the bundled ladder with :func:`ladderfit.model.bayes.make_mcmc` and
:func:`~ladderfit.model.bayes.sample` (what :func:`ladderfit.fit` runs) and prints: the wall
time of warmup and sampling (compilation included), draws per chain, mean leapfrog steps per
draw and tree depth after warmup, min bulk / tail ESS, max R-hat, divergences, and the
largest |correlation| within a task among the sigmoid's three coordinates NUTS moves in
(median and max over tasks): floor shift, logit centre and log slope in the model's geometry;
centre accuracy, centre slope and logit centre in the sampler's. Rows:

* the v0.1 sampler: the model's own geometry, 500 warmup, no depth cap while warming up, 1000 draws;
* the sampler's geometry (``for_sampler=True``) with the same settings;
* today's default: 300 warmup, trees capped at depth 6 while warming up, draws by need;
* the default with 200 and 150 warmup iterations, and with ``target_accept`` 0.8.
"""

from __future__ import annotations

import argparse
import os
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=4")
    import numpy as np

    from ladderfit.model import bayes
    from ladderfit.model.config import FitConfig
    from ladderfit.model.priors import resolve_priors
    from ladderfit.model.runtime import prepare

    rows = [
        ("v0.1 sampler (model geometry, 500 warmup, no cap, 1000 draws)", False,
         dict(warmup=500, warmup_tree_depth=10, draws=1000)),
        ("sampler geometry, same settings", True, dict(warmup=500, warmup_tree_depth=10, draws=1000)),
        ("default (300 warmup, cap 6, draws by need)", True, {}),
        ("default, 200 warmup", True, dict(warmup=200)),
        ("default, 150 warmup", True, dict(warmup=150)),
        ("default, target_accept 0.8", True, dict(target_accept=0.8)),
    ]  # fmt: skip
    prepare(4)
    head = f"{'sampler':<64} {'wall s':>7} {'draws':>5} {'steps':>6} {'depth':>5} {'ESS bulk':>8} {'ESS tail':>8} {'R-hat':>6} {'div':>4} {'|r| med':>7} {'|r| max':>7}"
    print(head)
    for label, geometry, options in rows:
        config = FitConfig(seed=args.seed, progress_bar=False, **options)
        df = bayes._ladder_data(None)
        md = bayes.build_model_data(df, config.model, config.preprocessing)
        priors = resolve_priors(config.priors)
        t0 = time.perf_counter()
        draws = bayes.sample(bayes.make_mcmc(md, priors, config), config, md, priors, for_sampler=geometry)
        wall = time.perf_counter() - t0
        d = draws.convergence().as_dict()
        steps = draws.extra["num_steps"]
        s = draws.samples
        r = []
        coords = ("centre_accuracy", "centre_slope", "logit_centre") if geometry else ("floor_shift", "logit_centre", "log_k")
        for t in range(md.n_tasks):
            x = np.c_[tuple(s[name][..., t].ravel() for name in coords)]
            c = np.abs(np.corrcoef(x.T))
            r.append(max(c[0, 1], c[0, 2], c[1, 2]))
        print(f"{label:<64} {wall:7.1f} {draws.n_draws:5d} {steps.mean():6.0f} {np.log2(steps + 1).mean():5.2f} "
              f"{d['min_ess_bulk']:8.0f} {d['min_ess_tail']:8.0f} {d['max_r_hat']:6.3f} {d['divergences']:4d} "
              f"{np.median(r):7.2f} {max(r):7.2f}", flush=True)
    print("\n|r|: the largest |correlation| among the sigmoid's three sampled coordinates of a task")


if __name__ == "__main__":
    main()
