"""The one way a benchmark writes its results: ``benchmarks/results/NAME.json`` with the commit,
the package version, the machine and the date beside the script's own keys (a ``summary`` list
of records), which the docs' Results page and the README's tables render
(``docs/_ext/results_tables.py``)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def write_results(name: str, payload: dict) -> Path:
    """Write ``benchmarks/results/NAME.json`` with the commit, the package version and the machine
    (and ``script``, the command that wrote it, where NAME is not the script's own name)."""
    import platform

    import ladderfit

    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "src"], capture_output=True, text=True)
    # a copy of the tree without its git folder (a lent GPU machine) names the commit in LADDERFIT_COMMIT
    head = commit.stdout.strip() if commit.returncode == 0 else os.environ.get("LADDERFIT_COMMIT", "?")
    meta = {"commit": head + ("+dirty" if dirty.stdout.strip() else ""),
            "version": getattr(ladderfit, "__version__", "?"), "python": platform.python_version(),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs", "date": time.strftime("%Y-%m-%d %H:%M")}
    path = ROOT / "benchmarks" / "results" / f"{name}.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps({**meta, **payload}, indent=1, default=float))
    return path


def ladder_arguments(ap) -> None:
    """The options every nested-hold-out benchmark takes: ``--ladders``, ``--chains``, ``--warmup``, ``--seed``."""
    ap.add_argument("--ladders", default="olmo,pythia")
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--warmup", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)


def cell(v, scale: float = 1.0, digits: int | None = None):
    """A table cell for a results file: yes/no for a bool, an int, a float (times ``scale``) to
    ``digits`` decimals or, with ``digits=None``, 3 significant digits; None if missing or not finite."""
    import math

    import numpy as np

    if v is None:
        return None
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (int, np.integer)) and scale == 1.0:
        return int(v)
    if isinstance(v, (int, float, np.integer, np.floating)):
        v = scale * float(v)
        if not math.isfinite(v):
            return None
        return float(f"{v:.3g}") if digits is None else round(v, digits)
    return v
