"""The sampler's compiled program kept between processes (ladderfit.model.programs): its key
follows the content it is computed from, a later process loads the program instead of tracing
it and draws the same numbers bit for bit, and a broken file is compiled anew."""

import json
import os
import subprocess
import sys
import textwrap

import dataclasses

import numpy as np
import pytest

from ladderfit.model.inputs import build_model_data
from ladderfit.model.spec import as_spec
from ladderfit.model.programs import digest
from ladderfit.data.bundled import load_olmo_ladder

# One small fit in a new process (a program read from disk runs in a process of its own, as
# in the CLI): the counts of programs loaded and stored, and a digest of every draw.
FIT = textwrap.dedent("""
    import json, os, sys
    if os.environ.get("FIT_IN_IPYTHON"):  # as in a notebook
        import IPython
    import numpy as np
    import ladderfit
    from ladderfit.model import programs
    from ladderfit.model.runtime import compilation_cache

    compilation_cache(sys.argv[1])
    tasks = sys.argv[2].split(",")
    fit = ladderfit.fit(tasks=tasks, chains=2, warmup=150, draws=100, progress_bar=False)
    counts = dict(programs.COUNTS)
    pred = fit.predict(["7B-4T"], seed=1)  # the posterior predictive at targets: a program too
    predicted = {k: programs.COUNTS[k] - counts[k] for k in ("loaded", "stored", "compiled")}
    # a fit and its predictions need no ArviZ (nor what it imports)
    imported = sorted(m for m in ("arviz", "xarray", "matplotlib", "scipy.stats") if m in sys.modules)
    post = fit.idata.posterior
    draws = programs.digest({k: np.asarray(post[k]) for k in sorted(post.data_vars)})
    print(json.dumps({**counts, "draws": draws, "predicted": predicted, "imported": imported,
                      "prediction": programs.digest(pred.select_dtypes("number").to_numpy())}))
""")


def _fit(cache: str, tasks: str = "arc_easy,hellaswag", **env) -> dict:
    environ = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2", "JAX_ENABLE_X64": "1",
               "JAX_PLATFORMS": "cpu", **env}
    environ.pop("JAX_COMPILATION_CACHE_DIR", None)
    p = subprocess.run([sys.executable, "-c", FIT, cache, tasks], env=environ, capture_output=True, text=True,
                       timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    return json.loads(p.stdout.strip().splitlines()[-1])


def _programs(cache) -> list:
    folder = cache / "ladderfit-programs"
    return sorted(folder.iterdir()) if folder.is_dir() else []


def test_a_later_process_loads_the_program_and_draws_the_same_numbers(tmp_path):
    cache = tmp_path / "jax"
    first = _fit(str(cache))
    assert (first["stored"], first["loaded"]) == (1, 0)
    assert first["predicted"] == {"loaded": 0, "stored": 1, "compiled": 1}
    assert first["imported"] == []  # ArviZ only once InferenceData is asked for
    assert [p.name.split("-")[0] for p in _programs(cache)] == ["nuts", "predictive"]
    second = _fit(str(cache))
    assert (second["compiled"], second["loaded"]) == (0, 1)  # no tracing, no compilation
    assert second["predicted"] == {"loaded": 1, "stored": 0, "compiled": 0}
    assert second["draws"] == first["draws"] and second["prediction"] == first["prediction"]
    # NumPyro's own pmap and JAX's jit, nothing kept: the same draws and predictions too
    plain = _fit(str(tmp_path / "off"), LADDERFIT_COMPILATION_CACHE="0")
    assert plain["loaded"] == plain["stored"] == 0 and not _programs(tmp_path / "off")
    assert plain["predicted"] == {"loaded": 0, "stored": 0, "compiled": 0}
    assert plain["draws"] == first["draws"] and plain["prediction"] == first["prediction"]
    # a broken file is compiled anew and replaced, with the same draws
    _programs(cache)[0].write_bytes(b"not a program")
    again = _fit(str(cache))
    assert (again["loaded"], again["stored"]) == (0, 1) and again["draws"] == first["draws"]
    # other data: another program (and another predictive)
    other = _fit(str(cache), tasks="arc_easy,piqa")
    assert other["stored"] == 1 and len(_programs(cache)) == 4 and other["draws"] != first["draws"]


@pytest.fixture(scope="module")
def md():
    df = load_olmo_ladder()
    return build_model_data(df[df.task.isin(["arc_easy", "hellaswag"])], as_spec("single_step"))


def test_the_key_follows_the_content(md):
    assert digest((md, {"a": 1, "b": 2})) == digest((md, {"b": 2, "a": 1}))
    changed = dataclasses.replace(md, s1_acc=md.s1_acc + 1e-12)
    assert digest(changed) != digest(md)
    assert digest(np.arange(3, dtype=np.int32)) != digest(np.arange(3, dtype=np.int64))
    assert digest(np.zeros((2, 3))) != digest(np.zeros((3, 2)))
    assert digest([1, 2]) != digest((1, 2))
    assert digest(1) != digest(1.0) != digest("1")


def test_what_it_cannot_read_it_does_not_key():
    with pytest.raises(TypeError):
        digest(object())
    scale = 2.0
    with pytest.raises(TypeError):  # a closure's values are not in its name
        digest(lambda x: scale * x)


def test_only_the_most_recently_used_programs_are_kept(tmp_path):
    from ladderfit.model.programs import _evict

    for i in range(5):
        f = tmp_path / f"nuts-{i}.jaxprog"
        f.write_bytes(b"x")
        os.utime(f, (1000 + i, 1000 + i))
    (tmp_path / "other.txt").write_text("not ours")
    _evict(tmp_path, keep=3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nuts-2.jaxprog", "nuts-3.jaxprog", "nuts-4.jaxprog",
                                                          "other.txt"]


def test_compiler_options_where_jaxlib_knows_them():
    """The single step's sampler and the run effects' compile with XLA's classic CPU emitters (a
    measured choice, runtime.CPU_COMPILER_OPTIONS), the two steps' with XLA's defaults; an option jaxlib does not
    know is dropped, not fatal; the options are in a kept program's key."""
    import jax
    import jax.numpy as jnp

    from ladderfit.model.programs import CachedChains, _compile
    from ladderfit.model.runtime import compiler_options

    from ladderfit.model.spec import as_spec

    assert compiler_options("single_step") == {"xla_cpu_use_fusion_emitters": False}
    assert compiler_options(as_spec("two_step+run_effects")) == {"xla_cpu_use_fusion_emitters": False}
    assert compiler_options(as_spec("two_step")) == {} and compiler_options("compute") == {}
    assert compiler_options("two_step", "predictive") == {"xla_backend_optimization_level": 0}
    lowered = jax.jit(lambda x: jnp.sin(x) * 2.0).lower(jnp.ones(3))
    expected = np.sin(np.ones(3)) * 2.0
    for options in ({"xla_cpu_use_fusion_emitters": False}, {"xla_cpu_no_such_option": True}, None):
        np.testing.assert_allclose(np.asarray(_compile(lowered, options)(jnp.ones(3))), expected)

    class Fake:  # what CachedChains keys of NumPyro's chain function
        progress_bar, _collection_params, num_warmup, num_samples, num_chains, thinning = False, {}, 1, 1, 1, 1

        def run(self):
            pass

    fn = type("F", (), {"func": Fake().run, "keywords": {}})()
    paths = {CachedChains(("x",), "/tmp", options)._path(fn, (np.ones(2),)) for options in ({}, {"a": 1}, {"a": 2})}
    assert len(paths) == 3


def test_an_interactive_session_imports_arviz_while_sampling(tmp_path):
    """In IPython or Jupyter, where InferenceData usually comes next, ArviZ is imported while the
    chains run (in a script or the CLI it is not: test_a_later_process_loads_the_program...)."""
    pytest.importorskip("IPython")
    got = _fit(str(tmp_path / "jax"), FIT_IN_IPYTHON="1")
    assert {"arviz", "xarray"} <= set(got["imported"])


def test_a_progress_bar_draws_the_same_numbers():
    """With a progress bar (host callbacks: compiled here, never kept) the sampler compiles with the
    same XLA options as without, so the draws are the same bit for bit."""
    import warnings

    import ladderfit

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fits = [ladderfit.fit(tasks=["arc_easy", "piqa"], chains=2, warmup=100, draws=50, progress_bar=bar)
                for bar in (True, False)]
    a, b = (f._draws.samples for f in fits)
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
