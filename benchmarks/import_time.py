"""What the imports cost before a fit can start: one row per (interpreter, module), seconds.

    python benchmarks/import_time.py [--python PY ...] [--repeats 5]

Each module is imported in a new process (``python -X importtime -c "import numpy; import M"``,
numpy first so that its own import is not counted), ``--repeats`` times; the row is the median
of Python's own cumulative time for ``M``. ``--python`` adds other interpreters (another virtual
environment, another ``ml_dtypes``) for the modules they have; each row names the interpreter's
``ml_dtypes`` and numpy. The modules: ``ml_dtypes._ml_dtypes_ext`` (the extension JAX imports
first), ``jax`` (the extension included) and ``ladderfit.cli``. Writes
``benchmarks/results/import_time.json``; the dependencies exclude ``ml_dtypes`` 0.7.0 on its rows.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys

MODULES = ("ml_dtypes._ml_dtypes_ext", "jax", "ladderfit.cli")


def cumulative_seconds(importtime_stderr: str, module: str) -> float | None:
    """The cumulative seconds of ``module`` in the output of ``python -X importtime`` (its first
    line naming exactly that module), or None where it was not imported."""
    for line in importtime_stderr.splitlines():
        if not line.startswith("import time:"):
            continue
        parts = line[len("import time:"):].split("|")
        if len(parts) == 3 and parts[2].strip() == module:
            try:
                return int(parts[1]) / 1e6
            except ValueError:  # the header line
                return None
    return None


def versions(python: str) -> dict:
    code = ("import importlib.metadata as m\nfor p in ('ml_dtypes', 'numpy'):\n"
            "    try: print(m.version(p))\n    except Exception: print('-')")
    out = subprocess.run([python, "-c", code], capture_output=True, text=True).stdout.split()
    return {"ml_dtypes": out[0] if out else "-", "numpy": out[1] if len(out) > 1 else "-"}


def measure(python: str, module: str, repeats: int) -> float | None:
    times = []
    for _ in range(repeats):
        top = module.split(".")[0]
        run = subprocess.run([python, "-X", "importtime", "-c", f"import numpy; import {module}"],
                             capture_output=True, text=True)
        if run.returncode != 0:
            return None
        t = cumulative_seconds(run.stderr, module) or cumulative_seconds(run.stderr, top)
        if t is None:
            return None
        times.append(t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--python", action="append", default=[], help="another interpreter to time (repeatable)")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    rows = []
    pythons = [os.path.abspath(p) for p in (sys.executable, *args.python)]
    for python in pythons:
        v = versions(python)
        for module in MODULES:
            t = measure(python, module, args.repeats)
            if t is not None:
                rows.append({"python": python, "ml_dtypes": v["ml_dtypes"], "numpy": v["numpy"], "module": module,
                             "seconds": round(t, 4)})
    print(f"{'ml_dtypes':>9} {'numpy':>7} {'module':26} {'seconds':>8}  interpreter")
    for r in rows:
        print(f"{r['ml_dtypes']:>9} {r['numpy']:>7} {r['module']:26} {r['seconds']:8.3f}  {r['python']}")
    from results_io import write_results

    path = write_results("import_time", {"settings": {"repeats": args.repeats, "pythons": pythons},
                                         "summary": rows})
    print(f"\n(written to {path})")


if __name__ == "__main__":
    main()
