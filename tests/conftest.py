import os

os.environ.setdefault("JAX_ENABLE_X64", "1")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
# two XLA host devices: the 2-chain test fits run their chains in parallel (xla_flags imports no JAX)
from ladderfit.model.runtime import xla_flags  # noqa: E402

os.environ["XLA_FLAGS"] = xla_flags(2)

import matplotlib

matplotlib.use("Agg")

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.exists():
        pytest.skip(f"shared data folder {SHARED} not present")
    return SHARED


@pytest.fixture(scope="module", autouse=True)
def _free_compiled_programs():
    """After each test module, free JAX's compiled programs: each holds memory mappings, and the
    whole suite's programs in one process exceed the kernel's limit (vm.max_map_count, 65,530
    here: XLA then aborts the process while compiling). A later module recompiles what it uses."""
    yield
    import sys

    if "jax" in sys.modules:
        import gc

        import jax

        jax.clear_caches()
        gc.collect()
