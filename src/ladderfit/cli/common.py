"""What the commands share: the JAX platform set-up and the options several commands take."""

from __future__ import annotations

import argparse
import os

from ..model.config import SEED_MAX

__all__ = [
    "setup_platform", "add_data_arg", "add_sampler_args", "add_model_args", "add_target_arg", "split_names",
    "positive_int", "nonnegative_int", "seed_int", "int_at_least", "check_platform", "check_outputs",
    "add_pool_args", "add_tasks_arg", "add_out_arg", "model_from_args", "fit_header", "check_fit_options",
    "write_csv", "MIN_DRAWS", "SEED_MAX", "NameList",
]  # fmt: skip

#: The fewest draws per chain ``--draws`` takes: the ESS, R-hat and the 90% and 95% intervals
#: are noise below that (the sampler itself draws 500 by need, then more in chunks of 200).
MIN_DRAWS = 50


def int_at_least(low: int, why: str = "", high: int | None = None):
    """argparse ``type=``: an integer >= ``low`` (and <= ``high``; ``why`` is added to the message)."""
    span = f">= {low}" if high is None else f"from {low} to {high}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"expected a whole number {span}{why}, got {text!r}")
        return value

    parse.__name__ = f"int {span}"
    return parse


#: argparse ``type=`` for counts (>= 1), for non-negative counts and for seeds (0 to 2**32 - 1).
positive_int = int_at_least(1)
nonnegative_int = int_at_least(0)
seed_int = int_at_least(0, high=SEED_MAX)


def check_platform(args: argparse.Namespace) -> None:
    """With ``--platform``, make sure JAX has such a device before any work (JAX's own failure is
    a bare AssertionError or RuntimeError deep in the first computation)."""
    platform = getattr(args, "platform", None)
    if not platform or platform == "cpu":
        return
    from ..errors import LadderDataError

    try:
        import jax

        devices = jax.devices()
    except Exception as err:  # noqa: BLE001 (JAX raises RuntimeError or AssertionError)
        detail = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise LadderDataError(
            f"--platform {platform}: JAX finds no {platform.upper()} device ({detail[:200]}); "
            "expected a machine with one and a JAX built for it, or use --platform cpu"
        ) from None
    want = {"gpu": "gpu", "cuda": "gpu", "tpu": "tpu"}[platform]
    if not devices or devices[0].platform != want:
        found = ", ".join(sorted({d.platform for d in devices})) or "none"
        raise LadderDataError(
            f"--platform {platform}: JAX finds no {platform.upper()} device (found: {found}); "
            "expected a machine with one and a JAX built for it, or use --platform cpu"
        )


def check_outputs(args: argparse.Namespace, **kinds: str) -> None:
    """Check the output options named in ``kinds`` (option attribute -> kind) before any work.

    No output may be an input (``--data``, ``--fit``, ``--calibration``, ...), nor two outputs the same file.
    """
    from pathlib import Path

    from ..errors import LadderDataError
    from ..io import check_output

    inputs = [getattr(args, name, None) for name in ("data", "fit", "backtest", "actual", "calibration")]
    inputs = [i for i in inputs if i is not None and Path(i).is_file()]
    seen: dict = {}
    for attr, kind in kinds.items():
        value = getattr(args, attr, None)
        if value is None:
            continue
        option = "--" + attr.replace("_", "-")
        check_output(value, kind, option=option, inputs=inputs)
        key = Path(value).resolve()
        if key in seen:
            raise LadderDataError(f"{option} and {seen[key]} name the same file {value!r}; expected two different files")
        seen[key] = option


def setup_platform(args: argparse.Namespace) -> None:
    """Pick the JAX platform and host devices before JAX is imported anywhere."""
    devices = getattr(args, "host_devices", None)
    if devices is None and hasattr(args, "chains"):
        # every command that fits: one XLA host device per chain (FitConfig's 4 unless --chains),
        # so chains run in parallel even with fewer cores: 4 chains on 2 cores took 46 s
        # instead of 104 s one after another (benchmarks/speed.py)
        from ..model.config import FitConfig

        devices = args.chains or FitConfig.chains
    if devices and devices < 1:
        devices = None
    from ..model.runtime import xla_flags  # (imports no JAX)

    if xla_flags(devices) != os.environ.get("XLA_FLAGS", ""):
        os.environ["XLA_FLAGS"] = xla_flags(devices)
    if getattr(args, "platform", None):
        os.environ["JAX_PLATFORMS"] = {"gpu": "cuda"}.get(args.platform, args.platform)
    os.environ.setdefault("JAX_ENABLE_X64", "1")
    # JAX's persistent compilation cache: re-runs skip most of the compile time (off with
    # LADDERFIT_COMPILATION_CACHE=0; see ladderfit.model.runtime for why Python opts in)
    if os.environ.get("LADDERFIT_COMPILATION_CACHE", "1").strip().lower() not in ("0", "false", "no", "off"):
        os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", os.path.join(os.path.expanduser("~"), ".cache", "ladderfit", "jax"))
        # every program, however quick to compile: a fit compiles a dozen small ones besides NUTS
        os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")


def add_data_arg(p: argparse.ArgumentParser) -> None:
    """--data, and --no-plausibility-check (:func:`~ladderfit.cli.main` runs the command without those checks)."""
    p.add_argument(
        "--data",
        default=None,
        help="tidy CSV, an OLMo log CSV, a folder of OLMo logs, or a bundled ladder: bundled:olmo "
             "(the default) or bundled:pythia",
    )
    p.add_argument(
        "--no-plausibility-check",
        action="store_true",
        help="skip the checks of the data's units and values (N in millions, D off its multiplier, accuracy "
             "below chance or falling with compute): only for data you know are right",
    )


def add_sampler_args(p: argparse.ArgumentParser, defaults: bool = True) -> None:
    """--chains, --draws, --warmup, --seed: shared by the commands that fit.

    With ``defaults=False`` an option not given stays ``None`` (the fit's own default applies).
    """
    from ..model.config import FitConfig

    d = FitConfig()
    kinds = {"chains": positive_int, "draws": int_at_least(MIN_DRAWS), "warmup": positive_int, "seed": seed_int}
    for name, help_ in (("chains", "NUTS chains"), ("draws", f"draws per chain after warmup, at least {MIN_DRAWS}"),
                        ("warmup", "warmup iterations per chain"), ("seed", f"random seed, 0 to {SEED_MAX}")):
        value = getattr(d, name)
        shown = (f"by need: {d.first_draws}, then more until the ESS reaches {d.ess_target:.0f} "
                 f"and R-hat 1.01, at most {d.max_draws}") if value is None else value
        p.add_argument(f"--{name}", type=kinds[name], default=value if defaults else None,
                       help=f"{help_} (default {shown})")


class NameList(argparse.Action):
    """Comma-separated names; the option repeated adds more (the union, in order). An empty
    name (``--tasks ''``, ``a,,b``) is an error, not "all"."""

    def __call__(self, parser, namespace, values, option_string=None):  # noqa: D102
        names = list(getattr(namespace, self.dest, None) or [])
        for text in [values] if isinstance(values, str) else values:
            items = [v.strip() for v in text.split(",")]
            if not all(items):
                raise argparse.ArgumentError(self, f"expected comma-separated names, none empty, got {text!r}")
            names += items
        setattr(namespace, self.dest, list(dict.fromkeys(names)))


def add_tasks_arg(p: argparse.ArgumentParser, what: str = "tasks to fit", default: str = "all in the data",
                  space_separated: bool = False) -> None:
    """--tasks a,b (repeatable: ``--tasks a,b --tasks c`` is a, b, c), the same in every command;
    ``space_separated`` also takes ``--tasks a b`` (``plot``'s older form)."""
    also = "; space-separated names (the older form) also work" if space_separated else ""
    p.add_argument("--tasks", action=NameList, nargs="+" if space_separated else None, default=None, metavar="T[,T...]",
                   help=f"{what}, comma-separated; repeat the option to add more "
                        f"(--tasks a,b --tasks c is a, b and c){also} (default: {default})")


def add_out_arg(p: argparse.ArgumentParser, help_: str, metavar: str = "CSV") -> None:
    """--out FILE: what the command writes (checked before any work)."""
    p.add_argument("--out", default=None, metavar=metavar, help=help_)


def add_pool_args(p: argparse.ArgumentParser) -> None:
    """--tasks and --runs (the pool of runs a hold-out draws on): shared by backtest and calibrate."""
    add_tasks_arg(p)
    p.add_argument("--runs", action=NameList, default=None, metavar="RUN[,RUN...]",
                   help="the pool of runs, comma-separated; repeat the option to add more "
                        "(default: the paper's 16 for the bundled ladder)")


def write_csv(path, table) -> None:
    """Write a table atomically (a failed write leaves the previous file) and say so."""
    from ..io import atomic_write

    atomic_write(path, lambda tmp: table.to_csv(tmp, index=False))
    print(f"wrote {path}")


def add_target_arg(p: argparse.ArgumentParser, help_default: str) -> None:
    """--target NAME or NAME=N,D, repeatable."""
    p.add_argument(
        "--target",
        action="append",
        default=None,
        metavar="NAME[=N,D]",
        help=f"target model: a paper name (7B-4T, 13B-5T) or NAME=N,D; repeatable ({help_default})",
    )


def split_names(values) -> list[str] | None:
    """Names from ``a,b``, repeated options or ``nargs``; ``None`` when none are given."""
    if not values:
        return None
    values = [values] if isinstance(values, str) else values
    out = [v.strip() for item in values for v in str(item).split(",") if v.strip()]
    return list(dict.fromkeys(out)) or None


def add_model_args(p: argparse.ArgumentParser, several: bool = False) -> None:
    """--model NAME, or its parts --structure, --feature, --run-effects (see ModelSpec); with
    ``several``, --model names one or more models (comma-separated, repeatable) and has no parts."""
    from ..model.spec import STRUCTURES

    names = "single_step (default), two_step (the paper's two steps), compute, two_step/c4_loss, two_step+run_effects"
    if several:
        p.add_argument("--model", action=NameList, default=None, metavar="NAME[,NAME...]",
                       help=f"models to compare, comma-separated; repeat the option to add more: {names}")
        return
    p.add_argument("--model", default=None, metavar="NAME", help=f"model specification: {names}, ...")
    p.add_argument("--structure", choices=STRUCTURES, default=None,
                   help="step 1 in (N, D), in training compute C, or accuracy straight from (N, D); "
                        "with --model, an error unless it agrees")
    p.add_argument("--feature", default=None,
                   help="intermediate feature: a loss column of the data (default task_loss); with --model, an "
                        "error unless it agrees; the single_step structure has none")
    p.add_argument("--run-effects", action="store_true", help="add run-level effects to step 2")


def model_from_args(args: argparse.Namespace):
    """The :class:`~ladderfit.model.spec.ModelSpec` of --model and its parts. A part that
    contradicts --model, or a feature for the single step (which reads none), is an error."""
    from ..errors import LadderDataError
    from ..model.spec import STRUCTURES, as_spec

    name, structure, feature = args.model, args.structure, args.feature
    spec = as_spec(name, structure=structure, feature=feature, run_effects=True if args.run_effects else None)
    named = as_spec(name) if name is not None else None
    if named is not None:
        head, _, tail = name.strip().removesuffix("+run_effects").partition("/")
        stated = {"structure"} if head in STRUCTURES else set()
        stated |= {"feature"} if tail or head not in STRUCTURES else set()
        for part, value in (("structure", structure), ("feature", feature)):
            if value is not None and part in stated and value != getattr(named, part):
                raise LadderDataError(f"--model {name} and --{part} {value} disagree (the model's {part} is "
                                      f"{getattr(named, part)}); give one of them, or the same {part} in both")
    if not spec.uses_feature and (feature is not None or (named is not None and named.uses_feature)):
        given = f"--feature {feature}" if feature is not None else f"--model {name}"
        single = f"--structure {structure}" if structure is not None else f"--model {name}"
        raise LadderDataError(f"{given} and {single} disagree: the single_step structure reads no "
                              "intermediate feature; drop the feature or use a two-step structure")
    return spec


def check_fit_options(args: argparse.Namespace) -> None:
    """With --fit (a saved fit), the options of a new fit are an error, not silently ignored."""
    from ..errors import LadderDataError

    if not getattr(args, "fit", None):
        return
    given = [f"--{k.replace('_', '-')}" for k in ("model", "structure", "feature", "run_effects", "chains", "draws",
                                                 "warmup", "seed") if getattr(args, k, None) not in (None, False)]
    if given:
        raise LadderDataError(f"--fit {args.fit} loads a saved fit; {', '.join(given)} set(s) a new fit: "
                              "drop --fit to fit anew, or drop those options")


def fit_header(fit, source) -> str:
    """One line naming what a fit fitted: the ladder (data source), the model, its feature, the tasks."""
    spec = fit.config.model
    feature = f"feature {spec.feature}" if spec.uses_feature else "no intermediate feature"
    return (f"ladder {source or 'bundled:olmo'} ({fit.model_data.n_runs} runs); model {spec.name} ({feature}); "
            f"{len(fit.tasks)} task(s): {', '.join(fit.tasks)}")


def add_progress_args(p: argparse.ArgumentParser) -> None:
    """--progress (NumPyro's per-iteration bars) and --quiet (no messages while fitting)."""
    p.add_argument("--progress", action="store_true",
                   help="NumPyro's per-chain progress bars; off by default: a program that draws them "
                        "cannot be kept in the compilation cache, so every run would compile again")
    p.add_argument("--quiet", action="store_true", help="no message while fitting")


def say_fitting(args: argparse.Namespace) -> None:
    """One line on standard error before a fit, unless --quiet or --progress."""
    import sys

    if not (args.quiet or args.progress):
        print("ladderfit: fitting with NUTS (--progress for per-chain bars) ...", file=sys.stderr, flush=True)
