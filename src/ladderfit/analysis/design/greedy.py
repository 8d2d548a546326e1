"""Greedy selection: the stopping view. Rung after rung, the one with the largest expected
reduction of the mean width per FLOP given those chosen before it (their outcomes drawn
jointly), until none narrows the interval detectably."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .criterion import DesignContext
from .ladder import ladder_points, run_flops

__all__ = ["greedy_sequence"]


def greedy_sequence(ctx: DesignContext, cands: pd.DataFrame, lls: dict, steps: int, min_reduction: float) -> pd.DataFrame:
    """The greedy sequence: each step adds the rung with the largest expected reduction per FLOP
    of the mean width, given the rungs chosen before it (their outcomes drawn jointly), among
    those whose reduction is detectable (> ``min_reduction`` of the current width and 2 SE);
    it stops early when none is."""
    md = ctx.md
    chosen: list[str] = []
    total = np.zeros_like(next(iter(lls.values()))[0])
    total[ctx.gen_idx, np.arange(ctx.J), :] = -np.inf
    edge = ladder_points(md)
    cum = ctx.ladder_flops
    width = float(ctx.width_now[ctx.task_idx].mean())
    rows = [{"step": 0, "candidate": "(current ladder)", "N": np.nan, "D": np.nan, "flops": 0.0,
             "cumulative_flops": cum, "share_of_target": cum / ctx.target["flops"], "width_expected": width,
             "mae_expected": float(ctx.mae_now[ctx.task_idx].mean()), "ess": float(len(total)),
             "distance": ctx.target_draws.distance(edge)}]  # fmt: skip
    by_name = cands.set_index("candidate")
    for step in range(1, min(steps, len(cands)) + 1):
        best = None
        for name in by_name.index:
            if name in chosen:
                continue
            ll, cx, cz = lls[name]
            e = np.vstack([edge, [cx, cz]])
            ev = ctx.evaluate(total + ll, e, psis=False)
            per_outcome = ev["width"].mean(1)
            w = float(per_outcome.mean())
            se = float(per_outcome.std(ddof=1) / np.sqrt(len(per_outcome)))
            if width - w <= max(2 * se, min_reduction * width):
                continue
            flops = float(run_flops(ctx.coef, by_name.loc[name, "N"], by_name.loc[name, "D"]))
            gain = (width - w) / flops
            if best is None or gain > best[0]:
                best = (gain, name, w, e, ev, flops)
        if best is None:  # no rung left narrows the interval detectably: stop
            break
        gain, name, w, e, ev, flops = best
        chosen.append(name)
        total = total + lls[name][0]
        edge, width, cum = e, w, cum + flops
        rows.append({"step": step, "candidate": name, "N": by_name.loc[name, "N"], "D": by_name.loc[name, "D"],
                     "flops": flops, "cumulative_flops": cum, "share_of_target": cum / ctx.target["flops"],
                     "width_expected": w, "mae_expected": float(ev["mae"].mean()),
                     "ess": float(np.median(ev["ess"])), "distance": ctx.target_draws.distance(edge)})  # fmt: skip
    return pd.DataFrame(rows)


