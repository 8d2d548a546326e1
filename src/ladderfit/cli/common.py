"""What the commands share: the JAX platform set-up and the options several commands take."""

from __future__ import annotations

import argparse
import os

__all__ = [
    "setup_platform", "add_data_arg", "add_sampler_args", "add_model_args", "add_target_arg", "split_names",
    "positive_int", "nonnegative_int", "int_at_least", "check_platform", "check_outputs", "add_pool_args",
    "write_csv",
]  # fmt: skip


def int_at_least(low: int, why: str = ""):
    """argparse ``type=``: an integer >= ``low`` (``why`` is added to the message)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low:
            raise argparse.ArgumentTypeError(f"expected a whole number >= {low}{why}, got {text!r}")
        return value

    parse.__name__ = f"int >= {low}"
    return parse


#: argparse ``type=`` for counts (>= 1) and for seeds (>= 0).
positive_int = int_at_least(1)
nonnegative_int = int_at_least(0)


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
    if devices and "xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
        flags = os.environ.get("XLA_FLAGS", "")
        os.environ["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={devices}".strip()
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
    for name, help_ in (("chains", "NUTS chains"), ("draws", "draws per chain after warmup"),
                        ("warmup", "warmup iterations per chain"), ("seed", "random seed")):
        value = getattr(d, name)
        kind = nonnegative_int if name == "seed" else positive_int
        shown = (f"by need: {d.first_draws}, then more until the ESS reaches {d.ess_target:.0f} "
                 f"and R-hat 1.01, at most {d.max_draws}") if value is None else value
        p.add_argument(f"--{name}", type=kind, default=value if defaults else None, help=f"{help_} (default {shown})")


def add_pool_args(p: argparse.ArgumentParser) -> None:
    """--tasks and --runs (the pool of runs a hold-out draws on): shared by backtest and calibrate."""
    p.add_argument("--tasks", action="append", help="tasks, comma-separated or repeated (default: all)")
    p.add_argument("--runs", action="append",
                   help="the pool of runs, comma-separated or repeated "
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


def add_model_args(p: argparse.ArgumentParser) -> None:
    """--model NAME, or its parts --structure, --feature, --run-effects (see ModelSpec)."""
    from ..model.spec import STRUCTURES

    p.add_argument("--model", default=None, metavar="NAME",
                   help="model specification: two_step (default), compute, single_step, two_step/c4_loss, "
                        "two_step+run_effects, ...")
    p.add_argument("--structure", choices=STRUCTURES, default=None,
                   help="step 1 in (N, D), in training compute C, or accuracy straight from (N, D)")
    p.add_argument("--feature", default=None, help="intermediate feature column (default task_loss)")
    p.add_argument("--run-effects", action="store_true", help="add run-level effects to step 2")


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
