"""JAX's runtime for a fit: float64, one CPU device per chain, XLA's CPU compiler options, the
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

__all__ = ["CACHE_DIR", "prepare", "enable_x64", "host_devices", "xla_flags", "compilation_cache", "cache_allowed",
           "unchecked", "UNCHECKED_STRUCTURES", "CPU_COMPILER_OPTIONS", "CPU_PREDICTIVE_OPTIONS",
           "compiler_options"]

#: Where compiled programs are kept between processes (``LADDERFIT_COMPILATION_CACHE=0``: not at all).
CACHE_DIR = os.path.join(os.path.expanduser("~"), ".cache", "ladderfit", "jax")

_DEVICE_FLAG = "--xla_force_host_platform_device_count"

#: XLA's CPU compiler options for the sampler's program of a model (its structure, and
#: ``+run_effects`` with run effects), kept on disk or not (:mod:`.programs`): XLA's classic
#: emitters instead of its MLIR fusion emitters compile the single step's program and the two
#: steps' with run effects 0.8-0.9 s faster (3.2 against 4.0 s, 4.3 against 5.2 s), and sample
#: as fast per leapfrog step (the default fit drew the same numbers); the two steps' without run
#: effects sampled about 30% slower (10.9 against 8.3 s warm), so it keeps XLA's defaults
#: (``benchmarks/sampler_levers.py --compiler-options``, ``results/compiler_options.json``).
#: A jaxlib that does not know an option (0.5.1 and earlier do not know this one) compiles without it.
CPU_COMPILER_OPTIONS: dict[str, dict] = {
    "single_step": {"xla_cpu_use_fusion_emitters": False},
    "two_step+run_effects": {"xla_cpu_use_fusion_emitters": False},
}

#: XLA's CPU compiler options for a fit's posterior predictive at targets (a program run once per
#: targets): backend optimisation level 0 compiled it in about half the time (0.45 s against
#: 0.81 s), and it ran 0.017 s slower (0.060 s), its numbers the same to 1e-15
#: (``benchmarks/sampler_levers.py --predictive-options``, ``results/predictive_options.json``).
CPU_PREDICTIVE_OPTIONS: dict = {"xla_backend_optimization_level": 0}


def prepare(chains: int) -> None:
    """float64 on, and ``chains`` CPU devices if JAX has not started yet."""
    host_devices(chains)
    enable_x64()


def xla_flags(devices: int | None, flags: str | None = None) -> str:
    """``XLA_FLAGS`` (``flags``, default the environment's) with ``devices`` CPU devices (for 2
    or more), unless it sets a count. Reads no JAX: the CLI calls it before JAX is imported."""
    flags = os.environ.get("XLA_FLAGS", "") if flags is None else flags
    if devices is None or devices < 2 or _DEVICE_FLAG in flags:
        return flags
    return f"{flags} {_DEVICE_FLAG}={devices}".strip()


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


def compiler_options(spec, program: str = "sampler") -> dict:
    """XLA's compiler options for a program of ``spec`` (a :class:`~ladderfit.model.spec.ModelSpec`
    or a structure's name) on JAX's backend now: on the CPU, the sampler's of
    :data:`CPU_COMPILER_OPTIONS` and ``program="predictive"``'s :data:`CPU_PREDICTIVE_OPTIONS`;
    none elsewhere."""
    import jax

    if jax.default_backend() != "cpu":
        return {}
    if program == "predictive":
        return dict(CPU_PREDICTIVE_OPTIONS)
    structure = getattr(spec, "structure", spec)
    key = structure + ("+run_effects" if getattr(spec, "run_effects", False) else "")
    return dict(CPU_COMPILER_OPTIONS.get(key, {}))


def host_devices(n: int) -> bool:
    """Give XLA ``n`` CPU devices so that chains run in parallel (:func:`xla_flags`); possible
    only before JAX starts its backends, and left alone if ``XLA_FLAGS`` sets a count. True if
    set."""
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
