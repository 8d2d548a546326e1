"""The notebooks run from top to bottom (fast mode: LADDERFIT_FAST=1) and are stored without outputs.

Executing them takes about three minutes of fitting in all; they run in the default suite
(and so in CI), because a notebook that no longer runs is a broken promise to users.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
NAMES = ["01_quickstart.ipynb", "02_task_variance.ipynb", "03_your_own_ladder.ipynb", "04_model_checking.ipynb",
         "05_ladder_design.ipynb"]
PYTHIA = Path(__file__).resolve().parents[2] / "shared" / "pythia-evals"


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_stored_without_outputs(name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, "a notebook without code"
    for cell in code:
        assert cell.outputs == [] and cell.execution_count is None, f"{name}: outputs stored"
    source = "\n".join(c.source for c in code)
    assert 'os.environ.get("LADDERFIT_FAST") == "1"' in source
    assert "plt.show()" not in source


@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs(name, monkeypatch):
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    if name.startswith("03") and not PYTHIA.is_dir() and not os.environ.get("PYTHIA_EVALS"):
        pytest.skip(f"Pythia evaluation files not found at {PYTHIA}")
    monkeypatch.setenv("LADDERFIT_FAST", "1")
    monkeypatch.setenv("JAX_PLATFORMS", "cpu")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    if PYTHIA.is_dir():
        monkeypatch.setenv("PYTHIA_EVALS", str(PYTHIA))
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
    )
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    print(f"{name}: {seconds:.0f} s")
