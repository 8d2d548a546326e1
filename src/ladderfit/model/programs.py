"""The sampler's compiled program, kept between processes so that a second fit skips tracing.

JAX's persistent compilation cache (:mod:`.runtime`) saves XLA's compilation, but a new process
still traces NumPyro's NUTS program and lowers it to find the cache entry: about 2 s of a warm
``ladderfit predict`` (``benchmarks/speed.py``). Here the compiled parallel-chain program itself
is written to disk (:mod:`jax.experimental.serialize_executable`) under a key computed from
what determines it, without tracing:

* the fit's inputs: the model's arrays (:class:`~.inputs.ModelData`), the priors, the model
  keywords and NUTS's settings (target, tree depths, warmup, draws, chains, initial values);
* the code: a digest of ladderfit's own source, the versions of JAX, jaxlib and NumPyro;
* the machine: JAX's backend and devices, float64 mode, ``XLA_FLAGS`` and the CPU's flags;
* XLA's compiler options for the program (:func:`~.runtime.compiler_options`: the single step's
  and the run effects' samplers compile with XLA's classic CPU emitters, the predictive at
  optimisation level 0).

A later process with the same key loads the program and runs it: the same executable, so the
same draws bit for bit (``tests/test_programs.py``). Anything the key cannot be computed from
(an input of a type :func:`digest` does not know, a progress bar's host callbacks) falls back
to NumPyro's own ``pmap``; a file that cannot be read is compiled anew and replaced. The
:data:`KEEP` most recently used programs are kept. On with the persistent
compilation cache (the CLI; :func:`~.runtime.compilation_cache` in Python), in its folder;
``LADDERFIT_COMPILATION_CACHE=0`` turns both off. The files are pickled executables, loaded
and run as they are: like JAX's own cache, the folder must be yours alone.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import os
import pickle
import sys
import time
from pathlib import Path

import jax
import numpy as np

from .runtime import cache_allowed

__all__ = ["digest", "source_digest", "machine_digest", "program_dir", "CachedChains", "CachedProgram", "COUNTS"]

#: Subfolder of the compilation cache's folder that holds the sampler's programs.
PROGRAMS = "ladderfit-programs"
#: Programs kept on disk, the most recently used (their size: ``benchmarks/speed.py``'s stages).
KEEP = 64


def digest(obj) -> str:
    """A SHA-256 of ``obj``'s content: arrays by dtype, shape and bytes, containers and
    dataclasses item by item, functions by their qualified name (their code is in
    :func:`source_digest`). TypeError for anything else (the caller then keeps nothing)."""
    h = hashlib.sha256()
    _feed(h, obj)
    return h.hexdigest()


def _feed(h, obj) -> None:
    if obj is None or isinstance(obj, (bool, int, float, complex, str, bytes)):
        h.update(f"{type(obj).__name__}:{obj!r};".encode())
    elif isinstance(obj, (np.ndarray, np.generic, jax.Array)):
        a = np.asarray(obj)
        h.update(f"array:{a.dtype.str}:{a.shape};".encode())
        h.update(np.ascontiguousarray(a).tobytes())
    elif isinstance(obj, (list, tuple)):
        h.update(f"{type(obj).__qualname__}[{len(obj)}](".encode())
        for item in obj:
            _feed(h, item)
        h.update(b")")
    elif isinstance(obj, dict):
        h.update(f"dict[{len(obj)}](".encode())
        for k in sorted(obj, key=repr):
            _feed(h, k)
            _feed(h, obj[k])
        h.update(b")")
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        h.update(f"{type(obj).__module__}.{type(obj).__qualname__}(".encode())
        for f in dataclasses.fields(obj):
            _feed(h, f.name)
            _feed(h, getattr(obj, f.name))
        h.update(b")")
    elif isinstance(obj, functools.partial):
        h.update(b"partial(")
        _feed(h, obj.func)
        _feed(h, obj.args)
        _feed(h, obj.keywords)
        h.update(b")")
    elif callable(obj) and hasattr(obj, "__qualname__") and getattr(obj, "__closure__", None) is None:
        h.update(f"function:{obj.__module__}.{obj.__qualname__};".encode())
    else:
        raise TypeError(f"no content digest for {type(obj).__qualname__}")


@functools.lru_cache(maxsize=1)
def source_digest() -> str:
    """A digest of every module of the installed ladderfit (a changed model is another program)."""
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


@functools.lru_cache(maxsize=1)
def machine_digest() -> str:
    """What a program was compiled for: versions, backend, devices, float64, XLA flags, CPU flags."""
    import jaxlib
    import numpyro

    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line for line in f if line.startswith(("flags", "Features"))), "")
    except OSError:
        cpu = ""
    backend = jax.devices()[0].client
    parts = (sys.version_info[:2], jax.__version__, jaxlib.__version__, numpyro.__version__, source_digest(),
             backend.platform, backend.platform_version, [d.device_kind for d in jax.devices()],
             bool(jax.config.jax_enable_x64), os.environ.get("XLA_FLAGS", ""), cpu)
    return digest(parts)


def program_dir() -> Path | None:
    """Where programs are kept: a folder in the persistent compilation cache's, or None when that
    cache is off (``LADDERFIT_COMPILATION_CACHE=0``, or never turned on in this process)."""
    if not cache_allowed():
        return None
    cache = jax.config.jax_compilation_cache_dir
    if not cache or not jax.config.jax_enable_compilation_cache:
        return None
    return Path(cache) / PROGRAMS


#: Programs of this process: how many were read from disk (and the seconds that took), compiled
#: and written, or compiled and not kept (no folder or key: "unkeyed"); for tests and benchmarks.
COUNTS = {"loaded": 0, "stored": 0, "compiled": 0, "unkeyed": 0, "load_seconds": 0.0}

#: Programs already loaded or compiled in this process, by file (a notebook's second fit of the
#: same data reads nothing); the most recent few.
_IN_MEMORY: dict = {}
_IN_MEMORY_MAX = 4


class CachedChains:
    """NumPyro's ``chain_method`` as a callable: the chains in parallel (``pmap``, one device
    each) through a compiled program kept in :func:`program_dir` (``directory``; None: compiled
    with ``options``, not kept). ``inputs``: what the model
    and kernel were built from (data, priors, sampler settings); the MCMC's own collection
    settings and the arguments' shapes are added at each run. ``options``: XLA's compiler
    options for the program (where jaxlib knows them)."""

    def __init__(self, inputs, directory: Path | None, options: dict | None = None):
        self.inputs, self.options = inputs, dict(options or {})
        self.directory = None if directory is None else Path(directory)

    def __call__(self, fn):
        def run(map_args):
            path = self._path(fn, map_args)
            if path is None:  # not kept (no folder, a progress bar's callbacks, no key): compiled here
                COUNTS["unkeyed"] += 1
                return _compile(jax.pmap(fn).lower(map_args), self.options)(map_args)
            return _kept(path, (map_args,), lambda: jax.pmap(fn).lower(map_args), options=self.options)(map_args)

        return run

    def _path(self, fn, map_args) -> Path | None:
        """The program's file, or None without a folder or a key (then it is compiled, not kept)."""
        mcmc = getattr(getattr(fn, "func", None), "__self__", None)
        if self.directory is None or mcmc is None or getattr(mcmc, "progress_bar", False):  # host callbacks do not serialize
            return None
        try:
            key = digest((machine_digest(), self.inputs, fn.keywords, dict(mcmc._collection_params),
                          mcmc.num_warmup, mcmc.num_samples, mcmc.num_chains, mcmc.thinning, _arguments(map_args),
                          sorted(self.options.items())))
        except (TypeError, AttributeError):
            return None
        return self.directory / f"nuts-{key[:40]}.jaxprog"


class CachedProgram:
    """``jax.jit(fn)`` whose compiled program is kept in :func:`program_dir` as the sampler's is,
    under a key of ``inputs`` (what ``fn`` closes over: data, priors, settings, digested) and the
    arguments' shapes and types, computed without tracing: a later process loads the program
    instead of tracing, lowering and compiling it. Without the cache (off, or keys that cannot
    be computed) it is ``jax.jit(fn)``. Both compile with XLA's compiler ``options``."""

    def __init__(self, fn, inputs, name: str, options: dict | None = None):
        self.inputs, self.name, self.options = inputs, name, dict(options or {})
        self.jitted = jax.jit(fn, compiler_options=self.options or None)

    def __call__(self, *args):
        directory = program_dir()
        if directory is None:
            return self.jitted(*args)
        try:
            key = digest((machine_digest(), self.name, self.inputs, _arguments(args), sorted(self.options.items())))
        except TypeError:
            COUNTS["unkeyed"] += 1
            return self.jitted(*args)
        path = directory / f"{self.name}-{key[:40]}.jaxprog"
        return _kept(path, args, lambda: self.jitted.lower(*args), jax.devices()[:1],
                     self.options)(*args)  # jit's default device


def _arguments(args) -> tuple:
    """What a program's key takes of its arguments: their tree, shapes and types (not values)."""
    shapes = jax.tree.map(lambda x: (np.shape(x), np.result_type(x).str), args)
    return str(jax.tree.structure(args)), jax.tree.leaves(shapes)


def _kept(path: Path, args: tuple, lower, devices=None, options: dict | None = None):
    """The program kept at ``path``: from this process, else loaded from disk (onto ``devices``),
    else ``lower()`` compiled (with XLA's compiler ``options``) and written there; remembered in
    this process, the most recent last, at most :data:`_IN_MEMORY_MAX`."""
    compiled = _IN_MEMORY.get(path)
    if compiled is None:
        compiled = _load(path, args, devices)
    if compiled is None:
        compiled = _compile_and_store(lower(), path, options)
    _IN_MEMORY.pop(path, None)
    _IN_MEMORY[path] = compiled
    while len(_IN_MEMORY) > _IN_MEMORY_MAX:
        _IN_MEMORY.pop(next(iter(_IN_MEMORY)))
    return compiled


def _load(path: Path, args: tuple, devices=None):
    """The program kept at ``path``, loaded onto ``devices`` (default: all, as a parallel-chain
    program runs), if it exists, reads and takes ``args``; else None."""
    from jax.experimental.serialize_executable import deserialize_and_load

    if not path.is_file():
        return None
    start = time.perf_counter()
    try:
        with open(path, "rb") as f:
            payload, in_tree, out_tree = pickle.load(f)
        compiled = deserialize_and_load(payload, in_tree, out_tree, execution_devices=devices)
    except Exception:  # noqa: BLE001 (a broken or foreign file: compile anew and replace it)
        return None
    if in_tree != jax.tree.structure((tuple(args), {})):
        return None
    with contextlib.suppress(OSError):
        os.utime(path)  # recently used: kept longest (_evict)
    COUNTS["loaded"] += 1
    COUNTS["load_seconds"] += time.perf_counter() - start
    return compiled


def _compile_and_store(lowered, path: Path, options: dict | None = None):
    """Compile ``lowered`` (with XLA's compiler ``options``) and write the program to ``path``
    (whole or not at all)."""
    from jax.experimental.serialize_executable import serialize

    compiled, fresh = _compile_fresh(lowered, options)
    COUNTS["compiled"] += 1
    if fresh:  # an executable read from JAX's own cache does not serialize whole on the CPU
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        try:
            payload, in_tree, out_tree = serialize(compiled)
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as f:
                pickle.dump((payload, in_tree, out_tree), f)
            os.replace(tmp, path)  # whole or not at all
            COUNTS["stored"] += 1
            _evict(path.parent)
        except Exception:  # noqa: BLE001 (not kept: the fit goes on with the program it has)
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
    return compiled


def _evict(folder: Path, keep: int | None = None) -> None:
    """Keep the :data:`KEEP` most recently used programs, delete the rest."""
    keep = KEEP if keep is None else keep
    with contextlib.suppress(OSError):
        files = sorted(folder.glob("*.jaxprog"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in files[keep:]:
            old.unlink(missing_ok=True)


def _compile_fresh(lowered, options: dict | None = None):
    """``lowered.compile()`` with JAX's persistent cache bypassed for this one program (an
    executable deserialized from it lacks its compiled functions when serialized again, on the
    CPU: "Function ... not found" when run), with XLA's compiler ``options`` where jaxlib knows
    them (else without). Returns (compiled, whether it was compiled here)."""
    from jax._src import compilation_cache as cc
    from jax._src import monitoring

    hits = []

    def on_event(event: str, **_) -> None:
        if event == "/jax/compilation_cache/cache_hits":
            hits.append(event)

    monitoring.register_event_listener(on_event)
    saved = (getattr(cc, "_cache_checked", None), getattr(cc, "_cache_used", None))
    try:
        if saved[0] is not None:
            cc._cache_checked, cc._cache_used = True, False
        compiled = _compile(lowered, options)
    finally:
        if saved[0] is not None:
            cc._cache_checked, cc._cache_used = saved
        with_unregister = getattr(monitoring, "unregister_event_listener", None)
        if with_unregister is not None:
            with_unregister(on_event)
    return compiled, not hits


def _compile(lowered, options: dict | None):
    """``lowered.compile`` with XLA's compiler ``options``; without them where jaxlib does not
    know one (an error XLA raises before compiling)."""
    if options:
        try:
            return lowered.compile(compiler_options=options)
        except Exception as e:  # noqa: BLE001 (jaxlib's runtime error; its class moved between releases)
            if "compile option" not in str(e):
                raise
    return lowered.compile()
