"""JAX's runtime for a fit: float64, one CPU device per chain, XLA's CPU compiler flags, the
persistent compilation cache.

:func:`prepare` is called by :func:`ladderfit.fit` (and the CLI sets the same through
environment variables before JAX starts), so a fresh notebook samples its chains in parallel.
Each setting is left alone where the user has chosen one.

The persistent compilation cache (a second process with the same shapes skips most of the
compilation) is on in the CLI and opt-in from Python (:func:`compilation_cache`): with
jax 0.10 on the CPU, reading a cached parallel-chain NUTS program crashed the process
(segmentation fault) in a long test session that fitted many models, reproducibly, though
not in a one-fit process or a loop of identical fits. Off by default where a crash would
take a notebook's state with it.
"""

from __future__ import annotations

import contextlib
import os
from importlib import metadata

__all__ = ["CACHE_DIR", "prepare", "enable_x64", "host_devices", "xla_flags", "compilation_cache", "cache_allowed",
           "unchecked", "UNCHECKED_STRUCTURES", "CPU_COMPILER_FLAGS"]

#: Where compiled programs are kept between processes (``LADDERFIT_COMPILATION_CACHE=0``: not at all).
CACHE_DIR = os.path.join(os.path.expanduser("~"), ".cache", "ladderfit", "jax")

_DEVICE_FLAG = "--xla_force_host_platform_device_count"

#: XLA's CPU compiler flags a fit adds to ``XLA_FLAGS`` before JAX starts (each unless
#: ``XLA_FLAGS`` names it), on the jaxlib releases of :data:`CPU_COMPILER_FLAGS_JAXLIB`. XLA's
#: classic emitters instead of its MLIR fusion emitters compile the sampler's program faster
#: and run it as fast (``benchmarks/sampler_levers.py --xla-flags``,
#: ``results/xla_flags.json``).
CPU_COMPILER_FLAGS: dict[str, str] = {"--xla_cpu_use_fusion_emitters": "false"}
#: The jaxlib releases ``[from, to)`` on which :data:`CPU_COMPILER_FLAGS` were measured. XLA
#: stops the process on a flag it does not know: jaxlib 0.5.1 and earlier do not know this one
#: (0.5.3 to 0.10.2 do), and a later release might drop it.
CPU_COMPILER_FLAGS_JAXLIB: tuple[tuple[int, int], tuple[int, int]] = ((0, 10), (0, 11))


def prepare(chains: int) -> None:
    """float64 on; ``chains`` CPU devices and :data:`CPU_COMPILER_FLAGS` if JAX has not started yet."""
    host_devices(chains)
    enable_x64()


def _jaxlib_release() -> tuple[int, int] | None:
    try:
        return tuple(int(part) for part in metadata.version("jaxlib").split(".")[:2])
    except (metadata.PackageNotFoundError, ValueError):  # pragma: no cover
        return None


def xla_flags(devices: int | None, flags: str | None = None) -> str:
    """``XLA_FLAGS`` (``flags``, default the environment's) with ladderfit's additions: ``devices``
    CPU devices (for 2 or more; unless a count is set) and :data:`CPU_COMPILER_FLAGS` on the
    jaxlib releases they were measured on (each unless set). Reads no JAX: the CLI calls it
    before JAX is imported."""
    flags = os.environ.get("XLA_FLAGS", "") if flags is None else flags
    added = []
    if devices is not None and devices >= 2 and _DEVICE_FLAG not in flags:
        added.append(f"{_DEVICE_FLAG}={devices}")
    low, high = CPU_COMPILER_FLAGS_JAXLIB
    release = _jaxlib_release()
    if release is not None and low <= release < high:
        added += [f"{name}={value}" for name, value in CPU_COMPILER_FLAGS.items() if name not in flags]
    return " ".join([flags, *added]).strip()


def enable_x64() -> None:
    """Switch JAX to float64: the scaling law's exponentials need it (float32 loses the
    small differences of task loss between rungs)."""
    import jax

    if not jax.config.jax_enable_x64:
        jax.config.update("jax_enable_x64", True)


#: Structures whose programs (the sampler's, the predictive's, the log-likelihood's) are traced
#: without NumPyro's argument and support checks (:func:`unchecked`).
UNCHECKED_STRUCTURES: frozenset[str] = frozenset({"single_step"})


def unchecked(structure: str):
    """A context in which NumPyro builds the distributions of ``structure``'s model without
    checking arguments and support (:func:`numpyro.validation_enabled`, on by default), for the
    structures of :data:`UNCHECKED_STRUCTURES`; a no-op for the others. ladderfit checks the data
    before a fit, every latent is drawn inside its support, and a non-finite density is a
    divergent transition either way. The checks were a fifth of the single step's
    value-and-gradient program (its operations); without them it compiled about a fifth faster
    and ran faster. The two steps' ran no faster without them, so they keep them
    (``benchmarks/sampler_levers.py --unchecked``, ``results/unchecked.json``)."""
    import numpyro

    return numpyro.validation_enabled(False) if structure in UNCHECKED_STRUCTURES else contextlib.nullcontext()


def host_devices(n: int) -> bool:
    """Give XLA ``n`` CPU devices so that chains run in parallel, and :data:`CPU_COMPILER_FLAGS`
    (:func:`xla_flags`); possible only before JAX starts its backends. True if ``XLA_FLAGS``
    changed."""
    from jax._src import xla_bridge

    flags = os.environ.get("XLA_FLAGS", "")
    if xla_bridge.backends_are_initialized() or xla_flags(n, flags) == flags:
        return False
    os.environ["XLA_FLAGS"] = xla_flags(n, flags)
    return True


def compilation_cache(path: str | None = None) -> str | None:
    """Turn on JAX's persistent compilation cache at ``path`` (default :data:`CACHE_DIR`) unless
    one is set or ``LADDERFIT_COMPILATION_CACHE=0``; every program is kept, however quick its
    compilation (a fit compiles a dozen small ones). Call it before the first fit of the
    process. Returns the directory in use."""
    import jax

    if not cache_allowed():
        return jax.config.jax_compilation_cache_dir
    if jax.config.jax_compilation_cache_dir is None:
        jax.config.update("jax_compilation_cache_dir", path or CACHE_DIR)
        if "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS" not in os.environ:
            jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    return jax.config.jax_compilation_cache_dir


def cache_allowed() -> bool:
    """False where ``LADDERFIT_COMPILATION_CACHE`` says off (``0``, ``false``, ``no``, ``off``):
    then nothing compiled is kept between processes, by JAX or by :mod:`.programs`."""
    return os.environ.get("LADDERFIT_COMPILATION_CACHE", "1").strip().lower() not in ("0", "false", "no", "off")
