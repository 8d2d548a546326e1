"""Calibration at every distance: the default model against the model of version 0.1, side by side.

    python benchmarks/calibration.py [--ladders olmo,pythia] [--chains 4] [--warmup 300] [--draws N]
                                     [--baseline-ref d298f1c] [--no-baseline] [--out-dir calibration_out]

For each ladder, the nested hold-outs of :mod:`ladderfit.analysis.calibration` (OLMo: the
paper's 16 runs, six rules; Pythia: the bundled derived table, the two size rules, predicting
pythia-1.4b from the four smaller models and pythia-1b + 1.4b from the three smallest):

* **default**: today's ``ladderfit.calibration`` (two_step on OLMo, two_step/lambada_loss on
  Pythia), each hold-out predicted with the discrepancy scale gamma calibrated on the *other*
  hold-outs (never on the one scored); also gamma from all hold-outs, the shipped default's
  source.
* **olmo-gam** (Pythia only): the discrepancy calibrated on all OLMo hold-outs (the shipped
  default's source; the script says whether the shipped priors match it) applied to Pythia
  without looking at it: an out-of-sample check of the default a user gets.
* **v0.1**: the same hold-outs fitted and predicted by the package as of git ref
  ``--baseline-ref`` (the model before the calibration work: binomial noise counted at the
  target, discrepancy 0, a shared feature fitted once per task), run in a subprocess from a
  ``git archive`` of that ref, scored by the same code.

Prints, per ladder and model, coverage at 50/80/90/95% per distance bin (near < 0.7, mid
0.7-1.5, far > 1.5 log-units beyond the training runs), mean 90% width, MAE and the mean 90%
interval score (points), and the MAE on the held-out 1B rung (OLMo ``largest_size``).
Writes every table to ``--out-dir``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Runs in the baseline's interpreter: fit each split with the old package, predict, write CSV.
BASELINE_SCRIPT = r"""
import json, sys, warnings
import pandas as pd
import ladderfit
print(f"baseline package: {ladderfit.__file__}", flush=True)
spec = json.load(open(sys.argv[1]))
df = pd.read_csv(spec["data"])
rows = []
for rule, split in spec["splits"].items():
    train = df[df["run"].isin(split["train"])]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fit = ladderfit.fit(train, model=spec["model"], seed=spec["seed"], **spec["fit_options"])
        except Exception as err:  # the old package cannot fit this hold-out: say so
            print(f"baseline {rule}: skipped ({type(err).__name__}: {err})", flush=True)
            continue
    tg = pd.DataFrame(split["targets"])
    pred = fit.predict(tg, levels=(50, 80, 90, 95)).query("quantity == 'accuracy'")
    pred = pred.rename(columns={"target": "run"}).assign(holdout=rule, converged=bool(fit.converged))
    rows.append(pred)
    print(f"baseline {rule}: {fit}", flush=True)
pd.concat(rows).to_csv(sys.argv[2], index=False)
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ladders", default="olmo,pythia")
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--warmup", type=int, default=300)
    ap.add_argument("--draws", type=int, default=None, help="draws per chain (default: by need, as ladderfit.fit)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--baseline-ref", default="d298f1c", help="git ref of the v0.1 model")
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--out-dir", default="calibration_out")
    args = ap.parse_args()
    os.environ["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={max(1, args.chains)}"
    os.environ.setdefault("JAX_ENABLE_X64", "1")

    import warnings

    import numpy as np
    import pandas as pd

    import ladderfit
    from ladderfit.analysis.backtest import default_pool, final_accuracy, run_table
    from ladderfit.analysis.calibration import (
        NESTED_HOLDOUTS, calibration_columns, distance_beyond, distance_bin, nested_holdouts, summarize_calibration,
    )  # fmt: skip

    out = Path(args.out_dir)
    out.mkdir(exist_ok=True)
    fit_options = {"chains": args.chains, "warmup": args.warmup}
    if args.draws is not None:
        fit_options["draws"] = args.draws
    ladders = {
        "olmo": (ladderfit.load_olmo_ladder, "two_step"),
        "pythia": (ladderfit.load_pythia_ladder, "two_step/lambada_loss"),
    }
    results = {}
    for name in args.ladders.split(","):
        load, model = ladders[name]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            df = load()
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            table = ladderfit.calibration(df, model=model, fit_options=fit_options, seed=args.seed)
        seconds = time.perf_counter() - t0
        table.to_csv(out / f"{name}_default.csv", index=False)
        print(f"\n== {name}: default ({model}), {seconds:.0f} s for {len(table.attrs['fits'])} hold-out fits")
        for rule, info in table.attrs["fits"].items():
            est = table.attrs["discrepancy_by_holdout"][rule]
            print(f"  {rule}: {len(info.train)} runs -> {len(info.held)}; converged {info.converged}; "
                  f"scored with gamma {est.gamma:.3f} x d^{est.power:g} (log-sd {est.log_sd:.2f}, from the other hold-outs)")  # fmt: skip
        for rule, why in table.attrs["skipped"].items():
            print(f"  {rule}: skipped ({why})")
        print(f"  gamma from all hold-outs: {table.attrs['discrepancy']}")
        results[(name, "default")] = table
        if name == "olmo":
            olmo_est = table.attrs["discrepancy"]
            from ladderfit.model.priors import resolve_priors

            shipped_priors = {k: resolve_priors()[k] for k in ("discrepancy", "discrepancy_power")}
            same = all(np.allclose(shipped_priors[k][1], v[1], atol=5e-3) for k, v in olmo_est.priors.items())
            print(f"  shipped default priors {shipped_priors}: {'match' if same else 'DO NOT match'} this estimate")
        elif "olmo_est" in locals():  # OLMo's calibration on another ladder: out of sample
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                shipped = ladderfit.calibration(df, model=model, fit_options=fit_options, seed=args.seed,
                                                discrepancy=olmo_est.priors)  # fmt: skip
            shipped.to_csv(out / f"{name}_olmo_gamma.csv", index=False)
            results[(name, "olmo-gam")] = shipped

        if args.no_baseline:
            continue
        pool = default_pool(df)
        splits, _ = nested_holdouts(df, pool)
        spec = {"data": str(out / f"{name}_data.csv"), "model": model, "seed": args.seed,
                "fit_options": fit_options, "splits": {}}  # fmt: skip
        df.to_csv(spec["data"], index=False)
        truths = []
        for rule, split in splits.items():
            truth = final_accuracy(df[df["run"].isin(split.held)])
            runs, ladder = run_table(df[df["run"].isin(split.held)]), run_table(df[df["run"].isin(split.train)])
            truth = truth.merge(pd.DataFrame({"run": runs["run"], "distance": distance_beyond(runs, ladder)}), on="run")
            truths.append(truth.assign(holdout=rule))
            spec["splits"][rule] = {"train": list(split.train),
                                    "targets": runs.rename(columns={"run": "target"})[["target", "N", "D"]].to_dict("list")}  # fmt: skip
        (out / f"{name}_baseline.json").write_text(json.dumps(spec))
        t0 = time.perf_counter()
        base = run_baseline(args.baseline_ref, out / f"{name}_baseline.json", out / f"{name}_baseline_pred.csv")
        seconds = time.perf_counter() - t0
        truth = pd.concat(truths, ignore_index=True)
        b = truth.merge(base.drop(columns=["N", "D"]), on=["holdout", "run", "task"], how="inner")
        b = b.assign(model="v0.1", fit_seconds=np.nan, bin=distance_bin(b["distance"]))
        b = b[list(calibration_columns())]
        b.to_csv(out / f"{name}_baseline.csv", index=False)
        print(f"== {name}: v0.1 ({args.baseline_ref}), {seconds:.0f} s; hold-outs {sorted(set(b['holdout']))}")
        results[(name, "v0.1")] = b

    print("\n# Calibration by distance (coverage in %, width/MAE/interval score in accuracy points)")
    header = f"{'ladder':<7} {'model':<8} {'bin':<5} {'pairs':>5} {'cov50':>6} {'cov80':>6} {'cov90':>6} {'cov95':>6} " \
             f"{'width90':>7} {'MAE':>5} {'IS90':>6}"  # fmt: skip
    print(header)
    for (name, which), table in results.items():
        for r in summarize_calibration(table).to_dict("records"):
            if not r["n"]:
                continue
            print(f"{name:<7} {which:<8} {r['bin']:<5} {r['n']:>5} {100 * r['coverage_50']:6.1f} {100 * r['coverage_80']:6.1f} "
                  f"{100 * r['coverage_90']:6.1f} {100 * r['coverage_95']:6.1f} {r['mean_width_90']:7.2f} {r['mae']:5.2f} "
                  f"{r['interval_score_90']:6.2f}")  # fmt: skip
    print("\n# Held-out 1B rung (OLMo largest_size): MAE (points), 90% coverage")
    for (name, which), table in results.items():
        one = table[table["holdout"] == "largest_size"]
        if name == "olmo" and len(one):
            cov = ((one["lower_90"] <= one["actual"]) & (one["actual"] <= one["upper_90"])).mean()
            print(f"{which:<8} MAE {100 * (one['median'] - one['actual']).abs().mean():.2f}, 90% coverage {100 * cov:.0f}% "
                  f"({len(one)} pairs)")  # fmt: skip
    print(f"\n(hold-out rules: {', '.join(NESTED_HOLDOUTS)}; tables in {out}/)")


def run_baseline(ref: str, spec_path: Path, out_csv: Path):
    """Fit and predict the hold-outs with the package as of ``ref`` (its source from ``git archive``)."""
    import pandas as pd

    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "src"], check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        env = {**os.environ, "PYTHONPATH": str(Path(tmp) / "src")}
        script = Path(tmp) / "baseline.py"
        script.write_text(BASELINE_SCRIPT)
        subprocess.run([sys.executable, str(script), str(spec_path), str(out_csv)], check=True, env=env)
    return pd.read_csv(out_csv)


if __name__ == "__main__":
    main()
