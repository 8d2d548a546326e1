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
    """Write ``benchmarks/results/NAME.json`` with the commit, the package version and the machine."""
    import platform

    import ladderfit

    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "src"], capture_output=True, text=True)
    meta = {"commit": commit.stdout.strip() + ("+dirty" if dirty.stdout.strip() else ""),
            "version": getattr(ladderfit, "__version__", "?"), "python": platform.python_version(),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs", "date": time.strftime("%Y-%m-%d %H:%M")}
    path = ROOT / "benchmarks" / "results" / f"{name}.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps({**meta, **payload}, indent=1, default=float))
    return path
