"""The evaluation noise of one checkpoint, three ways, per task of the bundled ladder.

    python benchmarks/noise.py

* ``binomial``: sqrt(p (1 - p) / n_items), the noise of a *fresh* sample of items, which the
  v0.1 model added at the target as if independent;
* ``jitter``: the sd of one checkpoint's accuracy around its run's local trend
  (:func:`ladderfit.data.preprocess.checkpoint_jitter`, paper runs), what the model now uses;
* ``seed``: the sd of one checkpoint's accuracy between the two seeds of a configuration (the
  bundled 1xC and 1xC-rerun runs, matched checkpoints past the first 10%, difference / sqrt 2,
  pooled over the four sizes): the noise a new run of the same recipe has.

Writes ``benchmarks/results/noise.json``. All in accuracy points; ``jitter/binomial`` and ``seed/binomial`` are the ratios. Also the
relative jitter of the task loss (``loss jitter``, %) and the share of the step-2 loss spread
it explains (``loss reliability`` = 1 - jitter^2 / var log L, the regression-dilution factor).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ladderfit.data.bundled import PAPER_LADDER_RUNS, load_olmo_ladder
from ladderfit.data.preprocess import checkpoint_jitter, step2_points


def main() -> None:
    df = load_olmo_ladder()
    paper = df[df["run"].isin(PAPER_LADDER_RUNS)]
    p2 = step2_points(paper, "task_loss")
    p = p2.groupby("task")["accuracy"].mean()
    n = df.groupby("task")["n_items"].first()
    binom = np.sqrt(p * (1 - p) / n)
    jitter = checkpoint_jitter(paper, "accuracy")
    loss_jitter = checkpoint_jitter(paper, "task_loss", log=True)
    spread = p2.groupby("task")["task_loss"].apply(lambda s: np.log(s).var())
    diffs = []
    for size in ("190M", "370M", "760M", "1B"):
        a, b = df[df["run"] == f"{size}-1xC"], df[df["run"] == f"{size}-1xC-rerun"]
        m = a.merge(b, on=["task", "step"], suffixes=("", "_rerun"))
        m = m[m["step"] > 0.1 * m["step"].max()]
        diffs.append(m.assign(diff=m["accuracy"] - m["accuracy_rerun"])[["task", "diff"]])
    seed = pd.concat(diffs).groupby("task")["diff"].std() / np.sqrt(2)
    t = pd.DataFrame({"binomial": 100 * binom, "jitter": 100 * jitter, "seed": 100 * seed})
    t["jitter/binomial"] = t["jitter"] / t["binomial"]
    t["seed/binomial"] = t["seed"] / t["binomial"]
    t["loss jitter %"] = 100 * loss_jitter
    t["loss reliability"] = 1 - loss_jitter**2 / spread
    print(t.round(3).to_string())
    med = t[["jitter/binomial", "seed/binomial"]].median()
    print(f"\nmedian over tasks: jitter/binomial {med.iloc[0]:.2f}, seed/binomial {med.iloc[1]:.2f}")
    from results_io import write_results

    rows = [{"task": task, **{k: round(float(v), 4) for k, v in row.items()}} for task, row in t.iterrows()]
    write_results("noise", {"settings": {"runs": "paper ladder; seed pairs: the four 1xC reruns"}, "summary": rows})


if __name__ == "__main__":
    main()
