"""Does the sampler converge at the defaults everywhere? Every structure on every ladder split.

    python benchmarks/sampler_grid.py [--ladders olmo,pythia,simulated] [--models M,...] [--seeds 0] [--merge]
                                      [--target-accept P --results-name NAME]

For each ladder (the bundled OLMo and Pythia ladders: the ladder `ladderfit predict` fits and each nested hold-out of
:mod:`ladderfit.analysis.calibration`; ``simulated``: a final-only simulated ladder, 10 tasks on
the 16-run design with one evaluation per run; ``pythia-lm-eval``: the shared Pythia lm-evaluation-harness
files, ``../shared/pythia-evals`` beside the repository, read with ``read_lm_eval`` as a user would, 5 tasks,
every checkpoint from step 1000, no smoothing: the single step, not in the default ``--ladders``) and each structure (by default OLMo: single_step,
two_step, compute, two_step+run_effects; Pythia: single_step, two_step/lambada_loss and it with
run effects; simulated: single_step, two_step, two_step+run_effects), one fit with the package's defaults (``ladderfit.fit``, draws by need). Prints and
writes to ``benchmarks/results/sampler_grid.json`` per fit: divergent transitions, max R-hat
(unrounded), min bulk and tail ESS, draws per chain, leapfrog steps per draw, seconds and the
target_accept the draws came from (above the default's where the first run had divergences and
the fit sampled again with smaller steps, ``FitConfig.retry_target_accept``); per structure, the
fits with divergences, the fits sampled again and the fits that missed the goals (0 divergences, R-hat
<= 1.01, bulk and tail ESS >= 400). Sampler defaults are chosen on this grid, never on a
hold-out's predictive score: ``--target-accept P`` fits the grid at another first target (the
retry's stays), written to ``results/NAME.json`` (``--results-name``), to compare.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

LADDER_MODELS = {
    "olmo": ("single_step", "two_step", "compute", "two_step+run_effects"),
    "pythia": ("single_step", "two_step/lambada_loss", "two_step/lambada_loss+run_effects"),
    "simulated": ("single_step", "two_step", "two_step+run_effects"),
    "pythia-lm-eval": ("single_step",),
}

#: The shared Pythia lm-evaluation-harness files (not in the package: read where they are).
LM_EVAL_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "pythia-evals")
LM_EVAL_TASKS = ("arc_easy", "arc_challenge", "piqa", "sciq", "winogrande")


def _splits(ladder: str):
    """(name, training data) of a ladder: the full ladder, then its nested hold-outs."""
    import ladderfit
    from ladderfit.analysis.holdouts import default_pool, nested_holdouts
    from ladderfit.model.simulate import default_truths, simulate_ladder

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if ladder == "simulated":
            yield "final-only", simulate_ladder(default_truths(10, seed=1), checkpoints=1, seed=0).data
            return
        if ladder == "pythia-lm-eval":
            yield "every-checkpoint", lm_eval_ladder()
            return
        df = ladderfit.load_olmo_ladder() if ladder == "olmo" else ladderfit.load_pythia_ladder()
    pool = default_pool(df)  # OLMo: the paper's 16 runs, what `ladderfit predict` fits
    yield "full", df[df["run"].isin(pool)]
    splits, _ = nested_holdouts(df, pool)
    for name, split in splits.items():
        yield name, df[df["run"].isin(split.train)]


def lm_eval_ladder():
    """The shared Pythia lm-eval files as a user reads them (:func:`ladderfit.read_lm_eval`): 5 tasks,
    every checkpoint from step 1000 on (``../shared/pythia-evals``, beside the repository)."""
    from ladderfit.data.bundled import PYTHIA_N, PYTHIA_TOKENS_PER_STEP
    from ladderfit.data.lm_eval import read_lm_eval

    if not os.path.isdir(LM_EVAL_DIR):
        raise SystemExit(f"pythia-lm-eval: {os.path.normpath(LM_EVAL_DIR)} is not there (the shared evaluation files)")
    df = read_lm_eval(LM_EVAL_DIR, PYTHIA_N, lambda run, step: step * PYTHIA_TOKENS_PER_STEP,
                      run=lambda path, payload: path.parent.name, tasks=list(LM_EVAL_TASKS))
    return df[df["step"] >= 1000]


#: Per ladder, the preprocessing a user of that ladder would fit with (default: the package's).
PREPROCESSING = {"pythia-lm-eval": {"smooth_window": 1}}  # every checkpoint, no smoothing


def one_fit(data, model: str, seed: int, target_accept: float | None = None, preprocessing: dict | None = None) -> dict:
    """One default fit's convergence record (at ``target_accept`` first, if given)."""
    import ladderfit
    from ladderfit.data.preprocess import Preprocessing

    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        options = {} if target_accept is None else {"target_accept": target_accept}
        if preprocessing:
            options["preprocessing"] = Preprocessing(**preprocessing)
        fit = ladderfit.fit(data, model=model, seed=seed, progress_bar=False, **options)
    d = fit.diagnostics.as_dict()
    stats = fit.idata.sample_stats
    rec = {"runs": int(data["run"].nunique()), "divergences": int(stats["diverging"].sum()),
           "max_r_hat": round(float(d["max_r_hat"]), 4), "min_ess_bulk": round(float(d["min_ess_bulk"])),
           "min_ess_tail": round(float(d["min_ess_tail"])), "draws": int(stats.sizes["draw"]),
           "steps_per_draw": round(float(stats["n_steps"].mean())), "seconds": round(time.perf_counter() - t0, 1),
           "target_accept": fit.config.target_accept}  # above the default's: sampled again after divergences
    rec["goals_met"] = bool(rec["divergences"] == 0 and rec["max_r_hat"] <= 1.01
                            and min(rec["min_ess_bulk"], rec["min_ess_tail"]) >= 400)
    return rec


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ladders", default="olmo,pythia,simulated")
    ap.add_argument("--models", default=None, help="comma-separated structures for every ladder (default: per ladder)")
    ap.add_argument("--seeds", default="0", help="comma-separated sampler seeds")
    ap.add_argument("--merge", action="store_true",
                    help="refit only --models on --ladders and replace those fits in the existing results file, keeping "
                         "the others' (each fit records the commit it ran at): after a change to one structure")
    ap.add_argument("--target-accept", type=float, default=None,
                    help="the first run's target_accept (default: the package's); a run with divergent transitions "
                         "is still sampled again at retry_target_accept")
    ap.add_argument("--results-name", default="sampler_grid", help="write benchmarks/results/NAME.json")
    ap.add_argument("--combine", default=None, metavar="NAME,...",
                    help="fit nothing: one row per results file named (grids at other --target-accept), per "
                         "structure, into --results-name")
    args = ap.parse_args()
    if args.combine:
        return combine(args.combine.split(","), args.results_name)
    if args.target_accept is not None and args.results_name == "sampler_grid":
        raise SystemExit("--target-accept writes another file than the defaults' grid: give --results-name")
    if args.merge and not args.models:
        raise SystemExit("--merge refits the structures given by --models; name them")
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"
    import jax

    import json
    import subprocess

    from results_io import ROOT, write_results

    from ladderfit.model.config import FitConfig

    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    commit = head.stdout.strip()
    records = []
    for ladder in args.ladders.split(","):
        models = args.models.split(",") if args.models else LADDER_MODELS[ladder]
        for split, data in _splits(ladder):
            for model in models:
                for seed in (int(s) for s in args.seeds.split(",")):
                    rec = {"ladder": ladder, "split": split, "model": model, "seed": seed,
                           **one_fit(data, model, seed, args.target_accept, PREPROCESSING.get(ladder)), "commit": commit}
                    records.append(rec)
                    print(", ".join(f"{k} {v}" for k, v in rec.items()), flush=True)
                    jax.clear_caches()  # each split compiles its own programs: keep the memory maps flat
    if args.merge:  # the other (ladder, structure) fits as the results file has them, each with its commit
        path = ROOT / "benchmarks" / "results" / f"{args.results_name}.json"
        old = json.loads(path.read_text())
        refit = {(ladder, model) for ladder in args.ladders.split(",") for model in args.models.split(",")}
        kept = [{**r, "commit": r.get("commit", old["commit"])} for r in old["fits"]
                if (r["ladder"], r["model"]) not in refit]
        records = kept + records
    first_target = FitConfig().target_accept if args.target_accept is None else args.target_accept
    summary = []
    for model in dict.fromkeys(r["model"] for r in records):
        rows = [r for r in records if r["model"] == model]
        summary.append({"model": model, "fits": len(rows), "divergences": sum(r["divergences"] for r in rows),
                        "fits_with_divergences": sum(r["divergences"] > 0 for r in rows),
                        "fits_missing_goals": sum(not r["goals_met"] for r in rows),
                        "fits_sampled_again": sum(r["target_accept"] > first_target for r in rows),
                        "max_r_hat": max(r["max_r_hat"] for r in rows),
                        "min_ess": min(min(r["min_ess_bulk"], r["min_ess_tail"]) for r in rows),
                        "median_steps_per_draw": sorted(r["steps_per_draw"] for r in rows)[len(rows) // 2]})
        print(", ".join(f"{k} {v}" for k, v in summary[-1].items()), flush=True)
    script = {"script": "benchmarks/sampler_grid.py " + " ".join(sys.argv[1:])} if args.results_name != "sampler_grid" else {}
    write_results(args.results_name, {**script, "settings": {"ladders": args.ladders, "models": args.models, "seeds": args.seeds,
                                                   "merge": args.merge, "target_accept": first_target},
                                   "summary": summary, "fits": records})


def combine(names: list[str], results_name: str) -> None:
    """Write :func:`combined_rows` of the named results files as ``results/RESULTS_NAME.json``."""
    import json

    from results_io import ROOT, write_results

    payloads = {name: json.loads((ROOT / "benchmarks" / "results" / f"{name}.json").read_text()) for name in names}
    rows = combined_rows(payloads)
    for row in rows:
        print(", ".join(f"{k} {v}" for k, v in row.items()), flush=True)
    write_results(results_name, {"script": "benchmarks/sampler_grid.py --combine " + ",".join(names),
                                 "settings": {"combine": names}, "summary": rows})


def combined_rows(payloads: dict[str, dict]) -> list[dict]:
    """One table of grids fitted at other first targets: per file and structure, the first target
    (the file's ``settings``; else its fits' lowest), the fits sampled again (kept at a higher
    target than the first), the fits that missed the goals, the median steps per draw, the draws
    per chain in all and the seconds in all (the files' own fits, each with its commit)."""
    rows = []
    for name, payload in payloads.items():
        first = payload["settings"].get("target_accept")
        for model in dict.fromkeys(r["model"] for r in payload["fits"]):
            fits = [r for r in payload["fits"] if r["model"] == model]
            target = first if first is not None else min(r["target_accept"] for r in fits)
            rows.append({"file": name, "commit": payload["commit"], "model": model, "target_accept": target,
                         "fits": len(fits), "fits_sampled_again": sum(r["target_accept"] > target for r in fits),
                         "fits_missing_goals": sum(not r["goals_met"] for r in fits),
                         "median_steps_per_draw": sorted(r["steps_per_draw"] for r in fits)[len(fits) // 2],
                         "draws_in_all": sum(r["draws"] for r in fits),
                         "seconds_in_all": round(sum(r["seconds"] for r in fits), 1)})
    return rows


if __name__ == "__main__":
    main()
