"""Calibration at every distance: each structure's held-out predictions scored by proper scores.

    python benchmarks/calibration.py [--ladders olmo,pythia] [--models M,...] [--chains 4] [--warmup 300]
                                     [--draws N] [--baseline-ref d298f1c | --no-baseline] [--out-dir calibration_out]
                                     [--results-name calibration]

For each ladder, the nested hold-outs of :mod:`ladderfit.analysis.calibration` (OLMo: the
paper's 16 runs, six rules; Pythia: the bundled derived table, the two size rules, predicting
pythia-1.4b from the four smaller models and pythia-1b + 1.4b from the three smallest), each
structure (OLMo: two_step, single_step, compute; Pythia: two_step/lambada_loss, single_step) is
fitted once per hold-out with the package's defaults, and its predictions are scored three ways:

* **no drift** (what the package ships): the discrepancy ``d^p gamma eps`` with (p, gamma) chosen
  by CRPS in a nested cross-validation: each held-out run of a hold-out with the setting that
  scores best on the *other* hold-outs' pairs of the *other* runs (so never on its own truth or
  fit); where no such pair is left (Pythia), the model's own (shipped) discrepancy;
* **drift**: the same with a drift, ``d^p (delta + gamma eps)``, delta chosen too;
* **OLMo's** (Pythia only): the setting from all OLMo hold-outs of the same structure, applied to
  Pythia without looking at it: a check on a ladder family that chose nothing;
* **v0.1** (discrepancy *none*): the same hold-outs fitted and predicted by the package as of git
  ref ``--baseline-ref`` (version 0.1: two steps, no discrepancy, its own sampler defaults), in a
  subprocess from a ``git archive`` of that ref; its predictive draws are scored by the same code.

Prints, per ladder, structure and variant, per distance bin (near < 0.7, mid 0.7-1.5, far > 1.5
log-units beyond the training runs): coverage at 50/80/90/95%, mean 90% width, MAE, the 90%
interval score and CRPS (points; lower is better), the log score (nats; higher is better) and
the share of truths above the median (bias; 50% when unbiased). Writes every table to
``--out-dir`` and the summary, with the commit and machine, to ``benchmarks/results/calibration.json``
(with ``by_task``: per task, the same scores over all distances and in the far bin; and
``by_chance``: the same by distance bin for the pairs of tasks that the hold-out's training runs
show only at chance, :mod:`ladderfit.model.chance`, and for the others).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

LADDER_MODELS = {
    "olmo": ("two_step", "single_step", "compute"),
    "pythia": ("two_step/lambada_loss", "single_step"),
}
#: The structure version 0.1 fitted on each ladder (its default; Pythia's through its only loss).
BASELINE_MODELS = {"olmo": "two_step", "pythia": "two_step/lambada_loss"}

#: Run by the Python of this benchmark with the package of ``--baseline-ref`` on its path: fits
#: each split with that version's defaults and saves its predictive accuracy draws.
BASELINE_SCRIPT = r"""
import json, sys, warnings
import numpy as np
import pandas as pd
import ladderfit
print(f"baseline package: {ladderfit.__file__}", flush=True)
spec = json.load(open(sys.argv[1]))
df = pd.read_csv(spec["data"])
draws = {}
for rule, split in spec["splits"].items():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fit = ladderfit.fit(df[df["run"].isin(split["train"])], model=spec["model"], seed=spec["seed"])
        except Exception as err:  # the old package cannot fit this hold-out: say so, go on
            print(f"baseline {rule}: skipped ({type(err).__name__}: {err})", flush=True)
            continue
    tg = pd.DataFrame(split["targets"])
    acc = fit.predictive_draws(tg)["accuracy"]  # (samples, target, task)
    draws[rule] = acc
    draws[rule + "/tasks"] = np.array(fit.tasks)
    draws[rule + "/converged"] = np.array(bool(fit.converged))
    print(f"baseline {rule}: {fit}", flush=True)
np.savez(sys.argv[2], **draws)
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ladders", default="olmo,pythia")
    ap.add_argument("--models", default=None, help="comma-separated structures for every ladder (default: per ladder, "
                    + "; ".join(f"{k}: {','.join(v)}" for k, v in LADDER_MODELS.items()) + ")")
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--warmup", type=int, default=300)
    ap.add_argument("--draws", type=int, default=None, help="draws per chain (default: by need, as ladderfit.fit)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--baseline-ref", default="d298f1c", help="git ref of version 0.1 (the v0.1 rows)")
    ap.add_argument("--no-baseline", action="store_true", help="leave out the v0.1 rows")
    ap.add_argument("--out-dir", default="calibration_out")
    ap.add_argument("--results-name", default="calibration",
                    help="write benchmarks/results/NAME.json (default calibration: the README's table)")
    args = ap.parse_args()
    os.environ["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={max(1, args.chains)}"
    os.environ.setdefault("JAX_ENABLE_X64", "1")

    import warnings

    import jax
    import numpy as np

    import ladderfit
    from results_io import write_results
    from ladderfit.analysis.calibration import fit_holdouts, score_holdouts, summarize_calibration
    from ladderfit.analysis.holdouts import NESTED_HOLDOUTS
    from ladderfit.analysis.discrepancy import DRIFTS
    from ladderfit.model.priors import resolve_priors
    from ladderfit.model.spec import as_spec

    out = Path(args.out_dir)
    out.mkdir(exist_ok=True)
    fit_options = {"chains": args.chains, "warmup": args.warmup}
    if args.draws is not None:
        fit_options["draws"] = args.draws
    loaders = {"olmo": ladderfit.load_olmo_ladder, "pythia": ladderfit.load_pythia_ladder}
    results, estimates, fits_info = {}, {}, {}
    for name in args.ladders.split(","):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            df = loaders[name]()
        models = args.models.split(",") if args.models else LADDER_MODELS[name]
        for model in models:
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fitted, skipped, spec_name = fit_holdouts(df, model=model, fit_options=fit_options, seed=args.seed)
            seconds = time.perf_counter() - t0
            print(f"\n== {name} {spec_name}: {seconds:.0f} s for {len(fitted)} hold-out fits", flush=True)
            for rule, f in fitted.items():
                d = f.info.diagnostics
                print(f"  {rule}: {len(f.info.train)} runs -> {len(f.info.held)}; converged {f.info.converged} "
                      f"(R-hat {d.get('max_r_hat', float('nan')):.3f}, ESS {d.get('min_ess_bulk', float('nan')):.0f}, "
                      f"{d.get('divergences', '?')} div.; {f.info.fit_seconds:.0f} s)")
            for rule, why in skipped.items():
                print(f"  {rule}: skipped ({why})")
            jax.clear_caches()  # each hold-out compiles its own programs: free them (tens of fits in one process)
            fits_info[(name, spec_name)] = {rule: {"converged": f.info.converged, "seconds": f.info.fit_seconds,
                                                   **f.info.diagnostics} for rule, f in fitted.items()}
            variants = {"no drift": {}, "drift": {"drifts": DRIFTS}}
            key = spec_name.split("/")[0]  # the structure, whatever the feature: its OLMo estimate applies
            if name != "olmo" and ("olmo", key) in estimates:
                variants["OLMo's"] = {"discrepancy": estimates[("olmo", key)].priors}
            for variant, how in variants.items():
                table = score_holdouts(fitted, skipped, spec_name, seed=args.seed, **how)
                table.to_csv(out / f"{name}_{spec_name.replace('/', '_')}_{variant.replace(' ', '_').replace(chr(39), '')}.csv",
                             index=False)
                results[(name, spec_name, variant)] = table
                if "discrepancy" in table.attrs:
                    est = table.attrs["discrepancy"]
                    estimates[(name, key, variant)] = est
                    if variant == "no drift":  # the variant the package ships (calibration's default)
                        estimates[(name, key)] = est
                    print(f"  {variant}: from all hold-outs {est}")
            if name == "olmo":
                shipped = {k: v for k, v in resolve_priors(None, as_spec(spec_name).structure).items()
                           if k in ("discrepancy", "discrepancy_power", "discrepancy_drift")}
                est = estimates[(name, key)].priors
                same = all(shipped[k][0] == est[k][0] and np.allclose(shipped[k][1], est[k][1], atol=5e-3) for k in shipped)
                print(f"  shipped {shipped}: {'match' if same else 'DO NOT match'} the no-drift estimate")

        if not args.no_baseline:
            t0 = time.perf_counter()
            table = baseline_table(df, name, args.baseline_ref, args.seed, out)
            print(f"\n== {name} v0.1 ({args.baseline_ref}): {time.perf_counter() - t0:.0f} s; "
                  f"hold-outs {', '.join(dict.fromkeys(table['holdout']))}", flush=True)
            table.to_csv(out / f"{name}_v0.1.csv", index=False)
            results[(name, f"v0.1 ({BASELINE_MODELS[name]})", "none")] = table

    print("\n# Calibration by distance (nested cross-validation: each held-out run scored with the discrepancy "
          "chosen on the other hold-outs' other runs; OLMo's: the estimate from all OLMo hold-outs)")
    cols = ("n", "coverage_50", "coverage_80", "coverage_90", "coverage_95", "mean_width_90", "mae",
            "interval_score_90", "crps", "log_score", "above_median")
    header = (f"{'ladder':<7} {'model':<22} {'discrepancy':<11} {'bin':<5} {'pairs':>5} {'cov50':>6} {'cov80':>6} "
              f"{'cov90':>6} {'cov95':>6} {'width90':>7} {'MAE':>5} {'IS90':>6} {'CRPS':>5} {'logS':>5} {'>med':>5}")
    print(header)
    records = []
    for (name, model, variant), table in results.items():
        for r in summarize_calibration(table).to_dict("records"):
            if not r["n"]:
                continue
            records.append({"ladder": name, "model": model, "discrepancy": variant, "bin": r["bin"],
                            **{c: r[c] for c in cols}})
            print(f"{name:<7} {model:<22} {variant:<11} {r['bin']:<5} {r['n']:>5} "
                  + " ".join(f"{100 * r[c]:6.1f}" for c in cols[1:5])
                  + f" {r['mean_width_90']:7.2f} {r['mae']:5.2f} {r['interval_score_90']:6.2f} {r['crps']:5.2f} "
                    f"{r['log_score']:5.2f} {100 * r['above_median']:5.1f}")
    by_task = [{"ladder": name, "model": model, "discrepancy": variant, **row}
               for (name, model, variant), table in results.items() for row in task_summary(table)]
    by_chance = [{"ladder": name, "model": model, "discrepancy": variant, **row}
                 for (name, model, variant), table in results.items() if "at_chance" in table  # not v0.1's
                 for row in chance_summary(table, cols)]
    write_results(args.results_name, {
        **({"script": "benchmarks/calibration.py " + " ".join(sys.argv[1:])} if args.results_name != "calibration" else {}),
        "settings": {**vars(args), "fit_options": fit_options, "holdouts": list(NESTED_HOLDOUTS)},
        "summary": records,
        "estimates": {"/".join(k): {"power": e.power, "drift": e.drift, "gamma": e.gamma, "log_sd": e.log_sd,
                                    "gamma_90": [e.lower_90, e.upper_90], "pairs": e.n_pairs}
                      for k, e in estimates.items() if len(k) == 3},
        "fits": {f"{k[0]}/{k[1]}": v for k, v in fits_info.items()},
        "by_task": by_task,
        "by_chance": by_chance,
    })
    print(f"\n(tables in {out}/; summary in benchmarks/results/{args.results_name}.json)")


def chance_summary(table, cols) -> list[dict]:
    """:func:`ladderfit.analysis.calibration.summarize_by_chance` as records (by distance bin, the
    pairs whose task the hold-out's training runs show only at chance, then the others), with
    ``which`` (hold-out:task) of the pairs at chance."""
    from ladderfit.analysis.calibration import summarize_by_chance

    flag = table["at_chance"].astype(bool)
    which = ", ".join(sorted(set(table.loc[flag, "holdout"] + ":" + table.loc[flag, "task"])))
    return [{"at_chance": r["at_chance"], "bin": r["bin"], "which": which if r["at_chance"] else None,
             **{c: r[c] for c in cols}} for r in summarize_by_chance(table).to_dict("records")]


def task_summary(table) -> list[dict]:
    """:func:`ladderfit.analysis.calibration.summarize_by_task` as records (tasks sorted by name;
    ``pairs``, ``far_pairs``; None where a task has no far pair), for notebook 02's "which tasks
    to trust" and the Results page."""
    from ladderfit.analysis.calibration import summarize_by_task

    by_task = summarize_by_task(table).rename(columns={"n": "pairs", "far_n": "far_pairs"}).sort_values("task")
    return [{k: (None if isinstance(v, float) and v != v else v) for k, v in r.items()} for r in by_task.to_dict("records")]


def baseline_table(df, name: str, ref: str, seed: int, out: Path):
    """The nested hold-outs of ``df`` fitted and predicted by the package as of git ``ref`` (in a
    subprocess, from a ``git archive`` of its ``src``), scored like today's: a calibration table."""
    import json

    import numpy as np
    import pandas as pd

    from ladderfit.analysis.calibration import scored_rows
    from ladderfit.analysis.holdouts import (
        distance_beyond, distance_bin, final_accuracy, nested_holdouts, prepare_ladder, run_table,
    )  # fmt: skip

    df, pool, _ = prepare_ladder(df, None, None)  # as fit_holdouts: the same pool, the same splits
    splits, _ = nested_holdouts(df, pool)
    data_path, spec_path, draws_path = out / f"{name}_v0.1_data.csv", out / f"{name}_v0.1.json", out / f"{name}_v0.1.npz"
    df.to_csv(data_path, index=False)
    spec = {"data": str(data_path), "model": BASELINE_MODELS[name], "seed": seed, "splits": {}}
    for rule, split in splits.items():
        runs = run_table(df[df["run"].isin(split.held)])
        spec["splits"][rule] = {"train": list(split.train),
                                "targets": runs.rename(columns={"run": "target"})[["target", "N", "D"]].to_dict("list")}
    spec_path.write_text(json.dumps(spec))
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "src"], check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        script = Path(tmp) / "baseline.py"
        script.write_text(BASELINE_SCRIPT)
        env = {**os.environ, "PYTHONPATH": str(Path(tmp) / "src")}
        subprocess.run([sys.executable, str(script), str(spec_path), str(draws_path)], check=True, env=env)
    saved = np.load(draws_path)
    tables = []
    for rule, split in splits.items():
        if rule not in saved:  # version 0.1 could not fit it (printed above)
            continue
        held, train = df[df["run"].isin(split.held)], df[df["run"].isin(split.train)]
        runs, tasks = run_table(held), list(saved[rule + "/tasks"])
        truth = final_accuracy(held)
        truth = truth[truth["task"].isin(tasks)].reset_index(drop=True)
        distance = pd.Series(distance_beyond(runs, run_table(train)), index=runs["run"])
        acc = saved[rule]  # (samples, target, task), targets in the order of runs
        target_index = {r: i for i, r in enumerate(runs["run"])}
        cols = [acc[:, target_index[r], tasks.index(t)] for r, t in zip(truth["run"], truth["task"])]
        scored = scored_rows(truth, distance, np.stack(cols, axis=1))
        tables.append(scored.assign(holdout=rule, converged=bool(saved[rule + "/converged"])))
    table = pd.concat(tables, ignore_index=True)
    return table.assign(model="v0.1", bin=distance_bin(table["distance"]), fit_seconds=np.nan)


if __name__ == "__main__":
    main()
