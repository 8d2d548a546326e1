"""Regenerate the figures the README and the docs show (``docs/figures/*.png``, committed).

    python scripts/make_figures.py                                  # default fits: 10 tasks, 4 chains
    python scripts/make_figures.py --tasks hellaswag,arc_easy,piqa --chains 2 --warmup 200 --draws 200
    python scripts/make_figures.py --design                         # also the design stopping view (slower)

Two fits of the bundled OLMo ladder, the default model (single step) and the two-step model, then:

* ``forest.png``: the default's predictions for 7B-4T and 13B-5T, 50% and 90% intervals, per task;
* ``chained.png`` (two-step, as the next two; ``--step-tasks``, four tasks by default): accuracy against training compute, ladder runs and the two targets;
* ``step1.png``, ``step2.png``: the two steps of the law, with the 7B-4T prediction;
* ``design.png`` (with ``--design``): the stopping view of :func:`ladderfit.design` for 7B-4T.

Each figure is written at a modest resolution (``--dpi``) to stay under 150 KB. The caption in
``docs/figures/README.md`` says which settings made the committed ones.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "figures"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", default=None, help="comma-separated tasks (default: all ten)")
    ap.add_argument("--step-tasks", default="arc_easy,hellaswag,piqa,winogrande",
                    help="comma-separated tasks of the two-step figures (a panel each; all ten exceed the size goal)")
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--warmup", type=int, default=300)
    ap.add_argument("--draws", type=int, default=None, help="draws per chain (default: by need)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dpi", type=int, default=100)
    ap.add_argument("--design", action="store_true", help="also the ladder-design stopping view for 7B-4T")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    os.environ.setdefault("XLA_FLAGS", f"--xla_force_host_platform_device_count={max(1, args.chains)}")
    os.environ.setdefault("MPLBACKEND", "Agg")

    import matplotlib.pyplot as plt

    import ladderfit
    from ladderfit import plots

    tasks = args.tasks.split(",") if args.tasks else None
    options = {"chains": args.chains, "warmup": args.warmup, "seed": args.seed, "tasks": tasks}
    if args.draws is not None:
        options["draws"] = args.draws
    fits = {}
    for model in ("single_step", "two_step"):  # the default's predictions; the two steps' own figures
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ladderfit.ConvergenceWarning)
            step_tasks = args.step_tasks.split(",") if model == "two_step" and args.step_tasks else tasks
            fits[model] = ladderfit.fit(**{**options, "tasks": step_tasks}, model=model)
        print(f"{model} fit: {time.perf_counter() - t0:.0f} s, converged: {fits[model].diagnostics.converged}")
    fit = fits["two_step"]
    args.out.mkdir(parents=True, exist_ok=True)
    figures = {
        "forest": plots.plot_forest(fits["single_step"].predict(["7B-4T", "13B-5T"])),
        "chained": plots.plot_chained(fit),
        "step1": plots.plot_step1(fit, target="7B-4T"),
        "step2": plots.plot_step2(fit, target="7B-4T"),
    }
    if args.design:
        res = ladderfit.design(fit, "7B-4T", ["3B=3e9,6e10", "3B-10xC=3e9,6e11", "1B-20xC=1.28e9,5.1e11"],
                               data=ladderfit.load_olmo_ladder(), seed=args.seed)
        figures["design"] = plots.plot_design(res)
    for name, fig in figures.items():
        path = args.out / f"{name}.png"
        fig.savefig(path, dpi=args.dpi, bbox_inches="tight")
        plt.close(fig)
        print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: {path.stat().st_size / 1024:.0f} KB")


if __name__ == "__main__":
    main()
