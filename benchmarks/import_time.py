"""What the imports cost before a fit can start: one row per (interpreter, module), seconds.

    python benchmarks/import_time.py [--python PY ...] [--repeats 5]

Each module is imported in a new process (``python -X importtime -c "import numpy; import M"``,
numpy first so that its own import is not counted), ``--repeats`` times; the row is the median
of Python's own cumulative time for ``M``. ``--python`` adds other interpreters (another virtual
environment, another ``ml_dtypes``) for the modules they have; each row names the interpreter's
``ml_dtypes`` and numpy. The modules: ``ml_dtypes._ml_dtypes_ext`` (the extension JAX imports
first), ``jax`` (the extension included) and ``ladderfit.cli``. Writes
``benchmarks/results/import_time.json``; the dependencies exclude ``ml_dtypes`` 0.7.0 on its rows.

    python benchmarks/import_time.py --predict [--repeats 5]

What a second ``ladderfit predict --target 7B-4T --target 13B-5T`` imports (a new process with
``-X importtime``, its compilation cache filled by a first run): all its imports (the sum of
Python's self times) and ladderfit's own modules, each with ladderfit's bytecode cached and
compiled from source (:func:`predict_breakdown`), and the packages of :data:`PREDICT_MODULES`,
each with the module that imported it first and its cumulative seconds there (medians of
``--repeats``). Writes ``benchmarks/results/import_breakdown.json``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

#: The rows of ``--predict``: a module and what ladderfit does with it.
PREDICT_MODULES = (
    ("pandas", "the tables"),
    ("jax", "the programs"),
    ("numpyro", "the model and NUTS, with the modules below"),
    ("scipy.fft", "NumPyro's autocorrelation (ladderfit's diagnostics take only its next_fast_len)"),
    ("jax.experimental.sparse", "NumPyro's sparse distributions (no ladderfit model has one)"),
    ("jax.extend", "NumPyro's provenance tracking, with JAX's Pallas kernels (not used)"),
)

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


def import_lines(stderr: str) -> list[tuple[str, int, float, float]]:
    """(module, depth, self seconds, cumulative seconds) of each line of ``-X importtime``."""
    rows = []
    for line in stderr.splitlines():
        parts = line[len("import time:"):].split("|") if line.startswith("import time:") else []
        if len(parts) == 3 and parts[0].strip().isdigit():
            name = parts[2].rstrip()
            depth = (len(name) - len(name.lstrip(" "))) // 2
            rows.append((name.strip(), depth, int(parts[0]) / 1e6, int(parts[1]) / 1e6))
    return rows


def _importer(lines: list, i: int) -> str:
    """The module that imported line ``i``'s: the next line less deep (children are printed
    first), passing over the module's own submodules (``import a.b`` imports ``a`` first)."""
    name, depth = lines[i][0], lines[i][1]
    for other, other_depth, _, _ in lines[i + 1:]:
        if other_depth < depth:
            if not other.startswith(name + "."):
                return other
            depth = other_depth
    return "-"


def _drop_bytecode() -> None:
    """Delete the cached bytecode of ladderfit's own modules (``__pycache__`` in its folder): the
    next start compiles them from source."""
    import shutil
    from importlib.util import find_spec

    for folder in find_spec("ladderfit").submodule_search_locations:
        for cache in Path(folder).rglob("__pycache__"):
            shutil.rmtree(cache, ignore_errors=True)


def predict_breakdown(repeats: int) -> list[dict]:
    """The ``--predict`` table (see the module's docstring). The first four rows are measured
    twice: with ladderfit's modules compiled from source at the start (their cached bytecode
    deleted; under ``PYTHONDONTWRITEBYTECODE``, as this sandbox sets it, an editable install
    never caches it) and with their bytecode cached, as Python does by default; the other rows
    with the bytecode cached."""
    cmd = [sys.executable, "-m", "ladderfit.cli", "predict", "--target", "7B-4T", "--target", "13B-5T"]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(JAX_COMPILATION_CACHE_DIR=tempfile.mkdtemp(prefix="ladderfit-import-"), LADDERFIT_PROGRESS_BAR="0")
    settings = {" (from source)": {**env, "PYTHONDONTWRITEBYTECODE": "1"}, " (bytecode cached)": env}
    subprocess.run(cmd, env=env, capture_output=True, check=True)  # fills the compilation cache
    found: dict[str, list] = {}
    for _ in range(repeats):
        for suffix, setting_env in settings.items():
            if suffix == " (from source)":
                _drop_bytecode()
            else:  # a first start writes the bytecode
                subprocess.run(cmd, env=env, capture_output=True, check=True)
            run = subprocess.run([cmd[0], "-X", "importtime", *cmd[1:]], env=setting_env, capture_output=True,
                                 text=True, check=True)
            lines = import_lines(run.stderr)
            found.setdefault("all imports" + suffix, []).append((sum(r[2] for r in lines), "-"))
            found.setdefault("ladderfit's own modules" + suffix, []).append(
                (sum(r[2] for r in lines if r[0].split(".")[0] == "ladderfit"), "-"))
            for i, (name, depth, _, cumulative) in enumerate(lines):
                if name in dict(PREDICT_MODULES) and suffix == " (bytecode cached)":
                    found.setdefault(name, []).append((cumulative, _importer(lines, i)))
    notes = {"all imports (bytecode cached)": "the sum of every module's own time",
             "all imports (from source)": "the same, ladderfit's modules compiled at the start",
             "ladderfit's own modules (bytecode cached)": "their own time",
             "ladderfit's own modules (from source)": "the same, compiled at the start",
             **dict(PREDICT_MODULES)}
    return [{"module": name, "first_imported_by": got[0][1], "seconds": round(statistics.median(g[0] for g in got), 3),
             "what_for": notes[name]} for name, got in sorted(found.items(), key=lambda kv: list(notes).index(kv[0]))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--python", action="append", default=[], help="another interpreter to time (repeatable)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--predict", action="store_true", help="what a second `ladderfit predict` imports")
    args = ap.parse_args()
    if args.predict:
        from results_io import write_results

        rows = predict_breakdown(args.repeats)
        print(f"{'module':42} {'first imported by':34} {'seconds':>8}  what for")
        for r in rows:
            print(f"{r['module']:42} {r['first_imported_by']:34} {r['seconds']:8.3f}  {r['what_for']}")
        path = write_results("import_breakdown", {"settings": {"repeats": args.repeats, "predict": True},
                                                  "summary": rows, "script": "benchmarks/import_time.py --predict"})
        print(f"\n(written to {path})")
        return
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
