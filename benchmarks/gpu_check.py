"""One short check of the GPU path: run it unchanged on a machine with an NVIDIA GPU.

    pip install -e ".[cuda]" && python benchmarks/gpu_check.py [--tasks 10] [--chains 4] [--scale 1000]

It fits the bundled ladder's default tasks (the default model, 7B-4T and 13B-5T) on the GPU with
vectorized chains (one program, the chains in lockstep: what ``chain_method="auto"`` picks on one
GPU; twice: with and without compilation) and with sequential chains, then on the CPU with
sequential chains (parallel chains would need CPU devices that JAX does not make when it runs on a
GPU). It checks that every fit converged and that the GPU's predictions agree with the CPU's
within Monte Carlo error (medians within a third of the CPU's 90% width), times the command users
run (``ladderfit --platform gpu predict``, cold and warm, in new processes) and, with ``--scale
N``, one fit of N simulated tasks on the GPU (in a child process, stopped after
``--scale-timeout`` seconds). It prints one table and writes ``benchmarks/results/gpu_check.json``.
Exit status 1 if JAX sees no GPU or a check fails.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TARGETS = ["7B-4T", "13B-5T"]
COLUMNS = ["what", "device", "chains", "run", "seconds", "sampling_s", "draws_per_chain", "min_ess_bulk",
           "min_ess_tail", "max_r_hat", "divergences", "peak_device_mb", "converged", "note"]


def records(rows: list[dict]) -> list[dict]:
    """The rows with every column (None where a row has no value), as the results file holds them."""
    return [{c: r.get(c) for c in COLUMNS} for r in rows]


def _peak_mb(device) -> float | None:
    stats = device.memory_stats() if hasattr(device, "memory_stats") else None
    return round(stats["peak_bytes_in_use"] / 2**20) if stats and "peak_bytes_in_use" in stats else None


def _fit_row(what: str, device, method: str, run: str, **fit_options) -> tuple[dict, object]:
    import ladderfit

    t0 = time.perf_counter()
    fit = ladderfit.fit(chain_method=method, progress_bar=False, **fit_options)
    pred = fit.predict(TARGETS, seed=0)
    wall = time.perf_counter() - t0
    d = fit.diagnostics.as_dict()
    row = {"what": what, "device": device.platform, "chains": method, "run": run, "seconds": round(wall, 1),
           "sampling_s": round(float(fit.sampling_seconds), 1),
           "draws_per_chain": int(fit.idata.posterior.sizes["draw"]), "min_ess_bulk": round(d["min_ess_bulk"]),
           "min_ess_tail": round(d["min_ess_tail"]), "max_r_hat": round(float(d["max_r_hat"]), 4),
           "divergences": int(d["divergences"]), "peak_device_mb": _peak_mb(device), "converged": bool(d["converged"])}
    return row, pred[pred["quantity"] == "accuracy"].set_index(["target", "task"])


def _child_scale(n_tasks: int) -> None:
    """Child process: one fit of ``n_tasks`` simulated tasks (16 runs) on the GPU; prints one ROW line."""
    import jax

    import ladderfit
    from ladderfit.model.simulate import default_truths, simulate_ladder

    sim = simulate_ladder(default_truths(n_tasks, seed=1), seed=0)
    t0 = time.perf_counter()
    fit = ladderfit.fit(sim.data, chain_method="vectorized", progress_bar=False)
    d = fit.diagnostics.as_dict()
    print("ROW", f"{time.perf_counter() - t0:.1f}", f"{float(fit.sampling_seconds):.1f}",
          fit.idata.posterior.sizes["draw"], round(d["min_ess_bulk"]), round(d["min_ess_tail"]),
          f"{float(d['max_r_hat']):.4f}", int(d["divergences"]), _peak_mb(jax.devices()[0]), int(d["converged"]),
          flush=True)


def _cli_rows(cache: str) -> list[dict]:
    """``ladderfit --platform gpu predict`` in new processes: cold (empty compilation cache), then warm."""
    rows = []
    env = {**os.environ, "JAX_COMPILATION_CACHE_DIR": cache, "LADDERFIT_PROGRESS_BAR": "0"}
    cmd = [sys.executable, "-m", "ladderfit.cli", "--platform", "gpu", "predict"] + [a for t in TARGETS for a in ("--target", t)]
    for run in ("cold", "warm"):
        t0 = time.perf_counter()
        out = subprocess.run(cmd, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if out.returncode != 0:
            print(out.stdout[-2000:], out.stderr[-2000:], sep="\n")
        rows.append({"what": "ladderfit --platform gpu predict", "device": "gpu", "chains": "auto", "run": run,
                     "seconds": round(wall, 1), "converged": out.returncode == 0})
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", type=int, default=10, help="the first N default tasks (default 10)")
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--scale", type=int, default=0, help="also fit this many simulated tasks on the GPU (0: no)")
    ap.add_argument("--scale-timeout", type=float, default=240.0, help="seconds before the scale fit is stopped")
    ap.add_argument("--no-cli", action="store_true", help="skip timing `ladderfit --platform gpu predict`")
    ap.add_argument("--child-scale", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    os.environ.setdefault("JAX_ENABLE_X64", "1")
    # memory as used, not 75% of the card taken at start (the child processes below need theirs)
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    if args.child_scale:
        _child_scale(args.child_scale)
        return 0
    cache = tempfile.mkdtemp(prefix="ladderfit-gpu-cache-")  # every run here starts without compiled programs
    os.environ["JAX_COMPILATION_CACHE_DIR"] = cache
    import jax
    import pandas as pd

    sys.path.insert(0, HERE)
    from results_io import write_results

    from ladderfit.data.tasks import ALL_OLMO_TASKS

    gpus = [d for d in jax.devices() if d.platform == "gpu"]
    print(f"jax {jax.__version__}; devices: {jax.devices()}", flush=True)
    if not gpus:
        print("no GPU visible to JAX: install with `pip install -e \".[cuda]\"` on a machine with an NVIDIA GPU")
        return 1
    tasks = list(ALL_OLMO_TASKS)[: args.tasks]
    rows, preds = [], {}

    def save(agreement=None):
        write_results("gpu_check", {"settings": {"tasks": tasks, "chains": args.chains, "targets": TARGETS,
                                                 "scale_tasks": args.scale, "device": str(gpus[0]),
                                                 "jax": jax.__version__},
                                    "agreement": agreement, "summary": records(rows)})

    plan = [("gpu", "vectorized", "cold"), ("gpu", "vectorized", "warm"), ("gpu", "sequential", "cold"),
            ("cpu", "sequential", "cold")]
    for platform, method, run in plan:
        device = gpus[0] if platform == "gpu" else jax.devices("cpu")[0]
        with jax.default_device(device):
            row, pred = _fit_row(f"fit + predict, {len(tasks)} tasks", device, method, run, tasks=tasks,
                                 chains=args.chains)
        rows.append(row)
        preds.setdefault(platform, pred)
        print(" ".join(f"{k}={v}" for k, v in row.items()), flush=True)
        save()
    gpu, cpu = preds["gpu"], preds["cpu"]
    width = cpu["upper_90"] - cpu["lower_90"]
    gap = (gpu["median"] - cpu["median"]).abs()
    agreement = {"largest_gap_points": round(100 * float(gap.max()), 2),
                 "largest_gap_over_cpu_width90": round(float((gap / width).max()), 3)}
    agreement["ok"] = agreement["largest_gap_over_cpu_width90"] <= 1 / 3
    save(agreement)
    if not args.no_cli:
        rows.extend(_cli_rows(tempfile.mkdtemp(prefix="ladderfit-gpu-cli-cache-")))
        save(agreement)
    if args.scale:
        cmd = [sys.executable, os.path.abspath(__file__), "--child-scale", str(args.scale)]
        row = {"what": f"fit, {args.scale} simulated tasks", "device": "gpu", "chains": "vectorized", "run": "cold"}
        t0 = time.perf_counter()
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=args.scale_timeout)
            vals = [ln.split()[1:] for ln in out.stdout.splitlines() if ln.startswith("ROW ")]
            if vals:
                v = vals[0]
                row.update(seconds=float(v[0]), sampling_s=float(v[1]), draws_per_chain=int(v[2]),
                           min_ess_bulk=int(v[3]), min_ess_tail=int(v[4]), max_r_hat=float(v[5]),
                           divergences=int(v[6]), peak_device_mb=None if v[7] == "None" else int(v[7]),
                           converged=bool(int(v[8])))
            else:
                print(out.stdout[-2000:], out.stderr[-3000:], sep="\n")
                row.update(seconds=round(time.perf_counter() - t0, 1), converged=False)
        except subprocess.TimeoutExpired:
            row.update(seconds=None, converged=False, note=f"stopped after {args.scale_timeout:.0f} s")
        rows.append(row)
        save(agreement)
    table = pd.DataFrame(records(rows))
    ints = ["draws_per_chain", "min_ess_bulk", "min_ess_tail", "divergences", "peak_device_mb"]
    table[ints] = table[ints].astype("Int64")
    table = table.astype(object).where(table.notna(), "-")
    print()
    print(table.to_string(index=False))
    print(f"\nmedian accuracy, GPU (vectorized) vs CPU: largest gap {agreement['largest_gap_points']:.2f} points; "
          f"largest gap / CPU 90% width {agreement['largest_gap_over_cpu_width90']:.2f} (must be <= 0.33): "
          f"{'ok' if agreement['ok'] else 'FAIL'}")
    ok = agreement["ok"] and all(r["converged"] for r in rows if not r.get("note"))
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
