"""One short check of the GPU path: run it unchanged on a machine with an NVIDIA GPU.

    pip install -e ".[cuda]" && python benchmarks/gpu_check.py [--tasks 10] [--chains 4]

On one accelerator the chains are vectorized (one program, the chains in lockstep), the
natural choice there; on the CPU, parallel chains (one XLA host device each) are much faster
(benchmarks/speed.py). The script fits the bundled ladder's default tasks on the GPU with
vectorized chains (twice: with and without compilation), checks that it converged, compares
the chained predictions with a CPU fit of the same data (chains one after another) (they must agree within Monte Carlo error: medians within a third of the
CPU's 90% width) and prints wall times. Exit status 1 if JAX sees no GPU or a check fails.
"""

from __future__ import annotations

import argparse
import os
import sys
import time


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", type=int, default=10, help="the first N default tasks (default 10)")
    ap.add_argument("--chains", type=int, default=4)
    args = ap.parse_args()
    os.environ.setdefault("JAX_ENABLE_X64", "1")
    import jax
    import numpy as np

    import ladderfit
    from ladderfit.data.tasks import ALL_OLMO_TASKS

    gpus = [d for d in jax.devices() if d.platform == "gpu"]
    print(f"jax {jax.__version__}; devices: {jax.devices()}")
    if not gpus:
        print("no GPU visible to JAX: install with `pip install -e \".[cuda]\"` on a machine with an NVIDIA GPU")
        return 1
    tasks = list(ALL_OLMO_TASKS)[: args.tasks]
    targets = ["7B-4T", "13B-5T"]
    out, ok = {}, True
    # the CPU reference: chains one after another (parallel chains would need CPU devices that
    # JAX does not make when it runs on a GPU)
    for platform, method, runs in (("gpu", "vectorized", ("cold", "warm")), ("cpu", "sequential", ("cold",))):
        device = gpus[0] if platform == "gpu" else jax.devices("cpu")[0]
        with jax.default_device(device):
            for run in runs:
                t0 = time.perf_counter()
                fit = ladderfit.fit(tasks=tasks, chains=args.chains, chain_method=method, progress_bar=False)
                pred = fit.predict(targets, seed=0)
                wall = time.perf_counter() - t0
                d = fit.diagnostics.as_dict()
                print(f"{platform} {method:<10} {run}: {wall:6.1f} s (sampling {fit.sampling_seconds:.1f} s); "
                      f"max R-hat {d['max_r_hat']:.3f}, min bulk ESS {d['min_ess_bulk']:.0f}, "
                      f"{d['divergences']} divergences, {fit.idata.posterior.sizes['draw']} draws per chain")
                ok &= bool(d["converged"])
        out[platform] = pred[pred["quantity"] == "accuracy"].set_index(["target", "task"])
    gpu, cpu = out["gpu"], out["cpu"]
    width = cpu["upper_90"] - cpu["lower_90"]
    gap = (gpu["median"] - cpu["median"]).abs()
    agree = bool((gap <= width / 3).all())
    print(f"median accuracy, GPU vs CPU: largest gap {100 * gap.max():.2f} points; "
          f"largest gap / CPU 90% width {float((gap / width).max()):.2f} (must be <= 0.33): {'ok' if agree else 'FAIL'}")
    print("PASS" if ok and agree else "FAIL")
    return 0 if ok and agree else 1


if __name__ == "__main__":
    sys.exit(main())
