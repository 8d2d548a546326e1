"""Speed of the default fit: 8 paper tasks on the 16-run paper ladder, 4 chains x 1000 draws.

    python benchmarks/speed.py [--chains 4] [--draws 1000] [--warmup 500] [--host-devices 2]

Prints one table: cold (first fit in the process, with compilation) and warm (second fit,
same shapes) wall time, min bulk ESS, bulk ESS per second, max R-hat, divergences, mean tree
depth, and peak resident memory. --host-devices sets XLA's host device count before JAX starts
(default one per chain, so the chains run in parallel).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--warmup", type=int, default=500)
    ap.add_argument("--host-devices", type=int, default=None, help="XLA host devices (default: one per chain)")
    ap.add_argument("--chain-method", default="auto")
    args = ap.parse_args()
    os.environ["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={args.host_devices or args.chains}"
    os.environ.setdefault("JAX_ENABLE_X64", "1")

    import jax
    import numpy as np

    import ladderfit
    from ladderfit.data.bundled import PAPER_LADDER_RUNS
    from ladderfit.data.tasks import PAPER_TASKS

    rows = []
    for label in ("cold", "warm"):
        t0 = time.perf_counter()
        fit = ladderfit.fit(
            runs=list(PAPER_LADDER_RUNS), tasks=list(PAPER_TASKS), chains=args.chains, draws=args.draws,
            warmup=args.warmup, seed=0, chain_method=args.chain_method,
        )
        wall = time.perf_counter() - t0
        d = fit.diagnostics.as_dict()
        depth = float(np.mean(fit.idata.sample_stats["tree_depth"].values))
        rows.append((label, wall, fit.sampling_seconds, d["min_ess_bulk"], d["min_ess_bulk"] / wall, d["max_r_hat"], d["divergences"], depth))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"jax {jax.__version__} on {jax.default_backend()} with {jax.local_device_count()} device(s); "
          f"{args.chains} chains x {args.draws} draws (+{args.warmup} warmup), 8 tasks, 16 runs, {os.cpu_count()} cores")
    print(f"{'run':<5} {'wall s':>7} {'sample s':>8} {'min ESS':>8} {'ESS/s':>7} {'max R-hat':>9} {'diverg.':>7} {'depth':>6}")
    for r in rows:
        print(f"{r[0]:<5} {r[1]:7.1f} {r[2]:8.1f} {r[3]:8.0f} {r[4]:7.1f} {r[5]:9.3f} {r[6]:7d} {r[7]:6.2f}")
    print(f"peak resident memory: {peak_mb:.0f} MB")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
