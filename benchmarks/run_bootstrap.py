"""How sure the calibration table's scores are: bootstrap intervals over held-out runs.

    python benchmarks/run_bootstrap.py [--from calibration_out] [--reps 2000] [--seed 0]

Reads the per-pair tables that ``benchmarks/calibration.py --out-dir DIR`` wrote (one CSV per
ladder, structure and discrepancy) and, per distance bin, resamples the held-out *runs* with
replacement, each with all its pairs (its tasks, in every hold-out that holds it out):
:func:`ladderfit.analysis.calibration.bootstrap_by_run`. The pairs of one run share its
deviation from the law, so a bin's 80 pairs from 6 runs carry far less evidence than 80
independent ones; the intervals say how far another ladder's runs could move each score. Beside
them, how many fits (hold-outs) scored the bin's pairs and the share from the largest: the pairs
of one fit share its posterior as well.

Each CSV is matched to its row of ``benchmarks/results/calibration.json`` by its scores (every
bin's pairs and CRPS equal): a CSV from another run of the calibration is refused, so the
intervals are those of the table the README shows. Writes
``benchmarks/results/run_bootstrap.json``.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--from", dest="source", default="calibration_out", help="calibration.py's --out-dir")
    ap.add_argument("--reps", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    from results_io import ROOT, write_results
    from ladderfit.analysis.calibration import BOOTSTRAP_SCORES, bootstrap_by_run, read_calibration, summarize_calibration

    calib = json.loads((ROOT / "benchmarks" / "results" / "calibration.json").read_text())
    rows = calib["summary"]
    keys = {(r["ladder"], r["model"], r["discrepancy"]) for r in rows}
    records, matched = [], []
    for path in sorted(Path(args.source).glob("*.csv")):
        if path.name.endswith("_data.csv"):
            continue  # version 0.1's copy of the training data, not a scored table
        table = read_calibration(path)
        summary = summarize_calibration(table).set_index("bin")
        key = next((k for k in sorted(keys) if _same(summary, [r for r in rows if (r["ladder"], r["model"], r["discrepancy"]) == k])), None)
        if key is None:
            raise SystemExit(f"{path}: matches no row of calibration.json (another run of benchmarks/calibration.py?)")
        matched.append(path.name)
        boot = bootstrap_by_run(table, reps=args.reps, seed=args.seed)
        for r in boot.to_dict("records"):
            records.append({"ladder": key[0], "model": key[1], "discrepancy": key[2], **r})
            print(f"{key[0]:<7} {key[1]:<28} {key[2]:<9} {r['bin']:<5} {r['n']:>4} pairs {r['runs']:>2} runs "
                  f"{r['fits']:>2} fits ({100 * r['largest_fit_share']:.0f}% from one)  "
                  + "  ".join(f"{s} {_fmt(s, r[s])} [{_fmt(s, r[s + '_lo'])}, {_fmt(s, r[s + '_hi'])}]"
                              for s in BOOTSTRAP_SCORES), flush=True)
    write_results("run_bootstrap", {
        "settings": {"source": args.source, "reps": args.reps, "seed": args.seed, "level": 0.90,
                     "calibration_commit": calib["commit"], "calibration_date": calib["date"], "tables": matched},
        "summary": records,
        # the Results page's table: each score with its interval in one cell
        "table": [{"ladder": r["ladder"], "model": r["model"], "discrepancy": r["discrepancy"], "bin": r["bin"],
                   "pairs": r["n"], "runs": r["runs"], "fits": r["fits"],
                   "largest fit (%)": f"{100 * r['largest_fit_share']:.0f}",
                   **{HEADERS[s]: f"{_fmt(s, r[s])} ({_fmt(s, r[s + '_lo'])}-{_fmt(s, r[s + '_hi'])})"
                      for s in BOOTSTRAP_SCORES}} for r in records],
    })


#: The table's column per score (coverage and the share above the median in %, the rest in points).
HEADERS = {"coverage_90": "cov 90 (%)", "mean_width_90": "width 90", "mae": "MAE", "interval_score_90": "IS90",
           "crps": "CRPS", "above_median": "above median (%)"}


def _same(summary, rows) -> bool:
    """Every bin of ``rows`` (calibration.json's) has the table's pairs and CRPS."""
    return bool(rows) and all(
        r["bin"] in summary.index and summary.loc[r["bin"], "n"] == r["n"]
        and math.isclose(summary.loc[r["bin"], "crps"], r["crps"], rel_tol=1e-9) for r in rows)


def _fmt(score: str, v: float) -> str:
    return f"{100 * v:.1f}" if score in ("coverage_90", "above_median") else f"{v:.2f}"


if __name__ == "__main__":
    main()
