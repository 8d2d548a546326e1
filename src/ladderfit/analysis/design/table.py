"""The design table: each candidate scored per task (expected width, its Monte Carlo SE, the
weights' ESS and Pareto k, the distance beyond the ladder before and after), the ranking by
expected reduction per FLOP, and :class:`DesignResult` that holds them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .criterion import DesignContext
from .ladder import ladder_points, run_flops

__all__ = ["DesignResult", "DesignWarning", "LOW_ESS", "score_candidates", "design_tables"]

#: ESS of the importance weights below which an expected width is flagged as unreliable.
LOW_ESS = 20.0


class DesignWarning(UserWarning):
    """The importance weights of a candidate degenerated: its expected width is unreliable."""


@dataclass
class DesignResult:
    """What :func:`design` returns.

    table : one row per (candidate, task): ``candidate, N, D, flops, task, width_90_now,
        width_90_expected`` (its Monte Carlo SE), ``reduction``, ``reduction_per_eflop``,
        ``mae_now``/``mae_expected`` (the expected absolute error of the median), ``ess``
        (median over outcomes of the importance weights' ESS), ``pareto_k`` (median),
        ``reliable`` and the distances beyond the ladder before and after.
    ranking : one row per candidate, best first: the same averaged over tasks, with
        ``tasks_helped`` (tasks whose width shrinks by more than two SE and 2%) and
        ``detectable`` (the mean width does; those without come last), and the spread of the
        width one real run would leave over the simulated outcomes (``width_90_outcome_sd``, its
        5% and 95% quantiles ``width_90_outcome_5``/``_95``): the expectation averages them, a
        single run lands somewhere among them.
    greedy : the stopping view (:func:`greedy_design`), or ``None``.
    target : the target's row (``target, N, D, flops``); ``ladder_flops`` the ladder's compute.
    """

    table: pd.DataFrame
    ranking: pd.DataFrame
    target: dict
    ladder_flops: float
    greedy: pd.DataFrame | None = None
    level: float = 90

    def __repr__(self) -> str:
        best = self.ranking.iloc[0]
        return (f"<DesignResult: {len(self.ranking)} candidates, target {self.target['target']}; best "
                f"{best['candidate']} ({best['reduction_per_eflop']:.3g} width per EFLOP)>")


def score_candidates(ctx: DesignContext, cands: pd.DataFrame) -> tuple[dict, list[dict], dict]:
    """Each candidate's log-likelihood (with its x, z), its rows per task, and its per-outcome width spread."""
    lls, rows, spread = {}, [], {}
    for i, c in enumerate(cands.itertuples(index=False)):
        cx, cz = ctx.xz(c.N, c.D)
        ll = ctx.loglik(cx, cz, i)
        lls[c.candidate] = (ll, cx, cz)
        edge = np.vstack([ladder_points(ctx.md), [cx, cz]])
        ev = ctx.evaluate(ll, edge)
        flops = float(run_flops(ctx.coef, c.N, c.D))
        per_outcome = ev["width"].mean(1)  # one real run gives one of these: their spread
        spread[c.candidate] = (per_outcome.std(ddof=1), *np.percentile(per_outcome, [5, 95]))
        for ti, task in enumerate(ctx.tasks):
            t_full = ctx.task_idx[ti]
            we = ev["width"][:, ti]
            rows.append({
                "candidate": c.candidate, "N": c.N, "D": c.D, "flops": flops, "task": task,
                "width_now": ctx.width_now[t_full], "width_expected": we.mean(),
                "width_expected_raw": ev["width_raw"][:, ti].mean(),
                "width_expected_se": we.std(ddof=1) / np.sqrt(len(we)),
                "mae_now": ctx.mae_now[t_full], "mae_expected": ev["mae"][:, ti].mean(),
                "ess": float(np.median(ev["ess"][:, ti])), "pareto_k": float(np.nanmedian(ev["k"][:, ti]))
                if np.isfinite(ev["k"][:, ti]).any() else np.nan,
                "distance_now": ctx.target_draws.distance(ladder_points(ctx.md)),
                "distance_after": ctx.target_draws.distance(edge),
            })  # fmt: skip
    return lls, rows, spread


def design_tables(
    rows: list[dict], spread: dict, min_reduction: float, level: float
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, str]]:
    """The per-task table and the ranking (widths named by ``level``), and that renaming of the columns."""
    table = pd.DataFrame(rows)
    table["reduction"] = table["width_now"] - table["width_expected"]
    table["reduction_per_eflop"] = table["reduction"] / (table["flops"] / 1e18)
    table["reliable"] = (table["ess"] >= LOW_ESS) & ~(table["pareto_k"] > 0.7)
    ranking = _ranking(table, min_reduction)
    sp = pd.DataFrame(spread, index=["width_outcome_sd", "width_outcome_5", "width_outcome_95"]).T
    ranking = ranking.merge(sp, left_on="candidate", right_index=True)
    table = table.merge(ranking[["candidate", "rank"]], on="candidate").sort_values(["rank", "task"])
    first = ["candidate", "N", "D", "flops", "task", "width_now", "width_expected", "reduction_per_eflop"]
    table = table[first + [c for c in table.columns if c not in first]]
    lab = f"{level:g}"
    rename = {"width_now": f"width_{lab}_now", "width_expected": f"width_{lab}_expected",
              "width_expected_se": f"width_{lab}_expected_se", "width_expected_raw": f"width_{lab}_expected_raw",
              "width_outcome_sd": f"width_{lab}_outcome_sd", "width_outcome_5": f"width_{lab}_outcome_5",
              "width_outcome_95": f"width_{lab}_outcome_95"}
    table = table.rename(columns=rename).reset_index(drop=True)
    ranking = ranking.rename(columns=rename)
    return table, ranking, rename

def _ranking(table: pd.DataFrame, min_reduction: float) -> pd.DataFrame:
    g = table.groupby("candidate", sort=False)
    out = g.agg(N=("N", "first"), D=("D", "first"), flops=("flops", "first"), width_now=("width_now", "mean"),
                width_expected=("width_expected", "mean"), width_expected_raw=("width_expected_raw", "mean"),
                mae_now=("mae_now", "mean"),
                mae_expected=("mae_expected", "mean"), ess=("ess", "min"), pareto_k=("pareto_k", "max"),
                reliable=("reliable", "all"), distance_now=("distance_now", "first"),
                distance_after=("distance_after", "first")).reset_index()  # fmt: skip
    n = g.size().to_numpy()
    out["width_expected_se"] = np.sqrt(g["width_expected_se"].apply(lambda s: (s**2).sum()).to_numpy()) / n
    out["reduction"] = out["width_now"] - out["width_expected"]
    out["reduction_per_eflop"] = out["reduction"] / (out["flops"] / 1e18)

    def helped(s: pd.DataFrame) -> str:
        good = s[(s["reduction"] > 2 * s["width_expected_se"]) & (s["reduction"] > 0.02 * s["width_now"])]
        return ",".join(good.sort_values("reduction", ascending=False)["task"])

    out["tasks_helped"] = [helped(table[table["candidate"] == c]) for c in out["candidate"]]
    out["detectable"] = (out["reduction"] > 2 * out["width_expected_se"]) & (
        out["reduction"] > min_reduction * out["width_now"])
    out = out.sort_values(["detectable", "reduction_per_eflop"], ascending=False).reset_index(drop=True)
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return out


