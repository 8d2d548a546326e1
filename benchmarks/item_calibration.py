"""Calibration of the joint model on item-level simulated ladders, and where its errors come from.

    python benchmarks/item_calibration.py [--ladders 6] [--run-effects]

The ladders, targets and settings of the slow tests in ``tests/test_simulated_calibration.py``
(``default_truths(4, seed=30 + s)``, ``simulate_ladder(..., items=True)``, the two-step model,
targets 2x, 3x, 10x the largest run in N and D, FAST sampling). Prints, per target distance:

* coverage of the 50% and 90% accuracy intervals, and of the 90% task-loss intervals;
* the rms of the accuracy error (truth - median) over the model's predictive sd, split into
  step 1 (the fitted curve at the true target loss vs at the predicted median loss), the item
  set's shape (its expected accuracy Q at the target's loss vs the best sigmoid over the
  ladder's losses, :meth:`~ladderfit.model.simulate.SimulatedLadder.item_curve_parameters`),
  the fit's curve error (best sigmoid vs the fitted one), the run's logit offset and the flips;
* the shape error over the "new items" sd sqrt(delta (1 - c) / n), delta the population
  accuracy gained beyond the ladder's lowest loss;
* parameters inside 90% intervals, against the population values and the item set's curve.

Writes ``benchmarks/results/item_calibration.json``: one record per target distance (coverage
counts, the rms ratios) as ``summary``, the parameters' counts as ``parameters``.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

os.environ.setdefault("JAX_ENABLE_X64", "1")
os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=2")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ladders", type=int, default=6)
    ap.add_argument("--run-effects", action="store_true", help="fit the run-effects variant")
    args = ap.parse_args()

    import numpy as np
    import pandas as pd

    import ladderfit
    from ladderfit.model.curves import accuracy_from_loss
    from ladderfit.model.simulate import default_truths, simulate_ladder

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from test_simulated_calibration import FACTORS, FAST, beyond

    warnings.simplefilter("ignore")
    targets = beyond(FACTORS)
    rows, params, fits = [], [], []
    for s in range(args.ladders):
        sim = simulate_ladder(default_truths(4, seed=30 + s), seed=30 + s, items=True)
        fit = ladderfit.fit(sim.data, model="two_step", seed=s, run_effects=args.run_effects, **FAST)
        pred = fit.predict(targets, levels=(50, 90)).set_index(["target", "task", "quantity"])
        truth = sim.truth_at(targets, seed=300 + s)
        post = fit.parameters().set_index(["task", "parameter"])
        best = sim.item_curve_parameters().set_index("task")
        for tr in sim.truths:
            med = {n: post.loc[(tr.name, n), "median"] for n in ("floor", "k", "L0")}
            b = best.loc[tr.name]
            edge = sim.data.loc[sim.data["task"] == tr.name, "task_loss"].min()
            items = sim.items[tr.name]
            for _, t in truth[truth["task"] == tr.name].iterrows():
                acc, loss = pred.loc[(t["target"], tr.name, "accuracy")], pred.loc[(t["target"], tr.name, "task_loss")]
                fitted = lambda L: accuracy_from_loss(L, med["floor"], med["k"], med["L0"])  # noqa: E731
                best_at = accuracy_from_loss(t["task_loss"], b["floor"], b["k"], b["L0"])
                Q0 = float(items.expected(tr.logit(t["task_loss"])))  # no run offset
                delta = max(float(tr.accuracy(t["task_loss"]) - tr.accuracy(edge)), 0.0)
                rows.append({
                    "target": t["target"], "sd": (acc["upper_90"] - acc["lower_90"]) / 3.29,
                    "in_50": acc["lower_50"] <= t["accuracy"] <= acc["upper_50"],
                    "in_90": acc["lower_90"] <= t["accuracy"] <= acc["upper_90"],
                    "loss_in_90": loss["lower_90"] <= t["task_loss"] <= loss["upper_90"],
                    "total": t["accuracy"] - acc["median"],
                    "step1": fitted(t["task_loss"]) - fitted(loss["median"]),
                    "shape": Q0 - best_at, "curve_fit": best_at - fitted(t["task_loss"]),
                    "run_offset": t["accuracy_items"] - Q0, "flips": t["accuracy"] - t["accuracy_items"],
                    "new_items_sd": np.sqrt(delta * (1 - tr.chance) / tr.n_items),
                })  # fmt: skip
            for name in ("alpha", "beta", "E", "k", "L0", "floor"):
                r = post.loc[(tr.name, name)]
                value = tr.chance if name == "floor" else getattr(tr, name)
                item_value = b[name] if name in b.index else value
                params.append({"parameter": name, "inside": r["lower_90"] <= value <= r["upper_90"],
                               "inside_items": r["lower_90"] <= item_value <= r["upper_90"]})  # fmt: skip
        print(f"ladder {s}: {fit.diagnostics.as_dict()}", flush=True)
        fits.append({"ladder": s, **fit.diagnostics.as_dict()})
    d = pd.DataFrame(rows)
    g = d.groupby("target", sort=False)
    parts = ["total", "step1", "shape", "curve_fit", "run_offset", "flips"]
    print(f"\nvariant: {'run effects' if args.run_effects else 'default'}; {args.ladders} ladders x 4 tasks per target")
    coverage = g[["in_50", "in_90", "loss_in_90"]].sum()
    rms = (g[parts].agg(lambda x: np.sqrt(np.mean(x**2))).div(g["sd"].mean(), axis=0)).round(2)
    shape = g.apply(lambda x: np.sqrt(np.mean((x["shape"] / x["new_items_sd"]) ** 2))).round(2)
    print("coverage:\n", coverage)
    print("rms error / mean predictive sd:\n", rms)
    print("shape error / new-items sd (rms):", shape.to_dict())
    pg = pd.DataFrame(params).groupby("parameter", sort=False)
    p = pg[["inside", "inside_items"]].sum()
    print("parameters inside 90% intervals (population, item set's curve):\n", p)

    from results_io import write_results

    summary = [{"target": target, "pairs": int(n), **{k: int(v) for k, v in coverage.loc[target].items()},
                **{f"rms_{k}": float(v) for k, v in rms.loc[target].items()},
                "rms_shape_new_items": float(shape[target])} for target, n in g.size().items()]  # fmt: skip
    parameters = [{"parameter": name, "intervals": int(pg.size()[name]), "inside": int(r["inside"]),
                   "inside_items": int(r["inside_items"])} for name, r in p.iterrows()]  # fmt: skip
    sampler = {k: v.to_dict() if hasattr(v, "to_dict") else v for k, v in FAST.items()}
    write_results("item_calibration", {"settings": {**vars(args), "targets": list(FACTORS), "sampler": sampler},
                                       "summary": summary, "parameters": parameters, "fits": fits})


if __name__ == "__main__":
    main()
