"""Bayesian stacking of structures on the nested hold-outs: does a mixture beat the default?

    python benchmarks/stacking.py [--ladders olmo,pythia] [--chains 4] [--warmup 300]

On each bundled ladder's nested hold-outs (:data:`ladderfit.analysis.holdouts.NESTED_HOLDOUTS`),
each structure (OLMo: two_step, single_step; Pythia: two_step/lambada_loss, single_step) is
fitted once per hold-out with the package's defaults and predicts the held-out runs with its
own discrepancy, chosen as ``benchmarks/calibration.py`` chooses it ("no drift": the (p, gamma)
that scores best by CRPS on the *other* hold-outs' pairs of the *other* runs, with its power).

The stack's weights follow the same nested rule: the pairs of held-out run r in hold-out h are
scored with the mixture whose weights maximize the log score (Yao et al. 2018;
:func:`ladderfit.analysis.stacking.stacking_weights`) of the pairs of the *other* hold-outs
less every pair of run r, so no weight is fitted to a truth it is scored on. Where no such pair
is left (Pythia: both hold-outs predict pythia-1.4b), the weights from all OLMo pairs are used,
chosen without looking at Pythia.

Prints, per ladder, structure and the stack, per distance bin: 90% coverage and width, MAE,
the 90% interval score, CRPS (points; lower is better), the log score (nats; higher is
better), the share of truths above the median, and the mean weights; writes the summary to
``benchmarks/results/stacking.json``.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

LADDER_MODELS = {"olmo": ("two_step", "single_step"), "pythia": ("two_step/lambada_loss", "single_step")}


def main() -> None:
    from results_io import ladder_arguments

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ladder_arguments(ap)
    ap.add_argument("--cache", default=None, help="folder to keep each structure's scored hold-outs in, and reuse "
                    "them on a rerun with the same settings (the stacking step alone)")
    args = ap.parse_args()
    os.environ["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={max(1, args.chains)}"

    import pandas as pd

    from results_io import write_results
    from ladderfit.analysis.calibration import distance_bin

    ladders = args.ladders.split(",")
    if "pythia" in ladders and ladders[0] != "olmo":
        raise SystemExit("Pythia's stack uses OLMo's weights: run with --ladders olmo,pythia")
    fit_options = {"chains": args.chains, "warmup": args.warmup}
    parts, weights, olmo_weights = [], [], None
    for ladder in ladders:
        held = {m: cached(args, ladder, m, lambda m=m: fit_and_score(ladder, m, fit_options, args.seed))
                for m in LADDER_MODELS[ladder]}
        stack, w, all_pairs = stack_ladder(held, olmo_weights, args.seed)
        olmo_weights = all_pairs if ladder == "olmo" else olmo_weights
        parts += [t.assign(ladder=ladder) for t, _ in held.values()] + [stack.assign(ladder=ladder)]
        weights.append(w.assign(ladder=ladder))
    table = pd.concat(parts, ignore_index=True)
    table["bin"] = distance_bin(table["distance"])
    w = pd.concat(weights, ignore_index=True)
    records = summary_records(table)
    print("\n# stacking weights (mean over held-out runs; each fitted on the other hold-outs' other runs)")
    print(w.groupby(["ladder", "holdout"]).mean(numeric_only=True).round(2).to_string())
    write_results("stacking", {
        "settings": {**vars(args), "fit_options": fit_options},
        "summary": records,
        "weights": w.groupby("ladder").mean(numeric_only=True).round(3).reset_index().to_dict("records"),
    })


def cached(args, ladder: str, model: str, compute):
    """``compute()``, kept in (and read back from) ``--cache`` under the run's settings."""
    import pickle
    from pathlib import Path

    if not args.cache:
        return compute()
    path = Path(args.cache) / f"{ladder}_{model.replace('/', '_')}_c{args.chains}_w{args.warmup}_s{args.seed}.pkl"
    if path.exists():
        return pickle.loads(path.read_bytes())
    path.parent.mkdir(parents=True, exist_ok=True)
    value = compute()
    path.write_bytes(pickle.dumps(value))
    return value


def fit_and_score(ladder: str, model: str, fit_options: dict, seed: int):
    """Fit ``model`` on each nested hold-out of ``ladder`` and score it as calibration.py does
    ("no drift"); returns the calibration table and ``{rule: (truth, distance, draws)}``."""
    import ladderfit
    from ladderfit.analysis.calibration import fit_holdouts, holdout_draws, score_holdouts, scored_rows

    loaders = {"olmo": ladderfit.load_olmo_ladder, "pythia": ladderfit.load_pythia_ladder}
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted, skipped, name = fit_holdouts(loaders[ladder](), model=model, fit_options=fit_options, seed=seed)
    recorded = {}

    def score(fit, truth, distance, levels, discrepancy):
        rule = next(r for r, f in fitted.items() if f.fit is fit)
        acc = holdout_draws(fit, truth, discrepancy, seed=seed)
        recorded[rule] = (truth, distance, acc)
        return scored_rows(truth, distance, acc, levels)

    table = score_holdouts(fitted, skipped, name, seed=seed, score=score)
    unconverged = [r for r, f in fitted.items() if not f.info.converged]
    print(f"{ladder} {name}: {len(fitted)} hold-outs in {time.perf_counter() - t0:.0f} s; "
          f"not converged: {unconverged or 'none'}", flush=True)
    return table, recorded


def stack_ladder(held: dict, fallback, seed: int):
    """The stack's scored rows, the weights used per (hold-out, run), and the weights from all pairs."""
    import numpy as np
    import pandas as pd

    from ladderfit.analysis.calibration import scored_rows
    from ladderfit.analysis.stacking import mixture_draws, stacking_weights

    models = list(held)
    first = held[models[0]][1]
    rules = list(first)
    lpd = {}  # rule -> (pairs, models) log scores, in the truth's row order
    for rule in rules:
        truth = first[rule][0]
        pairs = list(zip(truth["run"], truth["task"]))
        lpd[rule] = np.column_stack([
            held[m][0][held[m][0]["holdout"] == rule].set_index(["run", "task"])["log_score"].loc[pairs].to_numpy()
            for m in models])  # fmt: skip
    parts, used = [], []
    for rule in rules:
        truth, distance, _ = first[rule]
        S = min(held[m][1][rule][2].shape[0] for m in models)
        thinned = [(a := held[m][1][rule][2])[np.linspace(0, a.shape[0] - 1, S).astype(int)] for m in models]
        stacked = np.empty_like(thinned[0])
        for run in dict.fromkeys(truth["run"]):
            own = (truth["run"] == run).to_numpy()
            other = [lpd[o][(first[o][0]["run"] != run).to_numpy()] for o in rules if o != rule]
            other = np.vstack(other) if other else np.empty((0, len(models)))
            w = stacking_weights(other) if len(other) else fallback
            used.append({"holdout": rule, "run": run, **dict(zip(models, w))})
            stacked[:, own] = mixture_draws([d[:, own] for d in thinned], w, seed=seed)
        parts.append(scored_rows(truth, distance, stacked).assign(holdout=rule, model="stack"))
    return pd.concat(parts, ignore_index=True), pd.DataFrame(used), stacking_weights(np.vstack(list(lpd.values())))


def summary_records(table) -> list[dict]:
    """Print and return the per (ladder, model, bin) summary."""
    from ladderfit.analysis.calibration import summarize_calibration

    cols = ("coverage_90", "mean_width_90", "mae", "interval_score_90", "crps", "log_score", "above_median")
    print(f"\n{'ladder':<7} {'model':<22} {'bin':<5} {'pairs':>5} {'cov90':>6} {'width90':>7} {'MAE':>5} "
          f"{'IS90':>6} {'CRPS':>5} {'logS':>6} {'>med':>5}")
    records = []
    for (ladder, model), t in table.groupby(["ladder", "model"], sort=False):
        for r in summarize_calibration(t).to_dict("records"):
            if not r["n"]:
                continue
            records.append({"ladder": ladder, "model": model, "bin": r["bin"], "pairs": r["n"], **{c: r[c] for c in cols}})
            print(f"{ladder:<7} {model:<22} {r['bin']:<5} {r['n']:>5} {100 * r['coverage_90']:6.1f} "
                  f"{r['mean_width_90']:7.2f} {r['mae']:5.2f} {r['interval_score_90']:6.2f} {r['crps']:5.2f} "
                  f"{r['log_score']:6.2f} {100 * r['above_median']:5.1f}")
    return records


if __name__ == "__main__":
    main()
