"""How much ladder compute a prediction needs: backtest error against the ladder's FLOPs.

:func:`compute_vs_error` holds some runs out (by default the four 1B runs of the paper's
ladder) and backtests the methods on a sequence of growing training ladders drawn from the
remaining runs (by default the other 12 paper runs: 190M, 370M, 760M x 1, 2, 5, 10 xC):

``sizes``
    the smallest model size only, then adding each larger size in turn;
``multipliers``
    the 1xC runs only (the smallest multiplier), then adding 2xC, 5xC, 10xC;
``flops``
    the runs sorted by their training FLOPs, in increasing prefixes (the cheapest run,
    the two cheapest, ...).

Within each scheme the ladders are nested, so their compute grows monotonically. For each
ladder it reports the ladder's compute (the sum of its runs' final training FLOPs), that
compute as a fraction of a reference target's (default the paper's 7B-4T; the paper's
ladder costs about 1% of its targets), and the backtest's MAE (accuracy points), 90%
coverage and mean 90% interval width on the held-out runs
(:func:`ladderfit.analysis.backtest.backtest` semantics: truth = final-checkpoint accuracy).

A ladder that cannot be fitted is kept as a row with empty metrics and a ``note``: one
model size cannot identify step 1's N exponent, and each method has its own minimum
(least squares ``two_step``: 6 distinct (N, D); the Bayesian model: 2 sizes and 3 runs).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable

import numpy as np
import pandas as pd

from ..errors import LadderDataError
from .backtest import fit_and_score, method_model_pairs, summarize_backtest
from .holdouts import final_accuracy, prepare_ladder, resolve_holdout, run_table

__all__ = ["compute_vs_error", "ladder_sequence", "COMPUTE_CURVE_COLUMNS", "SCHEMES"]

SCHEMES: tuple[str, ...] = ("sizes", "multipliers", "flops")
COMPUTE_CURVE_COLUMNS: tuple[str, ...] = (
    "scheme", "step", "ladder", "n_runs", "n_sizes", "runs", "compute", "compute_fraction",
    "method", "model", "n", "mae", "coverage_90", "mean_width_90", "fit_seconds", "note",
)  # fmt: skip


def _fmt_mult(m: float) -> str:
    return f"{m:g}xC"


def ladder_sequence(runs: pd.DataFrame, scheme: str) -> list[tuple[str, list[str]]]:
    """The nested training ladders of one scheme: a list of ``(label, run names)``.

    ``runs`` is a per-run table with columns ``run, N, D`` (and ``flops``, ``multiplier``,
    ``size`` where the scheme needs them).
    """
    runs = runs.sort_values(["N", "D", "run"], kind="stable")
    if scheme == "sizes":
        sizes = sorted(runs["N"].unique())
        names = {n: (runs.loc[runs["N"] == n, "size"].iloc[0] if "size" in runs.columns else f"{n:.3g}") for n in sizes}
        return [
            ("+".join(str(names[n]) for n in sizes[:k]), list(runs.loc[runs["N"].isin(sizes[:k]), "run"]))
            for k in range(1, len(sizes) + 1)
        ]
    if scheme == "multipliers":
        if "multiplier" not in runs.columns or runs["multiplier"].isna().any():
            raise LadderDataError("scheme 'multipliers' needs a 'multiplier' column for every run")
        mults = sorted(runs["multiplier"].unique())
        return [
            ("+".join(_fmt_mult(m) for m in mults[:k]), list(runs.loc[runs["multiplier"].isin(mults[:k]), "run"]))
            for k in range(1, len(mults) + 1)
        ]
    if scheme == "flops":
        if "flops" not in runs.columns or runs["flops"].isna().any():
            raise LadderDataError("scheme 'flops' needs a 'flops' column (training FLOPs) for every run")
        order = list(runs.sort_values(["flops", "run"], kind="stable")["run"])
        return [(f"{k} cheapest (+{order[k - 1]})", order[:k]) for k in range(1, len(order) + 1)]
    raise LadderDataError(f"unknown scheme {scheme!r}; choose from {', '.join(SCHEMES)}")


def _reference_flops(reference, df: pd.DataFrame) -> tuple[str, float]:
    from ..data.targets import as_targets, fill_flops

    tg = as_targets(reference)
    if len(tg) != 1:
        raise LadderDataError("reference: give exactly one target (e.g. '7B-4T')")
    if "flops" not in tg.columns or tg["flops"].isna().any():
        tg = fill_flops(tg, df)
    return str(tg["target"].iloc[0]), float(tg["flops"].iloc[0])


def compute_vs_error(
    data=None,
    *,
    schemes: Iterable[str] = SCHEMES,
    target_runs=None,
    runs=None,
    methods: Iterable[str] = ("bayes", "least_squares"),
    model="two_step",
    tasks=None,
    fit_options: dict | None = None,
    ls_options: dict | None = None,
    seed: int = 0,
    reference="7B-4T",
    actual: str = "final",
) -> pd.DataFrame:
    """Backtest error and interval width as the training ladder's compute grows.

    Parameters
    ----------
    data : tidy DataFrame, a path, or ``None`` for the bundled OLMo ladder.
    schemes : which ladder sequences: ``"sizes"``, ``"multipliers"``, ``"flops"``.
    target_runs : the held-out runs to predict (names, or a rule of
        :func:`~ladderfit.analysis.holdouts.resolve_holdout`). Default: the largest size of the pool
        (for the bundled ladder the four 1B paper runs).
    runs : the pool (training candidates plus rule-chosen targets); default as in
        :func:`~ladderfit.analysis.backtest.backtest` (the 16 paper runs for the bundled ladder).
    methods, model, tasks, fit_options, ls_options, seed, actual : as in
        :func:`~ladderfit.analysis.backtest.backtest` (one model).
    reference : the target whose compute ``compute_fraction`` divides by (default 7B-4T).

    Returns
    -------
    DataFrame with columns :data:`COMPUTE_CURVE_COLUMNS`: one row per (scheme, ladder,
    method). ``compute`` is in FLOPs; ``mae`` and ``mean_width_90`` in accuracy points;
    ``coverage_90`` a fraction; ``note`` is empty for a successful fit, else why the ladder
    was skipped (or that the Bayesian fit did not converge).
    """
    pairs = method_model_pairs(methods, [model])
    schemes = list(dict.fromkeys([schemes] if isinstance(schemes, str) else list(schemes)))
    for s in schemes:
        if s not in SCHEMES:
            raise LadderDataError(f"unknown scheme {s!r}; choose from {', '.join(SCHEMES)}")
    df, pool, tasks = prepare_ladder(data, tasks, runs)
    held = resolve_holdout(df, "largest_size" if target_runs is None else target_runs, pool)
    candidates = run_table(df[df["run"].isin([r for r in pool if r not in set(held)])])
    if candidates.empty:
        raise LadderDataError("no training runs left after holding out the targets")
    truth = final_accuracy(df[df["run"].isin(held)], actual=actual)
    ref_name, ref_flops = _reference_flops(reference, df)
    has_flops = "flops" in candidates.columns and candidates["flops"].notna().all()

    rows = []
    for scheme in schemes:
        for step, (label, ladder) in enumerate(ladder_sequence(candidates, scheme), start=1):
            sub = candidates[candidates["run"].isin(ladder)]
            compute = float(sub["flops"].sum()) if has_flops else math.nan
            base = {
                "scheme": scheme, "step": step, "ladder": label, "n_runs": len(ladder),
                "n_sizes": int(sub["N"].nunique()), "runs": ",".join(ladder), "compute": compute,
                "compute_fraction": compute / ref_flops,
            }  # fmt: skip
            train = df[df["run"].isin(ladder)].reset_index(drop=True)
            for method, spec in pairs:
                rows.append(_ladder_row(base, train, truth, method, spec, tasks, fit_options, ls_options, seed))
    out = pd.DataFrame(rows, columns=list(COMPUTE_CURVE_COLUMNS))
    out.attrs["reference"] = ref_name
    out.attrs["reference_flops"] = ref_flops
    out.attrs["target_runs"] = list(held)
    return out



def _ladder_row(base: dict, train: pd.DataFrame, truth: pd.DataFrame, method: str, spec, tasks, fit_options,
                ls_options, seed) -> dict:
    """One ladder's row for one method: its backtest summary, or a note why it was skipped or is doubtful."""
    row = {**base, "method": method, "model": spec.name, "n": 0, "mae": np.nan, "coverage_90": np.nan,
           "mean_width_90": np.nan, "fit_seconds": np.nan, "note": ""}  # fmt: skip
    if base["n_sizes"] < 2:
        row["note"] = "skipped: 1 model size cannot identify the N exponent of step 1"
        return row
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            bt, info = fit_and_score(train, truth, method, spec, tasks, fit_options, ls_options, seed)
    except LadderDataError as err:
        row["note"] = f"skipped: {err}"
        return row
    s = summarize_backtest(bt).iloc[0]
    row.update(n=int(s["n"]), mae=s["mae"], coverage_90=s["coverage_90"],
               mean_width_90=s["mean_width_90"], fit_seconds=s["fit_seconds"])  # fmt: skip
    if info.get("converged") is False:
        row["note"] = "bayes fit did not converge (R-hat/ESS/divergences)"
    elif any("converge" in str(w.message).lower() for w in caught):
        row["note"] = "convergence warning"
    return row

def format_compute_curve(df: pd.DataFrame) -> str:
    """A readable table of :func:`compute_vs_error`'s result."""
    ref = df.attrs.get("reference", "target")
    lines = [
        f"{'scheme':<11} {'ladder':<26} {'runs':>4} {'sizes':>5} {'FLOPs':>9} {'% ' + ref:>9} {'method':<13} "
        f"{'MAE pts':>7} {'cover90':>7} {'width90':>7} {'fit s':>6}  note"
    ]
    for r in df.itertuples(index=False):
        ok = r.n > 0
        lines.append(
            f"{r.scheme:<11} {r.ladder:<26} {r.n_runs:>4} {r.n_sizes:>5} {r.compute:9.2e} {100 * r.compute_fraction:8.3f}% "
            f"{r.method:<13} "
            + (f"{r.mae:7.2f} {r.coverage_90:7.0%} {r.mean_width_90:7.2f} {r.fit_seconds:6.1f}" if ok else f"{'-':>7} {'-':>7} {'-':>7} {'-':>6}")
            + (f"  {r.note}" if r.note else "")
        )
    return "\n".join(lines)


__all__ += ["format_compute_curve"]
