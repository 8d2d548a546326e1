"""Calibration at every distance: nested hold-outs inside the ladder, scored by how far each
held-out run lies beyond the runs the model was fitted on.

A backtest (:mod:`.backtest`) hides one rung; a prediction at 7B or 13B lies much farther
beyond the ladder. :func:`calibration` hides several nested parts of a ladder in turn, fits
the Bayesian model (:func:`ladderfit.fit`) once per hold-out, predicts every held-out run at
its N and final D, and records each prediction's quantiles beside the truth and the run's
**distance** beyond its training runs. :func:`summarize_calibration` then asks, per distance
bin, whether the central intervals cover as often as they say.

Hold-out rules (:data:`~.holdouts.NESTED_HOLDOUTS`), resolved on the pool of runs of any ladder
    ``largest_size``: hide every run of the largest N; ``two_largest_sizes``: of the two
    largest; ``largest_multiplier``: every run with the largest ``multiplier`` (tokens per
    parameter in Chinchilla units); ``two_largest_multipliers``: the two largest;
    ``corner``: train on the runs below the largest N *and* below the largest multiplier,
    predict all the others; ``small_corner``: train on the two smallest sizes at the two
    smallest multipliers, predict the rest (the farthest pairs). A multiplier rule on a
    ladder without a ``multiplier`` for every run, or with one value only (Pythia: one
    length per size), is skipped with a note; so is a rule that leaves fewer than 2 model
    sizes to train on, or holds out nothing.

Distance
    Euclidean in (log N, log D), natural logs, from the convex hull of the training runs
    (N and final D; :mod:`ladderfit.model.geometry`, the definition of
    ``ModelData.distance_beyond``; 0 inside the hull). A 1B run beyond the 190M-760M ladder is
    0.5-0.75; 190M-10xC beside the 1-5xC runs (it has 2x the tokens per parameter of
    any of them) is 0.49; 7B-4T and 13B-5T beyond the bundled 16-run ladder are 3.2 and 3.8. Bins (:data:`~.holdouts.DISTANCE_BINS`): ``near`` d < 0.7,
    ``mid`` 0.7 <= d <= 1.5, ``far`` d > 1.5.

Columns of :func:`calibration` (one row per hold-out, held-out run and task)
    ``holdout, run, task, N, D, distance, actual, median, lower_50, upper_50, lower_80,
    upper_80, lower_90, upper_90, lower_95, upper_95, crps, log_score, model, bin, converged,
    fit_seconds``.
    ``actual`` is the run's final-checkpoint accuracy (as in :func:`.backtest.backtest`);
    ``median`` and the central ``lower_L``/``upper_L`` bounds are quantiles of the posterior
    predictive of accuracy; ``crps`` and ``log_score`` score the predictive draws against the
    truth (:func:`score_holdout`); all accuracies are fractions. ``D`` is the run's final D.
    ``converged`` and ``fit_seconds`` (wall time, JAX compilation included) describe the
    hold-out's fit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd

from ..errors import LadderDataError
from .backtest import fit_method, method_model_pairs
from .holdouts import (  # noqa: F401  (the nested rules and the distance, importable from here too)
    DISTANCE_BINS, NESTED_HOLDOUTS, Holdout, distance_beyond, distance_bin, final_accuracy, nested_holdouts,
    prepare_ladder, run_table,
)  # fmt: skip
from .discrepancy import DRIFTS, DiscrepancyEstimate, crps, crps_by_gamma, estimate_discrepancy, predictive_parts
from ..model.spec import as_spec
from .stacking import log_density

__all__ = [  # the rules and the distance (nested_holdouts, distance_beyond, ...) are :mod:`.holdouts`'s
    "calibration", "fit_holdouts", "score_holdouts", "choose_model", "calibrated_priors", "summarize_calibration", "bootstrap_by_run", "format_calibration", "summarize_by_task", "format_by_task", "summarize_by_chance", "format_by_chance", "score_holdout", "holdout_draws", "scored_rows", "calibration_columns", "interval_levels", "check_calibration_table", "read_calibration", "pit_counts", "HoldoutFit", "LEVELS", "CALIBRATION_COLUMNS",
]  # fmt: skip

#: Central interval levels (percent) of the calibration table.
LEVELS: tuple[int, ...] = (50, 80, 90, 95)


def calibration_columns(levels=LEVELS) -> tuple[str, ...]:
    """The columns of a calibration table with central intervals at ``levels`` (percent)."""
    bounds = tuple(f"{side}_{lev:g}" for lev in levels for side in ("lower", "upper"))
    return ("holdout", "run", "task", "N", "D", "distance", "actual", "median", *bounds, "crps", "log_score",
            "model", "bin", "converged", "fit_seconds", "at_chance")  # fmt: skip


CALIBRATION_COLUMNS: tuple[str, ...] = calibration_columns()


@dataclass(frozen=True)
class HoldoutFit:
    """What is kept of a hold-out's fit (the fit itself is dropped): the runs, the convergence
    report (``max_r_hat``, ``min_ess_bulk``, ``min_ess_tail``, ``divergences``, ``converged``),
    the wall time, and the training ladder's largest log N and log D (the distance origin)."""

    rule: str
    train: tuple[str, ...]
    held: tuple[str, ...]
    model: str
    diagnostics: dict
    fit_seconds: float
    max_logN: float
    max_logD: float

    @property
    def converged(self) -> bool:
        return bool(self.diagnostics.get("converged", False))


# ---------------------------------------------------------------------------- fitting and scoring
def holdout_draws(fit, truth: pd.DataFrame, discrepancy=None, seed: int = 0) -> np.ndarray:
    """Predictive draws (samples, rows) of the accuracy of each row of ``truth`` (``run, task,
    N, D, actual``) by ``fit``, with ``discrepancy`` as in :func:`score_holdout`."""
    from ..model.results import discrepancy_priors

    parts = predictive_parts(fit, truth, seed=seed)
    runs = truth["run"].to_numpy()
    per_run = isinstance(discrepancy, dict) and set(discrepancy) >= set(runs) and not set(discrepancy) & {
        "discrepancy", "discrepancy_power", "discrepancy_drift"}
    rng = np.random.default_rng(seed)
    acc = np.empty_like(parts.u_curve)
    for run in dict.fromkeys(runs):
        given = discrepancy[run] if per_run else discrepancy
        priors = {**fit.priors, **(discrepancy_priors(given) if given is not None else {})}
        (family, params), power = priors["discrepancy"], priors["discrepancy_power"][1][0]
        drift = priors.get("discrepancy_drift", ("Fixed", (0.0,)))[1][0]
        S = acc.shape[0]
        gamma = np.full(S, params[0]) if family == "Fixed" else np.exp(rng.normal(params[0], params[1], S))
        rows = runs == run
        acc[:, rows] = parts.accuracy(power, drift, gamma, rows)
    return acc


def scored_rows(truth: pd.DataFrame, distance: pd.Series, acc: np.ndarray, levels=LEVELS) -> pd.DataFrame:
    """``truth`` with the scores of its predictive draws ``acc`` (samples, rows): columns as
    :func:`score_holdout` returns them."""
    y = truth["actual"].to_numpy(float)
    out = truth.assign(distance=truth["run"].map(distance).to_numpy(float), median=np.median(acc, axis=0))
    for lev in levels:
        lo, hi = np.quantile(acc, [(100 - lev) / 200, (100 + lev) / 200], axis=0)
        out[f"lower_{lev:g}"], out[f"upper_{lev:g}"] = lo, hi
    return out.assign(crps=crps(acc, y), log_score=log_density(acc, y))


def score_holdout(fit, truth: pd.DataFrame, distance: pd.Series, levels=LEVELS, discrepancy=None, seed: int = 0) -> pd.DataFrame:
    """Predict each held-out run of ``truth`` with ``fit`` and return the scored rows.

    ``truth``: ``run, task, N, D, actual`` (:func:`~.holdouts.final_accuracy`); ``distance``:
    the runs' distance beyond the training runs, a Series indexed by run; ``discrepancy``: the
    discrepancy to predict with (``None``: the fit's priors; a number; a prior of gamma
    ``("LogNormal", (mu, sigma))``; a dict of priors, as
    :attr:`~.discrepancy.DiscrepancyEstimate.priors`; or a dict run -> any of these, one per
    held-out run). Returns ``truth`` with ``distance``, ``median``, ``lower_L``/``upper_L`` for
    each level, ``crps`` (accuracy as a fraction; lower is better) and ``log_score`` (log
    predictive density of the truth, Gaussian kernel; higher is better).
    """
    return scored_rows(truth, distance, holdout_draws(fit, truth, discrepancy, seed), levels)


class _Fitted(NamedTuple):
    fit: object
    truth: pd.DataFrame
    distance: pd.Series
    info: HoldoutFit


def _fit_holdout(df, rule, split, spec, tasks, fit_options, seed) -> _Fitted:
    """Fit one hold-out; its truth, the held-out runs' distances and what is kept of the fit."""
    train = df[df["run"].isin(split.train)].reset_index(drop=True)
    res, seconds = fit_method(train, "bayes", spec, tasks, fit_options, seed=seed)
    truth = final_accuracy(df[df["run"].isin(split.held)])
    truth = truth[truth["task"].isin(res.tasks)].reset_index(drop=True)
    runs, ladder = run_table(df[df["run"].isin(split.held)]), run_table(train)
    distance = pd.Series(distance_beyond(runs, ladder), index=runs["run"])
    info = HoldoutFit(rule, tuple(split.train), tuple(split.held), spec.name, res.diagnostics.as_dict(), seconds,
                      float(np.log(ladder["N"]).max()), float(np.log(ladder["D"]).max()))  # fmt: skip
    return _Fitted(res, truth, distance, info)


def _discrepancies(fitted: dict[str, _Fitted], seed: int, drifts=DRIFTS) -> tuple[dict, DiscrepancyEstimate]:
    """The discrepancy to score each (hold-out, held-out run) with, and the one from all pairs.

    Nested cross-validation: the pairs of run r in hold-out h are scored with the (p, delta,
    gamma) that scores best on the pairs of the *other* hold-outs, less every pair of run r
    (whose truth the other hold-outs share): no setting is chosen on a truth it is scored on,
    nor on the fit it scores. Where no such pair is left (Pythia: both hold-outs predict the
    largest model), the estimate is ``None`` and the pairs are scored with the model's own
    discrepancy, calibrated on another ladder. Clusters of the bootstrap are the held-out runs.
    """
    scores = {rule: crps_by_gamma(f.fit, f.truth, seed=seed, drifts=drifts) for rule, f in fitted.items()}
    rules = np.concatenate([[rule] * len(f.truth) for rule, f in fitted.items()])
    runs = np.concatenate([f.truth["run"].to_numpy() for f in fitted.values()])
    stacked = np.vstack([scores[r] for r in fitted])

    def estimate(mask):
        if not mask.any():  # no pair independent of this one: the model's own (shipped) discrepancy
            return None
        return estimate_discrepancy(stacked[mask], runs[mask], seed=seed, drifts=drifts)

    per = {rule: {run: estimate((rules != rule) & (runs != run)) for run in dict.fromkeys(f.truth["run"])}
           for rule, f in fitted.items()}  # fmt: skip
    return per, estimate(np.ones(len(runs), bool))


def fit_holdouts(data=None, *, holdouts=NESTED_HOLDOUTS, model=None, tasks=None, runs=None,
                 fit_options: dict | None = None, seed: int = 0, need: int = 1) -> tuple[dict, dict, str]:
    """Fit the Bayesian model once per nested hold-out: ``(fitted, skipped, model name)``, where
    ``fitted`` maps each rule to its fit, truth, distances and :class:`HoldoutFit`, and
    ``skipped`` each rule that does not apply (or whose fit failed for too few data) to why.
    Fewer than ``need`` rules that apply is an error before any fit.
    :func:`score_holdouts` scores them; :func:`calibration` does both."""
    from ..data.schema import available_feature

    ((_, spec),) = method_model_pairs(["bayes"], [as_spec(model)])
    df, pool, tasks = prepare_ladder(data, tasks, runs)
    if spec.uses_feature:  # no task_loss, one loss column (Pythia's lambada_loss): that one, named
        spec = spec.replace(feature=available_feature(df, spec.feature))
    splits, skipped = nested_holdouts(df, pool, holdouts)
    _check_enough(splits, skipped, need)
    fitted: dict[str, _Fitted] = {}
    for rule, split in splits.items():
        try:
            fitted[rule] = _fit_holdout(df, rule, split, spec, tasks, fit_options, seed)
        except LadderDataError as err:  # too few data for the model: note it, go on with the others
            skipped[rule] = f"the fit failed: {err}"
    if not fitted:
        raise LadderDataError("no hold-out could be scored: " + "; ".join(f"{r}: {why}" for r, why in skipped.items()))
    return fitted, skipped, spec.name


def _check_enough(splits: dict, skipped: dict, need: int) -> None:
    """At least ``need`` hold-outs that apply, before fitting any (cross-validation needs 2)."""
    if len(splits) >= max(need, 1):
        return
    if not splits:
        raise LadderDataError("no hold-out could be scored: " + "; ".join(f"{r}: {why}" for r, why in skipped.items()))
    why = "; ".join(f"{r} is skipped: {w}" for r, w in skipped.items())
    raise LadderDataError(f"hold-outs: only {', '.join(splits)} applies to this ladder{f' ({why})' if why else ''}; "
                          f"discrepancy='cross_validated' needs at least {need}: give more rules (--holdout), or "
                          "pass discrepancy='model' or a number (--discrepancy)")


def score_holdouts(fitted: dict, skipped: dict, model: str, *, levels=LEVELS, discrepancy="cross_validated",
                   drifts=(0.0,), seed: int = 0, score=score_holdout) -> pd.DataFrame:
    """The calibration table of hold-outs fitted by :func:`fit_holdouts` (see :func:`calibration`;
    ``drifts``: the discrepancy drifts tried when cross-validating, ``(0.0,)`` for none)."""
    levels = interval_levels(levels)
    attrs: dict = {"skipped": dict(skipped), "fits": {rule: f.info for rule, f in fitted.items()}}
    if isinstance(discrepancy, str) and discrepancy == "cross_validated":
        if len(fitted) < 2:
            raise LadderDataError("discrepancy='cross_validated' needs at least 2 hold-outs that can be fitted; "
                                  f"got {list(fitted)} (pass discrepancy='model' or a number)")  # fmt: skip
        per, overall = _discrepancies(fitted, seed, drifts)
        attrs.update(discrepancy=overall, discrepancy_by_holdout=per)
        scale = {rule: {run: est.priors if est is not None else None for run, est in per[rule].items()}
                 for rule in fitted}
    elif isinstance(discrepancy, str) and discrepancy == "model":
        scale = dict.fromkeys(fitted)
    elif isinstance(discrepancy, str):
        raise LadderDataError(f"discrepancy must be 'cross_validated', 'model', a number or a prior; got {discrepancy!r}")
    else:
        scale = dict.fromkeys(fitted, discrepancy)
    parts = []
    for rule, f in fitted.items():
        rows = score(f.fit, f.truth, f.distance, levels, scale[rule]).sort_values(["N", "D", "run", "task"], kind="stable")
        at_chance = f.fit.tasks_at_chance().set_index("task")["at_chance"]  # on this hold-out's training runs
        parts.append(rows.assign(holdout=rule, model=model, converged=f.info.converged, fit_seconds=f.info.fit_seconds,
                                 at_chance=rows["task"].map(at_chance).fillna(False).astype(bool)))
    table = pd.concat(parts, ignore_index=True).assign(bin=lambda t: distance_bin(t["distance"]))
    table = table[list(calibration_columns(levels))]
    table.attrs.update(attrs)
    return table


def calibration(
    data=None,
    *,
    holdouts=NESTED_HOLDOUTS,
    model=None,
    tasks=None,
    runs=None,
    fit_options: dict | None = None,
    seed: int = 0,
    levels=LEVELS,
    discrepancy="cross_validated",
    score=score_holdout,
    drifts=(0.0,),
) -> pd.DataFrame:
    """Fit the Bayesian model once per nested hold-out and score every held-out prediction.

    Parameters
    ----------
    data : tidy DataFrame, a path, or ``None`` for the bundled OLMo ladder.
    holdouts : rule names of :data:`~.holdouts.NESTED_HOLDOUTS` (default: all; those that do not apply
        to the ladder are skipped, see ``attrs["skipped"]``).
    model : a :class:`~ladderfit.model.spec.ModelSpec` or its name (default
        :data:`~ladderfit.model.spec.DEFAULT_MODEL`).
    tasks, runs : tasks to score and the pool of runs, as in :func:`.backtest.backtest`.
    fit_options : keyword options for :func:`ladderfit.fit` (``chains``, ``warmup``, ``draws``, ...).
    levels : central interval levels (percent) to record.
    discrepancy : the model-discrepancy scale each hold-out is predicted with.
        ``"cross_validated"`` (default, at least 2 hold-outs): each held-out run of a hold-out
        with the (p, delta, gamma) calibrated on the *other* hold-outs' pairs of the *other*
        runs (:mod:`.discrepancy`), so no prediction is scored with a setting chosen on its own
        truth or its own fit; ``"model"``: the model's own prior (the shipped default);
        a number or a prior ``("LogNormal", (mu, sigma))``: that.
    score : ``score(fit, truth, distance, levels, discrepancy)`` -> rows; default :func:`score_holdout`.
    drifts : the discrepancy drifts tried with ``"cross_validated"``: ``(0.0,)`` (default), a
        discrepancy without a mean; :data:`~.discrepancy.DRIFTS` lets the hold-outs choose a drift
        too (on the bundled OLMo ladder it did not improve the nested cross-validated scores of any
        structure; on Pythia's two hold-outs it did, for the two-step structure).

    Returns
    -------
    DataFrame with columns :func:`calibration_columns` (``levels``), one row per (hold-out,
    held-out run, task); ``at_chance``: the hold-out's training runs show the task only at
    chance (:func:`~ladderfit.model.chance.tasks_at_chance`; :func:`summarize_by_chance`).
    ``attrs["skipped"]``: rule -> why it was skipped (a rule whose fit fails for too few data
    is skipped too); ``attrs["fits"]``: rule -> :class:`HoldoutFit`;
    with ``"cross_validated"``, ``attrs["discrepancy"]``: the
    :class:`~.discrepancy.DiscrepancyEstimate` from all hold-outs (the prior to use on this
    ladder) and ``attrs["discrepancy_by_holdout"]``: rule -> {held-out run -> the estimate it
    was scored with}.
    """
    cross = isinstance(discrepancy, str) and discrepancy == "cross_validated"
    fitted, skipped, name = fit_holdouts(data, holdouts=holdouts, model=model, tasks=tasks, runs=runs,
                                         fit_options=fit_options, seed=seed, need=2 if cross else 1)
    return score_holdouts(fitted, skipped, name, levels=levels, discrepancy=discrepancy, drifts=drifts, seed=seed,
                          score=score)


def calibrated_priors(table: pd.DataFrame) -> dict:
    """The discrepancy priors a cross-validated calibration table calibrated (from all its
    hold-outs), with the largest distance it was calibrated at."""
    if "discrepancy" not in table.attrs:
        raise LadderDataError("the table has no discrepancy estimate: calibrate with discrepancy='cross_validated'")
    return {**table.attrs["discrepancy"].priors,
            "discrepancy_max_distance": ("Fixed", (round(float(table["distance"].max()), 2),))}


def choose_model(tables: dict, coverage=(0.80, 0.97), min_pairs: int = 10) -> tuple[str, pd.DataFrame]:
    """Choose among models by a proper score of their held-out predictions.

    ``tables``: model name -> calibration table (:func:`calibration`). The choice is the lowest
    mean CRPS over all pairs among the models whose 90% coverage lies in ``coverage`` in every
    distance bin with at least ``min_pairs`` pairs (coverage a constraint, not the objective);
    if none does, the lowest CRPS of all. Returns ``(name, scores)``: one row per model with
    ``crps`` (points), ``log_score``, ``interval_score_90``, ``mae``, ``mean_width_90``,
    ``coverage_90``, ``above_median`` over all pairs, ``worst_bin_coverage_90`` and ``admissible``.
    """
    rows = []
    for name, table in tables.items():
        s = summarize_calibration(table).set_index("bin")
        bins = s.loc[[b[0] for b in DISTANCE_BINS]]
        bins = bins[bins["n"] >= min_pairs]
        cov = bins["coverage_90"]
        rows.append({"model": name, **{k: s.loc["all", k] for k in ("n", "crps", "log_score", "interval_score_90", "mae",
                                                                    "mean_width_90", "coverage_90", "above_median")},
                     "worst_bin_coverage_90": float(cov.min()) if len(cov) else np.nan,
                     "admissible": bool(len(cov) and cov.between(*coverage).all())})  # fmt: skip
    scores = pd.DataFrame(rows).sort_values("crps", kind="stable").reset_index(drop=True)
    pool = scores[scores["admissible"]] if scores["admissible"].any() else scores
    return str(pool.iloc[0]["model"]), scores


# ---------------------------------------------------------------------------- summary
def interval_levels(levels) -> tuple[float, ...]:
    """Check central interval levels (percent, in (0, 100)); sorted, without repeats."""
    try:
        out = tuple(sorted({float(lev) for lev in ([levels] if np.isscalar(levels) else levels)}))
    except (TypeError, ValueError):
        raise LadderDataError(f"levels: expected numbers in (0, 100), got {levels!r}") from None
    if not out or not all(0 < lev < 100 for lev in out):
        raise LadderDataError(f"levels: expected numbers in (0, 100), got {levels!r}")
    return tuple(int(lev) if lev == int(lev) else lev for lev in out)


def _table_levels(table: pd.DataFrame) -> tuple[float, ...]:
    """The levels L with both ``lower_L`` and ``upper_L`` columns in the table."""
    found = [m.group(1) for c in table.columns if (m := re.fullmatch(r"lower_(\d+(?:\.\d+)?)", str(c)))]
    return interval_levels([lev for lev in found if f"upper_{lev}" in table.columns] or [90])


def check_calibration_table(table: pd.DataFrame, source: str = "") -> pd.DataFrame:
    """The table if it can be summarized (``distance, actual, median``, ``lower_90``/``upper_90``,
    numeric, at least one row), else a LadderDataError naming what is missing."""
    where = f"{source}: " if source else ""
    need = ["distance", "actual", "median", "lower_90", "upper_90"]
    missing = [c for c in need if c not in table.columns]
    if missing:
        raise LadderDataError(f"{where}not a calibration table: missing column(s) {missing}; "
                              "expected the table of ladderfit.calibration (ladderfit calibrate --out)")  # fmt: skip
    levels = _table_levels(table)
    cols = need + [f"{side}_{lev:g}" for lev in levels for side in ("lower", "upper")]
    bad = [c for c in dict.fromkeys(cols) if not pd.api.types.is_numeric_dtype(table[c]) or table[c].isna().any()]
    if bad:
        raise LadderDataError(f"{where}calibration column(s) {bad} hold empty or non-numeric values; expected numbers")
    if table.empty:
        raise LadderDataError(f"{where}the calibration table has no rows")
    return table


def read_calibration(path) -> pd.DataFrame:
    """Read a calibration table written by ``ladderfit calibrate --out`` (checked)."""
    from pathlib import Path

    from ..io import check_input

    path = check_input(Path(path), "a CSV written by 'ladderfit calibrate --out'", text=True)
    try:
        table = pd.read_csv(path)
    except (ValueError, UnicodeDecodeError) as err:
        raise LadderDataError(f"{path}: not a readable CSV ({' '.join(str(err).split())[:200]})") from None
    return check_calibration_table(table, str(path))


def pit_counts(table: pd.DataFrame, levels=None) -> dict[str, int]:
    """How many truths fall in each bin between the interval ends (a PIT histogram from the quantiles).

    The edges are ``lower_L`` (widest first), ``median``, ``upper_L`` (narrowest first); the
    bins are named by their nominal quantiles in percent, ``pit_0_2.5`` (below ``lower_95``)
    ... ``pit_97.5_100`` (above ``upper_95``). A truth on an edge goes to the inner bin, so the
    bins inside ``[lower_L, upper_L]`` add up to the rows that interval covers. A calibrated
    model puts a share ``(b - a) / 100`` of the truths in bin ``pit_a_b``.
    """
    levels = _table_levels(table) if levels is None else interval_levels(levels)
    y = table["actual"].to_numpy(float)
    index = (y >= table["median"].to_numpy(float)).astype(int)
    for lev in levels:
        index += (y >= table[f"lower_{lev:g}"].to_numpy(float)).astype(int)
        index += (y > table[f"upper_{lev:g}"].to_numpy(float)).astype(int)
    cuts = [0.0, *[(100 - lev) / 2 for lev in reversed(levels)], 50.0, *[(100 + lev) / 2 for lev in levels], 100.0]
    counts = np.bincount(index, minlength=len(cuts) - 1)
    return {f"pit_{a:g}_{b:g}": int(c) for a, b, c in zip(cuts[:-1], cuts[1:], counts)}


def summarize_calibration(table: pd.DataFrame) -> pd.DataFrame:
    """Per distance bin (``near``, ``mid``, ``far``) and ``all``: how well the intervals do.

    Columns: ``bin, n`` (pairs), ``mean_distance``, ``coverage_L`` (share of truths inside
    ``[lower_L, upper_L]``) for each level L of the table, ``mean_width_90`` and ``mae``
    (|median - actual|) in accuracy points, ``interval_score_90`` (Gneiting & Raftery 2007,
    in points: width + (2/alpha)(lower - y)+ + (2/alpha)(y - upper)+ with alpha = 0.1; lower
    is better), ``crps`` (points, lower is better) and ``log_score`` (mean log predictive
    density, higher is better) where the table has them, ``above_median`` (the share of truths
    above the median: 0.5 when unbiased) and the PIT counts of :func:`pit_counts`. Bins come from ``distance`` (so the
    CSV alone gives every figure); an empty bin has n = 0 and empty metrics.
    """
    check_calibration_table(table)
    levels = _table_levels(table)
    binned = distance_bin(table["distance"])
    rows = []
    for name, group in [(b[0], table[binned == b[0]]) for b in DISTANCE_BINS] + [("all", table)]:
        y, lo, hi = group["actual"], group["lower_90"], group["upper_90"]
        score = (hi - lo) + 20.0 * ((lo - y).clip(lower=0) + (y - hi).clip(lower=0))
        rows.append({
            "bin": name, "n": len(group), "mean_distance": group["distance"].mean(),
            **{f"coverage_{lev:g}": ((group[f"lower_{lev:g}"] <= y) & (y <= group[f"upper_{lev:g}"])).mean()
               for lev in levels},
            "mean_width_90": 100.0 * (hi - lo).mean(), "mae": 100.0 * (group["median"] - y).abs().mean(),
            "interval_score_90": 100.0 * score.mean(),
            "crps": 100.0 * group["crps"].mean() if "crps" in group else np.nan,
            "log_score": group["log_score"].mean() if "log_score" in group else np.nan,
            "above_median": (y > group["median"]).mean(), **pit_counts(group, levels),
        })  # fmt: skip
    return pd.DataFrame(rows)


#: The scores :func:`bootstrap_by_run` resamples.
BOOTSTRAP_SCORES = ("coverage_90", "mean_width_90", "mae", "interval_score_90", "crps", "above_median")


def bootstrap_by_run(table: pd.DataFrame, reps: int = 2000, level: float = 0.90, seed: int = 0) -> pd.DataFrame:
    """How sure each bin's scores are: :func:`summarize_calibration`'s scores with a bootstrap
    interval over the held-out *runs*, the units a ladder's truths come in.

    A run's pairs (its tasks, in every hold-out that holds it out) share its deviation from the
    law, so they are resampled together: each replicate draws the table's runs with replacement
    and keeps every pair of each draw. Returns one row per bin (as :func:`summarize_calibration`,
    empty bins left out) with ``bin, n, runs`` (distinct held-out runs in the bin), ``fits``
    (distinct hold-outs, each one posterior) and ``largest_fit_share`` (the share of the bin's
    pairs that its largest hold-out scored: pairs of one fit share its posterior too) and, per score
    in :data:`BOOTSTRAP_SCORES`, its value and ``{score}_lo``, ``{score}_hi``: the central
    ``level`` interval of the replicates (a bin of one run has a zero-width interval: it says
    nothing of how the next run would score)."""
    check_calibration_table(table)
    point = summarize_calibration(table).set_index("bin")
    runs = table["run"].astype(str).to_numpy()
    names = np.unique(runs)
    by_run = {r: np.flatnonzero(runs == r) for r in names}
    rng = np.random.default_rng(seed)
    reps_rows: list[pd.DataFrame] = []
    for _ in range(reps):
        rows = np.concatenate([by_run[r] for r in rng.choice(names, size=len(names))])
        reps_rows.append(summarize_calibration(table.iloc[rows]).set_index("bin")[list(BOOTSTRAP_SCORES)])
    binned = distance_bin(table["distance"])
    q = ((1 - level) / 2, (1 + level) / 2)
    out = []
    for name in point.index:
        if not point.loc[name, "n"]:
            continue
        in_bin = binned == name if name != "all" else np.ones(len(table), bool)
        draws = pd.DataFrame([r.loc[name] for r in reps_rows])  # a replicate without the bin's runs: NaN
        held = table.loc[np.asarray(in_bin), "holdout"].astype(str)
        row = {"bin": name, "n": int(point.loc[name, "n"]), "runs": int(pd.unique(runs[np.asarray(in_bin)]).size),
               "fits": int(held.nunique()), "largest_fit_share": float(held.value_counts(normalize=True).iloc[0])}
        for score in BOOTSTRAP_SCORES:
            lo, hi = np.nanquantile(draws[score].to_numpy(float), q)
            row.update({score: float(point.loc[name, score]), f"{score}_lo": float(lo), f"{score}_hi": float(hi)})
        out.append(row)
    return pd.DataFrame(out)


def summarize_by_task(table: pd.DataFrame) -> pd.DataFrame:
    """Per task, how predictable it was: its pairs over all distances and in the far bin.

    One row per task, in the table's order: ``task, n`` (pairs), ``coverage_90``,
    ``mean_width_90``, ``mae``, ``crps`` (points) and ``above_median`` over all its pairs, as
    :func:`summarize_calibration` computes them; ``far_n``, ``far_coverage_90`` and
    ``far_above_median`` over its pairs of the far bin (NaN where it has none). A task whose far
    intervals miss with its truths above the median rises faster than its ladder shows.
    """
    check_calibration_table(table)
    if "task" not in table.columns:
        raise LadderDataError("not a calibration table: missing column(s) ['task']; expected the table of "
                              "ladderfit.calibration (ladderfit calibrate --out)")
    rows = []
    for task, group in table.groupby("task", sort=False):
        s = summarize_calibration(group).set_index("bin")
        far = s.loc["far"]
        rows.append({"task": task, "n": int(s.loc["all", "n"]),
                     **{k: float(s.loc["all", k]) for k in ("coverage_90", "mean_width_90", "mae", "crps", "above_median")},
                     "far_n": int(far["n"]),
                     **{f"far_{k}": float(far[k]) if far["n"] else np.nan for k in ("coverage_90", "above_median")}})
    return pd.DataFrame(rows)


def summarize_by_chance(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`summarize_calibration` of the pairs whose task the hold-out's own training runs
    show only at chance (``at_chance``: :func:`~ladderfit.model.chance.tasks_at_chance`) and of
    the others: its columns, with ``at_chance`` first and a row per (side, bin) with pairs.
    Where a ladder's far intervals miss on one side, this says whether those tasks are why."""
    check_calibration_table(table)
    if "at_chance" not in table.columns:
        raise LadderDataError("the calibration table has no column 'at_chance' (a table written before it was added); "
                              "rerun ladderfit calibrate")
    flag = _bool_column(table["at_chance"], "at_chance")
    parts = [summarize_calibration(table[flag == side]).assign(at_chance=side) for side in (True, False) if (flag == side).any()]
    out = pd.concat(parts, ignore_index=True)
    out = out[out["n"] > 0]
    return out[["at_chance", *[c for c in out.columns if c != "at_chance"]]].reset_index(drop=True)


def _bool_column(values: pd.Series, name: str) -> np.ndarray:
    """A column of booleans (True/False, 1/0, or their text as a CSV holds it), else a clear error."""
    if pd.api.types.is_bool_dtype(values):
        return values.to_numpy(bool)
    known = {True: True, False: False, 1: True, 0: False, "True": True, "False": False, "true": True, "false": False}
    bad = [v for v in values.unique() if not isinstance(v, (bool, int, float, str, np.bool_, np.integer, np.floating))
           or v not in known]
    if bad:
        raise LadderDataError(f"calibration column '{name}' must hold True or False; got {bad[:3]}")
    return values.map(known).to_numpy(bool)


def format_by_chance(by_chance: pd.DataFrame) -> str:
    """A readable table of :func:`summarize_by_chance`, one line per (side, bin)."""
    lines = [f"{'tasks':<10} {'distance':<8} {'pairs':>5} {'cov90':>5} {'width90':>7} {'MAE':>5} {'>med':>5}   "
             "(coverage and >med in %, width and MAE in accuracy points)"]
    for r in by_chance.to_dict("records"):
        lines.append(f"{'at chance' if r['at_chance'] else 'others':<10} {r['bin']:<8} {r['n']:>5} "
                     f"{100 * r['coverage_90']:5.1f} {r['mean_width_90']:7.2f} {r['mae']:5.2f} {100 * r['above_median']:5.1f}")
    return "\n".join(lines)


def format_by_task(by_task: pd.DataFrame) -> str:
    """A readable table of :func:`summarize_by_task`, one line per task."""
    def pct(v):
        return f"{100 * v:5.1f}" if np.isfinite(v) else f"{'-':>5}"

    lines = [f"{'task':<16} {'pairs':>5} {'cov90':>5} {'width90':>7} {'MAE':>5} {'CRPS':>5} {'>med':>5}   "
             f"{'far pairs':>9} {'cov90':>5} {'>med':>5}   (coverage and >med in %, the rest in accuracy points; "
             "far: d > 1.5)"]
    for r in by_task.to_dict("records"):
        lines.append(f"{str(r['task']):<16} {r['n']:>5} {pct(r['coverage_90'])} {r['mean_width_90']:7.2f} {r['mae']:5.2f} "
                     f"{r['crps']:5.2f} {pct(r['above_median'])}   {r['far_n']:>9} {pct(r['far_coverage_90'])} "
                     f"{pct(r['far_above_median'])}")
    return "\n".join(lines)


def format_calibration(summary: pd.DataFrame) -> str:
    """A readable table of :func:`summarize_calibration`: coverage per level, width, MAE,
    interval score (points), then the PIT counts per bin."""
    cov = [c for c in summary.columns if c.startswith("coverage_")]
    pit = [c for c in summary.columns if c.startswith("pit_")]
    bounds = {b[0]: (f"d < {b[2]:g}" if i == 0 else f"d > {b[1]:g}" if np.isinf(b[2]) else f"{b[1]:g}-{b[2]:g}")
              for i, b in enumerate(DISTANCE_BINS)}  # fmt: skip
    head = f"{'distance':<16} {'pairs':>5} {'mean d':>6} " + " ".join(f"{'cov' + c[9:]:>6}" for c in cov)
    lines = [head + f" {'width90':>7} {'MAE':>5} {'IS90':>6} {'CRPS':>5} {'logS':>5} {'>med':>5}"
             "   (coverage and >med in %, logS in nats, the rest in accuracy points)"]
    for r in summary.to_dict("records"):
        label = f"{r['bin']} ({bounds[r['bin']]})" if r["bin"] in bounds else r["bin"]
        if not r["n"]:
            lines.append(f"{label:<16} {0:>5}  no pairs")
            continue
        lines.append(f"{label:<16} {r['n']:>5} {r['mean_distance']:6.2f} " + " ".join(f"{100 * r[c]:6.1f}" for c in cov)
                     + f" {r['mean_width_90']:7.2f} {r['mae']:5.2f} {r['interval_score_90']:6.2f} {r['crps']:5.2f} "
                     f"{r['log_score']:5.2f} {100 * r['above_median']:5.1f}")  # fmt: skip
    lines += ["", "PIT counts (truths between interval ends; bins in nominal percentiles):",
              f"{'distance':<9} " + " ".join(f"{c[4:].replace('_', '-'):>8}" for c in pit)]  # fmt: skip
    lines += [f"{r['bin']:<9} " + " ".join(f"{r[c]:>8}" for c in pit) for r in summary.to_dict("records")]
    return "\n".join(lines)
