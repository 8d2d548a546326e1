"""The single step's priors on the nested hold-outs: would a prior that lets the logit curve bend
later (lower alpha, beta), or a floor held at chance, fix the far bias, and does the choice hold
out of sample?

    python benchmarks/prior_selection.py [--ladders olmo,pythia] [--chains 4] [--warmup 300]
        [--variants "slope sd 0.25" --results-name prior_selection_slopes]

The single step's logit rises as ``g_N / alpha (1 - e^{-alpha x})`` in x = log N (likewise D):
the exponents say how soon the rise slows, the role of the irreducible loss E. Sub-ladders of
2-4 sizes barely inform them, so their population prior (``alpha_mu``, ``beta_mu``: median 0.3,
as step 1's loss exponents) sets how far out the curve bends, and a bend too soon predicts the
larger runs low. The floor ``f = chance + delta`` (``delta ~ N(0, 0.05)``) is the other
candidate: a task at chance on a small ladder (Winogrande on the 4-run ``small_corner``) puts
its logit far down, with a floor that may sit a little above chance, and then predicts no rise;
held at chance (sd 0.01) the floor cannot, and freer (sd 0.1) it follows the data further. Each
variant below is fitted on every nested hold-out of both bundled ladders (the default single
step otherwise) and scored as ``benchmarks/calibration.py`` scores it ("no drift": each held-out
run with the discrepancy chosen on the other hold-outs' other runs).

The choice of a variant gets the same nested rule (row *selected*): the pairs of held-out run r
in hold-out h are scored with the variant of lowest CRPS on the *other* hold-outs' pairs of the
*other* runs, so no prior is chosen on a truth it is scored on. Where no such pair is left
(Pythia: both hold-outs predict pythia-1.4b), the variant of lowest CRPS on all OLMo pairs is
used. A variant whose own rows beat the shipped prior but whose *selected* row does not has won
in sample only.

Prints, per ladder and variant, per distance bin: 90% coverage and width, MAE, the 90% interval
score, CRPS, the log score and the share of truths above the median; writes the summary and the
choices to ``benchmarks/results/prior_selection.json``.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shlex
import sys
import time
import warnings

#: name -> prior overrides (``ladderfit.fit(priors=...)``) of the single step.
VARIANTS = {
    "shipped": {},
    "alpha, beta 0.2": {"alpha_mu": ("Normal", (math.log(0.2), 0.75)), "beta_mu": ("Normal", (math.log(0.2), 0.75))},
    "alpha, beta 0.15": {"alpha_mu": ("Normal", (math.log(0.15), 0.75)), "beta_mu": ("Normal", (math.log(0.15), 0.75))},
    "alpha 0.15": {"alpha_mu": ("Normal", (math.log(0.15), 0.75))},
    "wide (sd 1.5)": {"alpha_mu": ("Normal", (math.log(0.3), 1.5)), "beta_mu": ("Normal", (math.log(0.3), 1.5))},
    "floor at chance": {"floor_shift": ("Normal", (0.0, 0.01))},
    "floor free": {"floor_shift": ("Normal", (0.0, 0.1))},
    # the slopes' population sd (around the mean at the task's centre logit): half the shipped median
    "slope sd 0.25": {"logit_slope_N_tau": ("LogNormal", (math.log(0.25), 0.5)),
                      "logit_slope_D_tau": ("LogNormal", (math.log(0.25), 0.5))},
    # half and a quarter of the shipped median 0.25 (the far width is the slopes' spread)
    "slope sd 0.125": {"logit_slope_N_tau": ("LogNormal", (math.log(0.125), 0.5)),
                       "logit_slope_D_tau": ("LogNormal", (math.log(0.125), 0.5))},
    "slope sd 0.0625": {"logit_slope_N_tau": ("LogNormal", (math.log(0.0625), 0.5)),
                        "logit_slope_D_tau": ("LogNormal", (math.log(0.0625), 0.5))},
    # the exponents' population sd (log alpha, log beta across tasks): half and a quarter of the
    # shipped median 0.3 (how far a task's curvature may stray from the others')
    "exponent sd 0.15": {"alpha_tau": ("LogNormal", (math.log(0.15), 0.5)),
                         "beta_tau": ("LogNormal", (math.log(0.15), 0.5))},
    "exponent sd 0.075": {"alpha_tau": ("LogNormal", (math.log(0.075), 0.5)),
                          "beta_tau": ("LogNormal", (math.log(0.075), 0.5))},
    # the exponents' population *mean* known better (sd 0.3 instead of 0.75 on log alpha, log beta):
    # the far spread is the exponents' and the slopes' together, and the mean's prior is most of the
    # exponents' (their posterior is their prior on sub-ladders); at the shipped median 0.3, and at 0.2
    "exponent means sd 0.3": {"alpha_mu": ("Normal", (math.log(0.3), 0.3)), "beta_mu": ("Normal", (math.log(0.3), 0.3))},
    "exponent means 0.2 sd 0.3": {"alpha_mu": ("Normal", (math.log(0.2), 0.3)),
                                  "beta_mu": ("Normal", (math.log(0.2), 0.3))},
}


def main() -> None:
    from results_io import ladder_arguments

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ladder_arguments(ap)
    ap.add_argument("--variants", default=None,
                    help="comma-separated variants to fit (default: all); 'shipped' is always among them")
    ap.add_argument("--results-name", default="prior_selection",
                    help="the results file's name (benchmarks/results/NAME.json): a subset of variants apart")
    args = ap.parse_args()
    # a comma followed by a space belongs to a name ("alpha, beta 0.2")
    names = [] if args.variants is None else [v.strip() for v in re.split(r",(?! )", args.variants)]
    unknown = [v for v in names if v not in VARIANTS]
    if unknown:
        ap.error(f"unknown variant(s) {unknown}; known: {list(VARIANTS)}")
    variants = VARIANTS if args.variants is None else {name: VARIANTS[name] for name in dict.fromkeys(["shipped", *names])}
    os.environ["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={max(1, args.chains)}"
    os.environ.setdefault("JAX_ENABLE_X64", "1")

    import jax
    import pandas as pd

    import ladderfit
    from ladderfit.analysis.calibration import distance_bin, fit_holdouts, score_holdouts
    from results_io import write_results
    from stacking import summary_records

    ladders = args.ladders.split(",")
    if "pythia" in ladders and ladders[0] != "olmo":
        raise SystemExit("Pythia's selected row uses OLMo's choice: run with --ladders olmo,pythia")
    loaders = {"olmo": ladderfit.load_olmo_ladder, "pythia": ladderfit.load_pythia_ladder}
    parts, choices, olmo_choice, fits = [], [], None, []
    for ladder in ladders:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            df = loaders[ladder]()
        tables = {}
        for name, priors in variants.items():
            t0 = time.perf_counter()
            options = {"chains": args.chains, "warmup": args.warmup, "priors": priors}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fitted, skipped, spec = fit_holdouts(df, model="single_step", fit_options=options, seed=args.seed)
                tables[name] = score_holdouts(fitted, skipped, spec, seed=args.seed)
            for rule, f in fitted.items():
                d = f.info.diagnostics
                fits.append({"ladder": ladder, "variant": name, "holdout": rule, "converged": f.info.converged,
                             "max_r_hat": d.get("max_r_hat"), "divergences": d.get("divergences")})
            jax.clear_caches()  # each hold-out compiles its own programs: free them (tens of fits in one process)
            print(f"{ladder} {name}: {len(fitted)} hold-outs in {time.perf_counter() - t0:.0f} s; not converged: "
                  f"{[r for r, f in fitted.items() if not f.info.converged] or 'none'}", flush=True)
        selected, chosen = select(tables, olmo_choice)
        olmo_choice = best_overall(tables) if ladder == "olmo" else olmo_choice
        parts += [t.assign(ladder=ladder, model=name) for name, t in tables.items()]
        parts.append(selected.assign(ladder=ladder, model="selected"))
        choices += [{"ladder": ladder, **c} for c in chosen]
    table = pd.concat(parts, ignore_index=True)
    table["bin"] = distance_bin(table["distance"])
    records = summary_records(table)
    chosen = pd.DataFrame(choices)
    counts = chosen.groupby(["ladder", "variant"]).size().rename("runs").reset_index()
    print("\n# variants chosen for the held-out (hold-out, run)s, each on the other hold-outs' other runs")
    print(counts.to_string(index=False))
    write_results(args.results_name, {
        **({"script": "benchmarks/prior_selection.py " + shlex.join(sys.argv[1:])}
           if args.results_name != "prior_selection" else {}),
        "settings": {**vars(args), "variants": {k: {p: list(v) for p, v in pri.items()} for k, pri in variants.items()}},
        "summary": records, "chosen": counts.to_dict("records"), "choices": choices, "fits": fits,
    })


def select(tables: dict, fallback: str | None):
    """The nested choice: each (hold-out, run)'s pairs from the variant of lowest mean CRPS on the
    other hold-outs' pairs of the other runs (``fallback`` where none is left)."""
    import pandas as pd

    first = next(iter(tables.values()))
    keys = ["holdout", "run", "task"]
    crps = pd.DataFrame({name: t.set_index(keys)["crps"] for name, t in tables.items()})
    h, r = crps.index.get_level_values("holdout"), crps.index.get_level_values("run")
    parts, chosen = [], []
    for (rule, run), _ in first.groupby(["holdout", "run"], sort=False):
        other = (h != rule) & (r != run)
        name = crps[other].mean().idxmin() if other.any() else fallback
        t = tables[name]
        parts.append(t[(t["holdout"] == rule) & (t["run"] == run)])
        chosen.append({"holdout": rule, "run": run, "variant": name})
    return pd.concat(parts, ignore_index=True), chosen


def best_overall(tables: dict) -> str:
    """The variant of lowest mean CRPS over all pairs of a ladder."""
    return min(tables, key=lambda name: tables[name]["crps"].mean())


if __name__ == "__main__":
    main()
