"""The sampler's speed levers, one at a time, on the default fit (10 tasks, 16 runs, 4 chains).

    python benchmarks/sampler_levers.py [--seed 0]

Each row fits the bundled ladder with :func:`ladderfit.model.bayes.make_mcmc` and
:func:`~ladderfit.model.bayes.sample` (what :func:`ladderfit.fit` runs) and prints: the wall
time of warmup and sampling (compilation included), draws per chain, mean leapfrog steps per
draw and tree depth after warmup, min bulk / tail ESS, max R-hat, divergences, and the
largest |correlation| within a task among the sigmoid's three coordinates NUTS moves in
(median and max over tasks): floor shift, logit centre and log slope in the model's geometry;
centre accuracy, centre slope and logit centre in the sampler's. Rows:

* the v0.1 sampler: the model's own geometry, 500 warmup, no depth cap while warming up, 1000 draws;
* the sampler's geometry and likelihood (``for_sampler=True``) with the same settings;
* today's default: 300 warmup, trees capped at depth 6 while warming up, draws by need, the
  checkpoints' likelihood terms in float32; the same in float64;
* the default with 250, 200 and 150 warmup iterations, and with ``target_accept`` 0.8.

Then **how many first draws** (``FIRST_DRAWS``, ``--first-draws``): for each of several seeds
of a model (``--model``, default: the package's default) on the bundled OLMo and Pythia ladders,
one run to ``max_draws`` per chain (continued as ``fit`` continues, which times the
continuation's compilation and a draw), and whether the first 300, 350, ..., 800 draws meet
the convergence goals (max R-hat <= 1.01 unrounded, bulk and tail ESS >= 400). Divergent
transitions are counted beside, not in the goals: a run that diverged is sampled again from the
start whatever its length (``sample_converging``), and more draws only add to them. Then, with
each as the first draws, ``fit``'s continuations replayed on the same chains: the draws per
chain it ends with, the share of fits that continue (on a cold cache that compiles a second
program) and the expected seconds of the draws, warm and cold. ``FIRST_DRAWS`` is the count of
fewest cold seconds, averaged over seeds, then over the two ladders.

The full run (neither ``--first-draws`` nor ``--gradient``) writes
``benchmarks/results/sampler_levers.json``: the levers' table as ``summary``, the first-draws table
as ``first_draws`` (per ladder, seed and number of draws), ``first_draws_met``,
``first_draws_cost`` and ``first_draws_best``;
``--first-draws`` alone writes the first-draws table to ``results/first_draws.json``.

``--gradient`` (``--unchecked``: its last table alone, written to ``results/unchecked.json``): microseconds per value-and-gradient of the step-2 likelihood on the bundled
ladder (2,910 checkpoints): each per-task parameter gathered per checkpoint (v0.1); computed on
the (task, checkpoint) grid and read out per checkpoint; the grid summed with its padding
masked (what NUTS now uses), in float64 and with the terms in float32; and of the whole
potential in the model's geometry and in NUTS's, float64 and float32; NUTS's own work per
leapfrog step (on a potential that costs nothing, of the same dimension); and the default
and two-step potentials with NumPyro's argument and support checks on and off: their
program's operations, compile seconds and microseconds. The timed loop reads the
gradient: one that drops it lets XLA drop the backward pass (the figures of an earlier version
of this script were of the value alone). XLA's CPU fusion is fickle here: the same grid summed
through ``jax.scipy.stats.norm.logpdf``, or read out by a plain reshape instead of the
(identity) gather, was several times slower in exploratory runs, so the benchmark uses
NumPyro's ``Normal.log_prob`` as the model does.

``--compiler-options`` (written to ``results/compiler_options.json``): the sampler's program
compiled with XLA's classic CPU emitters (the option of
:data:`ladderfit.model.runtime.CPU_COMPILER_OPTIONS`) against XLA's defaults (its MLIR fusion
emitters), for the single step, the two steps and the two steps with run effects on the bundled
OLMo ladder: each fitted in new processes, with the option and without in turn, ``--repeats``
times, a cold fit (empty compilation cache) then a warm one (its program loaded): the seconds
XLA compiled, the fit's seconds cold and warm, leapfrog steps, R-hat and ESS (medians over
repeats), and whether both drew the same numbers. ``--predictive-options`` (written to
``results/predictive_options.json``): the default fit's posterior predictive at the paper's two
targets over the draws one at a time (NumPyro's default) or vectorised (ladderfit's), each
compiled with XLA's defaults and with :data:`ladderfit.model.runtime.CPU_PREDICTIVE_OPTIONS`,
in turn, ``--repeats`` times: compile seconds, seconds per run (best of 5), temporary memory,
and the largest difference of the accuracy draws from the first setting's.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shlex
import sys
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--first-draws", action="store_true", help="only the first-draws table")
    ap.add_argument("--seeds", type=int, default=8, help="seeds of the first-draws table, per ladder")
    ap.add_argument("--model", default=None, help="the first-draws table's model (default: the package's default)")
    ap.add_argument("--gradient", action="store_true", help="only the gradient timings")
    ap.add_argument("--unchecked", action="store_true", help="only the checks-on/off table (the end of --gradient's)")
    ap.add_argument("--compiler-options", action="store_true", help="only the CPU compiler options' table")
    ap.add_argument("--repeats", type=int, default=3, help="--compiler-options: fits per model and setting, cold and warm")
    ap.add_argument("--predictive-options", action="store_true", help="only the predictive's compiler options' table")
    ap.add_argument("--options-child", nargs=3, metavar=("MODEL", "CACHE", "SETTING"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.options_child:
        return options_child(*args.options_child)
    if args.predictive_options:
        from results_io import write_results

        os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=4")
        write_results("predictive_options", {"settings": {"repeats": args.repeats},
                                             "summary": predictive_options_table(args.repeats),
                                             "script": "benchmarks/sampler_levers.py --predictive-options"})
        return
    if args.compiler_options:
        from results_io import write_results

        write_results("compiler_options", {"settings": {"repeats": args.repeats},
                                           "summary": compiler_options_table(args.repeats),
                                           "script": "benchmarks/sampler_levers.py --compiler-options"})
        return
    os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=4")
    from ladderfit.model.runtime import prepare

    rows = [
        ("v0.1 sampler (model geometry, 500 warmup, no cap, 1000 draws)", False,
         dict(warmup=500, warmup_tree_depth=10, draws=1000)),
        ("sampler geometry and likelihood, same settings", True, dict(warmup=500, warmup_tree_depth=10, draws=1000)),
        ("default (300 warmup, cap 6, draws by need)", True, {}),
        ("default, float64 likelihood", True, dict(float32_likelihood=False)),
        ("default, 250 warmup", True, dict(warmup=250)),
        ("default, 200 warmup", True, dict(warmup=200)),
        ("default, 150 warmup", True, dict(warmup=150)),
        ("default, target_accept 0.8", True, dict(target_accept=0.8)),
    ]  # fmt: skip
    prepare(4)
    if args.gradient:
        return gradient()
    if args.unchecked:
        from results_io import write_results

        write_results("unchecked", {"settings": {}, "summary": unchecked_cost(),
                                    "script": "benchmarks/sampler_levers.py --unchecked"})
        return
    summary = [] if args.first_draws else levers(rows, args.seed)
    first = first_draws_table(args.seeds, model=args.model)
    from results_io import write_results

    write_results("first_draws" if args.first_draws else "sampler_levers",
                  {"settings": vars(args), "summary": summary, **first,
                   **({"script": "benchmarks/sampler_levers.py " + shlex.join(sys.argv[1:])} if args.first_draws else {})})


def gradient(n: int = 5000) -> None:
    """Microseconds per value-and-gradient, timed inside one compiled loop of ``n`` whose carry
    reads the gradient (a loop that drops it lets XLA drop the backward pass)."""
    import jax
    import jax.numpy as jnp
    import numpy as np
    from numpyro.distributions import Normal
    from numpyro.infer import init_to_value
    from numpyro.infer.util import initialize_model

    from ladderfit.model import bayes
    from ladderfit.model.config import FitConfig
    from ladderfit.model.joint import model_for
    from ladderfit.model.priors import resolve_priors

    config = FitConfig(model="two_step")  # the levers are those of the two-step geometry
    md = bayes.build_model_data(bayes._ladder_data(None), config.model, config.preprocessing)
    priors = resolve_priors(config.priors, config.model.structure)
    T = md.n_tasks

    def per_task(theta, dtype=jnp.float64):
        return (theta[0].astype(dtype), jnp.exp(theta[1]).astype(dtype), (md.chance + theta[2]).astype(dtype),
                (theta[3] * md.acc_binomial_sd).astype(dtype))

    def per_checkpoint(theta):  # every per-task parameter gathered per checkpoint
        u_c, k, floor, sigma = per_task(theta)
        t = md.s2_task
        u = u_c[t] - k[t] * (md.s2_loss - md.loss_centre[t])
        q = jax.nn.sigmoid(u)
        slope = (1 - floor[t]) * q * (1 - q) * k[t]
        sd = jnp.sqrt(sigma[t] ** 2 + (md.acc_jitter[t] ** 2 + (slope * md.loss_noise[t]) ** 2) / md.s2_nsmooth)
        return Normal(floor[t] + (1 - floor[t]) * q, sd).log_prob(md.s2_acc).sum()

    index, position = md.s2_grid()
    dl = md.s2_by_task(md.s2_loss, md.loss_centre) - md.loss_centre[:, None]
    m2, acc2 = md.s2_by_task(md.s2_nsmooth, np.ones(T)), md.s2_by_task(md.s2_acc, np.full(T, 0.5))

    def on_grid(theta, dtype=jnp.float64):  # a row per task: its parameters broadcast along it
        col = lambda v: jnp.asarray(v).astype(dtype)[:, None]  # noqa: E731
        u_c, k, floor, sigma = per_task(theta, dtype)
        q = jax.nn.sigmoid(col(u_c) - col(k) * dl.astype(dtype))
        slope = (1 - col(floor)) * q * (1 - q) * col(k)
        sd = jnp.sqrt(col(sigma) ** 2 + (col(md.acc_jitter) ** 2 + (slope * col(md.loss_noise)) ** 2) / m2.astype(dtype))
        return col(floor) + (1 - col(floor)) * q, sd

    def grid_read_out(theta):  # the grid, then one gather per checkpoint (the last layout)
        mean, sd = on_grid(theta)
        return Normal(mean.reshape(-1)[position], sd.reshape(-1)[position]).log_prob(md.s2_acc).sum()

    def grid_masked(theta, dtype=jnp.float64):  # the grid summed, padding masked (NUTS's layout now)
        mean, sd = on_grid(theta, dtype)
        terms = Normal(mean, sd).log_prob(acc2.astype(dtype))
        return jnp.where(index >= 0, terms, 0.0).astype(jnp.float64).sum()

    def potential(**kwargs):
        info = initialize_model(jax.random.PRNGKey(0), model_for(md.structure), model_args=(md, priors),
                                model_kwargs=kwargs, init_strategy=init_to_value(values=bayes.initial_values(md, priors)))
        return info.potential_fn, info.param_info.z

    theta0 = jnp.stack([np.zeros(T), np.log(np.full(T, 5.0)), np.full(T, 0.01), np.ones(T)])

    def timed(f, x0) -> float:
        return timed_value_and_grad(f, x0, n)

    reference = per_checkpoint(theta0)
    for f in (grid_read_out, grid_masked):
        assert np.isclose(f(theta0), reference, rtol=1e-12)
    print(f"value and gradient, microseconds (best of 5 loops of {n}); step-2 likelihood, 2,910 checkpoints:")
    print(f"  each parameter gathered per checkpoint (v0.1):           {timed(per_checkpoint, theta0):6.1f}")
    print(f"  (task, checkpoint) grid, read out per checkpoint:        {timed(grid_read_out, theta0):6.1f}")
    print(f"  grid summed, padding masked (float64):                   {timed(grid_masked, theta0):6.1f}")
    f32 = lambda th: grid_masked(th, jnp.float32)  # noqa: E731
    print(f"  grid summed, terms in float32 (summed in float64):       {timed(f32, theta0):6.1f}"
          f"   (value {float(f32(theta0)) - float(reference):+.1e} from float64, of {float(reference):.3e})")
    print("the whole potential (all sites, both steps):")
    for label, kwargs in (("the model's own geometry, points read out", {}),
                          ("NUTS's geometry and grids, float64", dict(for_sampler=True, likelihood_dtype="float64")),
                          ("NUTS's geometry and grids, float32 terms (default)", dict(for_sampler=True, likelihood_dtype="float32"))):
        print(f"  {label:<55}{timed(*potential(**kwargs)):6.1f}")
    print(f"NUTS's own work per leapfrog step (a potential of the same dimension that costs nothing): "
          f"{nuts_step_cost(sum(np.size(v) for v in potential()[1].values())):.1f}")
    unchecked_cost()


def unchecked_cost() -> list[dict]:
    """The single and the two steps' potentials in NUTS's geometry (float32 terms) with NumPyro's
    argument and support checks on and off (the sampler's: :func:`ladderfit.model.runtime.unchecked`): operations of its value-and-gradient program, seconds to compile it alone, microseconds per
    evaluation, and the value (the same)."""
    import jax
    import numpyro
    from numpyro.infer import init_to_value
    from numpyro.infer.util import initialize_model

    from ladderfit.model import bayes
    from ladderfit.model.config import FitConfig
    from ladderfit.model.joint import model_for
    from ladderfit.model.priors import resolve_priors
    from ladderfit.model.runtime import UNCHECKED_STRUCTURES

    print("the potential (NUTS's geometry, float32 terms), NumPyro's checks on and off:")
    print(f"  {'model, checks':<34}{'ops':>6}{'compile s':>11}{'us':>8}  value")
    rows = []
    for structure in ("single_step", "two_step"):
        config = FitConfig(model=structure)
        md = bayes.build_model_data(bayes._ladder_data(None), config.model, config.preprocessing)
        priors = resolve_priors(config.priors, config.model.structure)
        for checked in (True, False):
            label = ("on" if checked else "off") + (" (the sampler's)" if checked != (structure in UNCHECKED_STRUCTURES) else "")
            with numpyro.validation_enabled(checked):
                info = initialize_model(jax.random.PRNGKey(0), model_for(md.structure), model_args=(md, priors),
                                        model_kwargs=bayes.sampler_options(config),
                                        init_strategy=init_to_value(values=bayes.initial_values(md, priors)))
                pe, z0 = info.potential_fn, info.param_info.z
                ops = len(jax.make_jaxpr(jax.value_and_grad(pe))(z0).eqns)
                t0 = time.perf_counter()
                jax.jit(jax.value_and_grad(pe)).lower(z0).compile()
                seconds = time.perf_counter() - t0
                us = timed_value_and_grad(pe, z0)
                value = float(jax.jit(pe)(z0))
            print(f"  {structure + ', ' + label:<34}{ops:>6}{seconds:>11.2f}{us:>8.1f}  {value:.6f}")
            rows.append({"model": structure, "checks": label, "operations": ops, "compile_seconds": round(seconds, 2),
                         "microseconds": round(us, 1), "value": round(value, 6)})
    return rows


#: The models of the ``--compiler-options`` table.
OPTION_MODELS = ("single_step", "two_step", "two_step+run_effects")
#: The table's settings: XLA's defaults, and the classic emitters for every structure.
OPTION_SETTINGS = {"XLA's defaults": {}, "classic emitters": {"xla_cpu_use_fusion_emitters": False}}


def options_child(model: str, cache: str, setting: str) -> None:
    """One fit of ``model`` in this new process, its sampler's program compiled with ``setting``'s
    options (the compilation cache at ``cache``, where programs are kept): prints a JSON line with
    XLA's compile seconds, the fit's, its steps per draw, R-hat, ESS and a digest of its draws."""
    import json

    import jax
    import numpy as np
    from jax._src import dispatch

    import ladderfit
    from ladderfit.model import runtime
    from ladderfit.model.programs import digest
    from ladderfit.model.spec import STRUCTURES

    runtime.CPU_COMPILER_OPTIONS = {s + r: OPTION_SETTINGS[setting] for s in STRUCTURES for r in ("", "+run_effects")}
    compiled = []
    jax.monitoring.register_event_duration_secs_listener(
        lambda event, seconds, **_: compiled.append(seconds) if event == dispatch.BACKEND_COMPILE_EVENT else None)
    runtime.compilation_cache(cache)
    fit = ladderfit.fit(model=model, progress_bar=False)
    d = fit.diagnostics.as_dict()
    draws = fit._draws
    print(json.dumps({"compile_s": sum(compiled), "fit_s": fit.sampling_seconds, "r_hat": d["max_r_hat"],
                      "ess": min(d["min_ess_bulk"], d["min_ess_tail"]), "divergences": d["divergences"],
                      "steps": float(np.mean(draws.extra["num_steps"])),
                      "digest": digest({k: draws.samples[k] for k in sorted(draws.samples)})}))


def compiler_options_table(repeats: int) -> list[dict]:
    """The ``--compiler-options`` table: per model and setting, medians of ``repeats`` cold and
    warm fits, the settings in turn."""
    import json
    import statistics
    import subprocess
    import tempfile

    runs = {(m, s): [] for m in OPTION_MODELS for s in OPTION_SETTINGS}
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4", "JAX_ENABLE_X64": "1",
           "LADDERFIT_PROGRESS_BAR": "0"}
    for _ in range(repeats):
        for model in OPTION_MODELS:
            for setting in OPTION_SETTINGS:
                cache = tempfile.mkdtemp(prefix="ladderfit-options-")
                pair = []
                for _which in ("cold", "warm"):
                    p = subprocess.run([sys.executable, __file__, "--options-child", model, cache, setting], env=env,
                                       capture_output=True, text=True, check=True)
                    pair.append(json.loads(p.stdout.strip().splitlines()[-1]))
                runs[(model, setting)].append(pair)
                print(f"  {model:<22}{setting:<17} cold {pair[0]['fit_s']:.1f} s (compiled {pair[0]['compile_s']:.1f} s),"
                      f" warm {pair[1]['fit_s']:.1f} s", flush=True)
    rows = []
    print(f"\n{'model':<22}{'compiled with':<17}{'compile s':>10}{'cold s':>8}{'warm s':>8}{'steps':>7}{'R-hat':>7}{'ESS':>6}  same draws")
    for (model, setting), pairs in runs.items():
        cold, warm = [p[0] for p in pairs], [p[1] for p in pairs]
        other = runs[(model, next(s for s in OPTION_SETTINGS if s != setting))]
        row = {"model": model, "compiled_with": setting,
               "compile_seconds": round(statistics.median(r["compile_s"] for r in cold), 2),
               "cold_fit_seconds": round(statistics.median(r["fit_s"] for r in cold), 2),
               "warm_fit_seconds": round(statistics.median(r["fit_s"] for r in warm), 2),
               "steps_per_draw": round(cold[0]["steps"], 1), "r_hat": round(cold[0]["r_hat"], 4),
               "min_ess": round(cold[0]["ess"]), "divergences": cold[0]["divergences"],
               "same_draws": "yes" if cold[0]["digest"] == other[0][0]["digest"] else "no"}
        rows.append(row)
        print(f"{model:<22}{setting:<17}{row['compile_seconds']:>10.2f}{row['cold_fit_seconds']:>8.2f}"
              f"{row['warm_fit_seconds']:>8.2f}{row['steps_per_draw']:>7.1f}{row['r_hat']:>7.3f}{row['min_ess']:>6}  {row['same_draws']}")
    return rows


def predictive_options_table(repeats: int) -> list[dict]:
    """The ``--predictive-options`` table: the default fit's posterior predictive at 7B-4T and
    13B-5T (``LadderFit._predictor``'s program), over the draws one at a time (NumPyro's
    ``Predictive`` default, ``parallel=False``) or vectorised (``parallel=True``, as ladderfit
    runs it), each compiled with XLA's defaults and with
    :data:`~ladderfit.model.runtime.CPU_PREDICTIVE_OPTIONS`, the four in turn: medians of compile
    seconds and of the best of 5 runs' seconds, the program's temporary memory, and the largest
    difference of its accuracy draws from the first setting's (floating point: the same draws,
    computed in another order)."""
    import statistics
    import warnings

    import jax
    import numpy as np
    from numpyro.infer import Predictive

    import ladderfit
    from ladderfit.data.targets import as_targets
    from ladderfit.model.joint import model_for
    from ladderfit.model.runtime import CPU_PREDICTIVE_OPTIONS, unchecked

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = ladderfit.fit(progress_bar=False)
    md, model = fit.model_data, model_for(fit.model_data.structure)
    x, z = md.target_xz(as_targets(["7B-4T", "13B-5T"]))
    samples, key = fit._posterior_samples(), jax.random.PRNGKey(0)

    def predictive(rng_key, samples, parallel):
        return Predictive(model, posterior_samples=samples, return_sites=["target_accuracy"], parallel=parallel)(
            rng_key, md, fit.priors, target_x=x, target_z=z)

    settings = {(draws, compiled_with): (parallel, options)
                for draws, parallel in (("one at a time", False), ("vectorised", True))
                for compiled_with, options in (("XLA's defaults", {}), ("predictive's options", dict(CPU_PREDICTIVE_OPTIONS)))}
    runs = {s: [] for s in settings}
    for _ in range(repeats):
        for setting, (parallel, options) in settings.items():
            jax.clear_caches()  # compiled anew each time
            with unchecked(md.structure):  # traced as ladderfit traces it
                lowered = jax.jit(predictive, static_argnums=2).lower(key, samples, parallel)
            t0 = time.perf_counter()
            compiled = lowered.compile(compiler_options=options or None)
            seconds = time.perf_counter() - t0
            best = np.inf
            for _ in range(5):
                t0 = time.perf_counter()
                out = jax.block_until_ready(compiled(key, samples))
                best = min(best, time.perf_counter() - t0)
            temp_mb = compiled.memory_analysis().temp_size_in_bytes / 1e6
            runs[setting].append((seconds, best, np.asarray(out["target_accuracy"]), temp_mb))
    rows, first = [], next(iter(settings))
    print(f"{'draws':<15}{'compiled with':<22}{'options':<40}{'compile s':>10}{'run s':>8}{'temp MB':>8}"
          "  max |difference| from the first row")
    for (draws, compiled_with), got in runs.items():
        diff = max(float(np.max(np.abs(a[2] - b[2]))) for a in runs[first] for b in got)
        row = {"draws": draws, "compiled_with": compiled_with,
               "options": ", ".join(f"{k}={v}" for k, v in settings[draws, compiled_with][1].items()) or "-",
               "compile_seconds": round(statistics.median(r[0] for r in got), 3),
               "run_seconds": round(statistics.median(r[1] for r in got), 4),
               "temp_mb": round(got[0][3], 1), "max_difference": f"{diff:.1e}"}
        rows.append(row)
        print(f"{draws:<15}{compiled_with:<22}{row['options']:<40}{row['compile_seconds']:>10.3f}"
              f"{row['run_seconds']:>8.4f}{row['temp_mb']:>8.1f}  {row['max_difference']}")
    return rows


def timed_value_and_grad(f, x0, n: int = 5000) -> float:
    """Microseconds per value-and-gradient of ``f`` at ``x0``, best of 5 compiled loops of ``n``
    whose carry reads the gradient."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    def body(i, c):
        v, g = jax.value_and_grad(f)(jax.tree.map(lambda a: a + 1e-12 * c, x0))
        return c + 1e-15 * (v + sum(jnp.sum(leaf) for leaf in jax.tree.leaves(g)))
    loop = jax.jit(lambda: jax.lax.fori_loop(0, n, body, 0.0))
    loop().block_until_ready()
    best = np.inf
    for _ in range(5):
        t0 = time.perf_counter()
        loop().block_until_ready()
        best = min(best, time.perf_counter() - t0)
    return best / n * 1e6


def nuts_step_cost(dim: int, n: int = 700) -> float:
    """Microseconds per leapfrog step of NumPyro's NUTS on ``0.5 |z|^2`` in ``dim`` dimensions
    (fixed step size, 63 steps per draw), timed inside one compiled loop of ``n`` draws: the
    tree building that every step adds to the model's gradient."""
    import jax
    import jax.numpy as jnp
    import numpy as np
    from numpyro.infer import NUTS

    kernel = NUTS(potential_fn=lambda z: 0.5 * jnp.sum(z["z"] ** 2), step_size=0.05,
                  adapt_step_size=False, adapt_mass_matrix=False)
    state = kernel.init(jax.random.PRNGKey(0), 0, {"z": jnp.full(dim, 0.1)})

    def body(i, carry):
        s, steps = carry
        s = kernel.sample(s, (), {})
        return s, steps + s.num_steps

    loop = jax.jit(lambda s: jax.lax.fori_loop(0, n, body, (s, 0)))
    jax.block_until_ready(loop(state))
    best = np.inf
    for _ in range(5):
        t0 = time.perf_counter()
        _, steps = jax.block_until_ready(loop(state))
        best = min(best, (time.perf_counter() - t0) / int(steps))
    return best * 1e6


def levers(rows, seed: int) -> list[dict]:
    """One row per sampler setting on the default fit; returns the rows as records."""
    import numpy as np

    from ladderfit.model import bayes
    from ladderfit.model.config import FitConfig
    from ladderfit.model.priors import resolve_priors

    head = f"{'sampler':<64} {'wall s':>7} {'draws':>5} {'steps':>6} {'depth':>5} {'ESS bulk':>8} {'ESS tail':>8} {'R-hat':>6} {'div':>4} {'|r| med':>7} {'|r| max':>7}"
    print(head)
    records = []
    for label, geometry, options in rows:
        config = FitConfig(seed=seed, progress_bar=False, **{"model": "two_step", **options})
        df = bayes._ladder_data(None)
        md = bayes.build_model_data(df, config.model, config.preprocessing)
        priors = resolve_priors(config.priors, config.model.structure)
        t0 = time.perf_counter()
        kwargs = bayes.sampler_options(config) if geometry else {}
        draws = bayes.sample(bayes.make_mcmc(md, priors, config), config, md, priors, **kwargs)
        wall = time.perf_counter() - t0
        d = draws.convergence(md).as_dict()
        steps = draws.extra["num_steps"]
        s = draws.samples
        r = []
        coords = ("centre_accuracy", "centre_slope", "logit_centre") if geometry else ("floor_shift", "logit_centre", "log_k")
        for t in range(md.n_tasks):
            x = np.c_[tuple(s[name][..., t].ravel() for name in coords)]
            c = np.abs(np.corrcoef(x.T))
            r.append(max(c[0, 1], c[0, 2], c[1, 2]))
        print(f"{label:<64} {wall:7.1f} {draws.n_draws:5d} {steps.mean():6.0f} {np.log2(steps + 1).mean():5.2f} "
              f"{d['min_ess_bulk']:8.0f} {d['min_ess_tail']:8.0f} {d['max_r_hat']:6.3f} {d['divergences']:4d} "
              f"{np.median(r):7.2f} {max(r):7.2f}", flush=True)
        records.append({"sampler": label, "wall_s": round(wall, 1), "draws": int(draws.n_draws),
                        "steps_per_draw": round(float(steps.mean())),
                        "tree_depth": round(float(np.log2(steps + 1).mean()), 2),
                        "ess_bulk": round(d["min_ess_bulk"]), "ess_tail": round(d["min_ess_tail"]),
                        "r_hat": round(d["max_r_hat"], 3), "divergences": int(d["divergences"]),
                        "corr_median": round(float(np.median(r)), 2), "corr_max": round(float(max(r)), 2)})  # fmt: skip
    print("\n|r|: the largest |correlation| among the sigmoid's three sampled coordinates of a task")
    return records


def first_draws_table(n_seeds: int, prefixes=(300, 350, 400, 450, 500, 600, 700, 800), model=None) -> dict:
    """Per ladder and seed, one run of ``model`` (default: the package's) to
    ``max_draws`` - 2 chunks, continued twice by one chunk as :func:`~ladderfit.model.bayes.sample`
    continues (with a new compilation cache, as the CLI's: the first continuation of a ladder
    compiles its program, the second runs it from memory; their difference is the continuation's
    compilation, the second's time per draw the cost of a draw).

    Per prefix n: max R-hat / min bulk ESS / min tail ESS of the first n draws, ``*`` where the
    goals (R-hat <= 1.01 unrounded, ESS >= 400) are not met, divergent transitions apart (a
    divergent run is sampled again from the start, :func:`~ladderfit.model.bayes.sample_converging`,
    whatever its length). Then, with n as the first draws, :func:`sample`'s continuations replayed
    on the same chains (:func:`~ladderfit.model.bayes.more_draws`): the draws it ends with, whether
    it continued, and the expected seconds of the draws per fit: cold (a continuation compiles its
    program) and warm (read from the cache). ``FIRST_DRAWS`` is the n of fewest cold seconds,
    averaged over seeds then ladders. Returns records: ``first_draws`` (ladder, seed, draws),
    ``first_draws_met`` (ladder, draws) and ``first_draws_cost`` (ladder or "both", draws)."""
    import tempfile

    import jax
    import numpy as np

    from ladderfit.data.readers import read_data
    from ladderfit.model import bayes
    from ladderfit.model.config import FitConfig
    from ladderfit.model.priors import resolve_priors
    from ladderfit.model.runtime import compilation_cache

    # as the CLI runs: programs kept (here in a new folder), so that a continuation compiles once
    # and its later chunks run the program in memory (ladderfit.model.programs)
    compilation_cache(tempfile.mkdtemp(prefix="ladderfit-first-draws-"))
    print("\nfirst draws: R-hat / bulk ESS / tail ESS of the first n draws per chain (* = goals not met)")
    print(f"{'ladder':<8} {'seed':>4} " + " ".join(f"{n:>16}" for n in prefixes) + f" {'wall s':>7}")
    records, met_records, cost_records = [], [], []
    model = model or FitConfig().model.name
    chunk = bayes.EXTEND_CHUNK
    for ladder, data in (("olmo", None), ("pythia", "bundled:pythia")):
        df = bayes._ladder_data(read_data(data) if data else None)
        spec = bayes._with_available_feature(df, FitConfig(model=model)).model  # Pythia: its one loss column
        seeds = n_seeds
        met = {n: 0 for n in prefixes}
        replays, compile_s, draw_s = {n: [] for n in prefixes}, None, []
        for seed in range(seeds):
            config = FitConfig(seed=seed, progress_bar=False, model=spec)
            md = bayes.build_model_data(df, config.model, config.preprocessing)
            priors = resolve_priors(config.priors, config.model.structure)
            long = dataclasses.replace(config, draws=config.max_draws - 2 * chunk)  # and two chunks: max_draws
            t0 = time.perf_counter()
            mcmc = bayes.make_mcmc(md, priors, long)
            draws = bayes.sample(mcmc, long, md, priors, **bayes.sampler_options(config))
            assert draws.n_draws == long.draws, (draws.n_draws, long.draws)
            wall = time.perf_counter() - t0
            times = []
            for _ in range(2):  # sample()'s continuation, timed
                t1 = time.perf_counter()
                more = bayes.continue_chains(mcmc, chunk, md, priors, **bayes.sampler_options(config))
                jax.block_until_ready(mcmc.last_state)
                times.append(time.perf_counter() - t1)
                draws = draws + more
            assert draws.n_draws == config.max_draws  # every replayed continuation reads draws that were drawn
            if seed == 0:
                compile_s = max(times[0] - times[1], 0.0)
            draw_s.append(times[1] / chunk)

            def first(n):
                return bayes.Draws({k: v[:, :n] for k, v in draws.samples.items()}, {k: v[:, :n] for k, v in draws.extra.items()})

            goals = {}

            def goals_at(n):
                if n not in goals:
                    d, _, ok = bayes._goals(first(n).convergence(md), config)
                    goals[n] = (d, ok)
                return goals[n]

            cells = []
            for n in prefixes:
                d, ok = goals_at(n)
                met[n] += ok
                records.append({"ladder": ladder, "model": config.model.name, "seed": seed, "draws": n, "r_hat": round(d["max_r_hat"], 3),
                                "ess_bulk": round(d["min_ess_bulk"]), "ess_tail": round(d["min_ess_tail"]),
                                "divergences": int(d["divergences"]), "goals_met": "yes" if ok else "no",
                                "wall_s": round(wall, 1)})  # fmt: skip
                cells.append(f"{d['max_r_hat']:.2f}/{d['min_ess_bulk']:.0f}/{d['min_ess_tail']:.0f}{' ' if ok else '*'}")
                m, continued = n, False  # sample()'s continuations, replayed on these chains
                for _ in range(2):
                    d, ok = goals_at(m)
                    if ok or m >= config.max_draws:
                        break
                    m += bayes.more_draws(m, min(d["min_ess_bulk"], d["min_ess_tail"]), config)
                    continued = True
                replays[n].append({"draws_final": m, "continued": continued, "met_final": goals_at(m)[1],
                                   "divergent": bool(goals_at(m)[0]["divergences"])})
            print(f"{ladder:<8} {seed:>4} " + " ".join(f"{c:>16}" for c in cells) + f" {wall:7.1f}", flush=True)
        print(f"{ladder:<8} {'met':>4} " + " ".join(f"{f'{met[n]}/{seeds}':>16}" for n in prefixes), flush=True)
        met_records += [{"ladder": ladder, "model": config.model.name, "draws": n, "seeds": seeds, "goals_met": int(met[n])} for n in prefixes]
        per_draw = float(np.median(draw_s))
        for n in prefixes:
            r = replays[n]
            final = float(np.mean([x["draws_final"] for x in r]))
            continued = float(np.mean([x["continued"] for x in r]))
            cost_records.append({"ladder": ladder, "model": config.model.name, "draws": n, "seeds": seeds,
                                 "mean_draws_final": final, "continued": continued,
                                 "met_final": int(sum(x["met_final"] for x in r)),
                                 "divergent": int(sum(x["divergent"] for x in r)),
                                 "seconds_per_draw": per_draw, "continuation_compile_s": compile_s,
                                 "warm_s": per_draw * final, "cold_s": per_draw * final + compile_s * continued})  # fmt: skip
    both = []
    for n in prefixes:
        rows = [r for r in cost_records if r["draws"] == n]
        both.append({"ladder": "both", "model": rows[0]["model"], "draws": n, "seeds": sum(r["seeds"] for r in rows),
                     **{k: float(np.mean([r[k] for r in rows])) for k in ("mean_draws_final", "continued", "seconds_per_draw",
                                                                          "continuation_compile_s", "warm_s", "cold_s")},
                     "met_final": sum(r["met_final"] for r in rows), "divergent": sum(r["divergent"] for r in rows)})  # fmt: skip
    cost_records = [{k: r[k] for k in both[0]} for r in cost_records + both]  # one key order for every row
    cost_records = [{k: (round(v, 6 if k == "seconds_per_draw" else 3) if isinstance(v, float) else v) for k, v in r.items()}
                    for r in cost_records]
    best = min((r for r in cost_records if r["ladder"] == "both"), key=lambda r: r["cold_s"])["draws"]
    print("\nfirst draws n, then sample()'s continuations: mean draws at the end, share continued, seconds of draws "
          "per fit (cold: + the continuation's compilation), fits meeting the goals at the end, divergent")
    print(f"{'ladder':<8} {'n':>5} {'draws':>7} {'cont.':>6} {'warm s':>7} {'cold s':>7} {'met':>5} {'div.':>5}")
    for r in cost_records:
        print(f"{r['ladder']:<8} {r['draws']:>5} {r['mean_draws_final']:7.0f} {r['continued']:6.2f} {r['warm_s']:7.2f} "
              f"{r['cold_s']:7.2f} {r['met_final']:>5} {r['divergent']:>5}" + ("  <- fewest cold seconds" if r["ladder"] == "both" and r["draws"] == best else ""))
    return {"first_draws": records, "first_draws_met": met_records, "first_draws_cost": cost_records,
            "first_draws_best": best}  # fmt: skip


if __name__ == "__main__":
    main()
