"""Hold-outs: which runs of a ladder to hide, what to train on, what the truth is, and how far
each hidden run lies beyond the runs trained on. Both :mod:`.backtest` (one rule) and
:mod:`.calibration` (nested rules) draw on it; each scores the predictions its own way.

The pool
    :func:`default_pool`: the runs :func:`ladderfit.fit` fits by default (the paper's 16 of the
    bundled OLMo ladder, else all); :func:`prepare_ladder` reads the data, keeps the tasks and
    picks the pool; :func:`split_pool` trains on the pool less the hidden runs (at least 2 sizes).

Rules
    :func:`resolve_holdout` (the backtest's: ``largest_size``, ``largest_multiplier`` or runs by
    name) and :func:`nested_holdouts` (:data:`NESTED_HOLDOUTS`, described in
    :mod:`.calibration`), each resolved on the pool.

The truth
    :func:`final_accuracy`: each hidden run's accuracy at its last checkpoint (or the mean of the
    last k), at its N and final D; :func:`run_table`: one row per run.

Distance
    :func:`distance_beyond`: Euclidean in (log N, log D), natural logs, from the convex hull of
    the training runs (:mod:`ladderfit.model.geometry`; 0 inside); :func:`distance_bin` names its
    :data:`DISTANCE_BINS`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

from ..data.bundled import default_runs
from ..errors import LadderDataError

__all__ = ["HOLDOUT_RULES", "NESTED_HOLDOUTS", "as_list", "DISTANCE_BINS", "Holdout", "run_table", "default_pool",
           "resolve_holdout", "final_accuracy", "prepare_ladder", "split_pool", "nested_holdouts",
           "distance_beyond", "distance_bin"]

HOLDOUT_RULES: tuple[str, ...] = ("largest_size", "largest_multiplier")
NESTED_HOLDOUTS: tuple[str, ...] = (
    "largest_size", "two_largest_sizes", "largest_multiplier", "two_largest_multipliers", "corner", "small_corner",
)  # fmt: skip
_MULTIPLIER_RULES = {"largest_multiplier", "two_largest_multipliers", "corner", "small_corner"}

#: (name, low, high) in log-units: near d < 0.7, mid 0.7 <= d <= 1.5, far d > 1.5.
DISTANCE_BINS: tuple[tuple[str, float, float], ...] = (("near", 0.0, 0.7), ("mid", 0.7, 1.5), ("far", 1.5, np.inf))


class Holdout(NamedTuple):
    """One resolved rule: the runs to train on (pool order) and to predict (ladder order)."""

    train: list[str]
    held: list[str]


# ---------------------------------------------------------------------------- the pool, the truth
def as_list(x) -> list:
    """``None`` -> ``[]``, a string -> ``[it]``, any other iterable -> a list of it."""
    if x is None:
        return []
    if isinstance(x, str):
        return [x]
    return list(x)


def run_table(df: pd.DataFrame) -> pd.DataFrame:
    """One row per run: N, final D, final flops (if any), multiplier (if any); sorted by N, D, name."""
    agg = {"N": ("N", "first"), "D": ("D", "max")}
    for col in ("flops", "multiplier"):
        if col in df.columns:
            agg[col] = (col, "max")
    if "size" in df.columns:
        agg["size"] = ("size", "first")
    t = df.groupby("run", sort=False).agg(**agg).reset_index()
    return t.sort_values(["N", "D", "run"], kind="stable").reset_index(drop=True)


def default_pool(df: pd.DataFrame) -> list[str]:
    """The runs a backtest draws on by default: those :func:`ladderfit.fit` fits by default
    (:func:`~ladderfit.data.bundled.default_runs`: the paper's 16 of the bundled ladder, else all)."""
    return default_runs(df) or list(run_table(df)["run"])


def resolve_holdout(df: pd.DataFrame, holdout="largest_size", pool: Sequence[str] | None = None) -> list[str]:
    """Names of the runs a hold-out rule hides, in ladder order (by N, then D).

    ``"largest_size"``: every run of the largest N in the pool. ``"largest_multiplier"``:
    every run with the largest ``multiplier`` (tokens per parameter in Chinchilla units) in
    the pool. A list of run names: those runs (they must be in the data; they need not be in
    the pool, so a ladder can be scored on runs outside it).
    """
    pool = list(pool) if pool is not None else list(run_table(df)["run"])
    table = run_table(df[df["run"].isin(pool)])
    if isinstance(holdout, str) and holdout in HOLDOUT_RULES:
        if table.empty:
            raise LadderDataError("the pool of runs is empty")
        if holdout == "largest_size":
            return list(table.loc[table["N"] == table["N"].max(), "run"])
        if "multiplier" not in table.columns or table["multiplier"].isna().all():
            raise LadderDataError(
                "holdout 'largest_multiplier' needs a 'multiplier' column (tokens per parameter in "
                "Chinchilla units) in the data; give the held-out runs by name instead"
            )
        return list(table.loc[table["multiplier"] == table["multiplier"].max(), "run"])
    if isinstance(holdout, str):
        if "," not in holdout and holdout not in set(df["run"]):
            raise LadderDataError(
                f"holdout {holdout!r}: not a rule ({', '.join(HOLDOUT_RULES)}) nor a run in the data "
                f"(runs: {', '.join(run_table(df)['run'])})"
            )
        holdout = [h.strip() for h in holdout.split(",") if h.strip()]
    names = list(dict.fromkeys(as_list(holdout)))
    if not names:
        raise LadderDataError("holdout: no runs given")
    unknown = [n for n in names if n not in set(df["run"])]
    if unknown:
        raise LadderDataError(
            f"holdout run(s) {unknown} not in the data; it has {', '.join(run_table(df)['run'])} "
            f"(or use a rule: {', '.join(HOLDOUT_RULES)})"
        )
    order = list(run_table(df)["run"])
    return sorted(names, key=order.index)


def final_accuracy(df: pd.DataFrame, actual: str = "final", last_k: int = 5) -> pd.DataFrame:
    """The truth for each (run, task): ``run, task, N, D, flops?, actual``.

    ``actual="final"``: accuracy at the run's last checkpoint (the default of :func:`backtest`);
    ``"last_k"``: mean accuracy of its last ``last_k`` checkpoints. D (and flops) are the run's final ones.
    """
    if actual not in ("final", "last_k"):
        raise LadderDataError(f"actual must be 'final' or 'last_k', got {actual!r}")
    k = 1 if actual == "final" else int(last_k)
    df = df.sort_values(["run", "task", "step"])
    g = df.groupby(["run", "task"], sort=False)
    out = g.tail(k).groupby(["run", "task"], sort=False).agg(actual=("accuracy", "mean")).reset_index()
    runs = run_table(df).drop(columns=["multiplier", "size"], errors="ignore")
    return out.merge(runs, on="run", how="left")


def prepare_ladder(data, tasks, runs):
    """Read the data, keep the tasks, and pick the pool. Returns (df, pool, tasks)."""
    from ..data.readers import read_data

    df = read_data(data)
    if tasks is not None:
        names = list(dict.fromkeys(as_list(tasks)))
        if not names:
            raise LadderDataError("tasks: none given")
        unknown = [t for t in names if t not in set(df["task"])]
        if unknown:
            raise LadderDataError(f"task(s) {unknown} not in the data; it has {', '.join(sorted(df['task'].unique()))}")
        df = df[df["task"].isin(names)].reset_index(drop=True)
    pool = default_pool(df) if runs is None else list(dict.fromkeys(as_list(runs)))
    unknown = [r for r in pool if r not in set(df["run"])]
    if unknown:
        raise LadderDataError(f"run(s) {unknown} not in the data; it has {', '.join(run_table(df)['run'])}")
    tasks = sorted(df["task"].unique()) if tasks is None else list(dict.fromkeys(as_list(tasks)))
    return df, pool, tasks


def split_pool(df: pd.DataFrame, pool, held) -> tuple[pd.DataFrame, list[str]]:
    """The training rows and runs: the pool without the held-out runs; fewer than 2 model sizes is an error."""
    train_runs = [r for r in pool if r not in set(held)]
    train = df[df["run"].isin(train_runs)].reset_index(drop=True)
    n_sizes = train["N"].nunique()
    if n_sizes < 2:
        raise LadderDataError(
            f"holding out {', '.join(held)} leaves {len(train_runs)} training run(s) with {n_sizes} model size(s); "
            "step 1 needs at least 2 sizes to fit the N exponent"
        )
    return train, train_runs


# ---------------------------------------------------------------------------- hold-outs
def _check_rules(rules) -> list[str]:
    rules = list(dict.fromkeys([rules] if isinstance(rules, str) else list(rules)))
    if not rules:
        raise LadderDataError(f"hold-outs: none given (choose from {', '.join(NESTED_HOLDOUTS)})")
    unknown = [r for r in rules if r not in NESTED_HOLDOUTS]
    if unknown:
        raise LadderDataError(f"unknown hold-out rule(s) {unknown}; choose from {', '.join(NESTED_HOLDOUTS)}")
    return rules


def _trained(rule: str, runs: pd.DataFrame) -> pd.Series:
    """Which runs of the per-run table a rule trains on."""
    sizes = sorted(runs["N"].unique())
    mults = sorted(runs["multiplier"].unique()) if rule in _MULTIPLIER_RULES else []
    return {
        "largest_size": lambda: runs["N"] < sizes[-1],
        "two_largest_sizes": lambda: runs["N"] < sizes[max(len(sizes) - 2, 0)],
        "largest_multiplier": lambda: runs["multiplier"] < mults[-1],
        "two_largest_multipliers": lambda: runs["multiplier"] < mults[max(len(mults) - 2, 0)],
        "corner": lambda: (runs["N"] < sizes[-1]) & (runs["multiplier"] < mults[-1]),
        "small_corner": lambda: runs["N"].isin(sizes[:2]) & runs["multiplier"].isin(mults[:2]),
    }[rule]()


def nested_holdouts(df: pd.DataFrame, pool=None, rules=NESTED_HOLDOUTS) -> tuple[dict[str, Holdout], dict[str, str]]:
    """Resolve hold-out rules on the pool of runs of a ladder.

    Returns ``(splits, skipped)``: ``splits`` maps each rule that applies to a
    :class:`Holdout` ``(train, held)``; ``skipped`` maps each rule that does not to a note
    saying why. ``pool`` defaults to all runs of ``df``; an unknown rule is a LadderDataError.
    """
    rules = _check_rules(rules)
    pool = list(pool) if pool is not None else list(run_table(df)["run"])
    runs = run_table(df[df["run"].isin(pool)])
    if runs.empty:
        raise LadderDataError("the pool of runs is empty")
    n_mults = runs["multiplier"].nunique() if "multiplier" in runs.columns and runs["multiplier"].notna().all() else 0
    splits, skipped = {}, {}
    for rule in rules:
        if rule in _MULTIPLIER_RULES and n_mults < 2:
            skipped[rule] = ("the ladder has one multiplier value only" if n_mults == 1 else
                             "needs a 'multiplier' column (tokens per parameter) for every run in the pool")
            continue
        held = list(runs.loc[~_trained(rule, runs), "run"])
        if not held:
            skipped[rule] = "holds out no run"
            continue
        try:
            _, train = split_pool(df, pool, held)
        except LadderDataError as err:
            skipped[rule] = str(err)
            continue
        splits[rule] = Holdout(train, held)
    return splits, skipped


# ---------------------------------------------------------------------------- distance
def distance_beyond(runs: pd.DataFrame, train: pd.DataFrame) -> np.ndarray:
    """Distance in (log N, log D) of each row of ``runs`` from the convex hull of the training
    runs ``train`` (both with ``N`` and final ``D``; see the module docstring)."""
    from ..model.geometry import hull_distance

    ladder = np.log(train[["N", "D"]].to_numpy(float))
    return hull_distance(ladder, np.log(runs["N"].to_numpy(float)), np.log(runs["D"].to_numpy(float)))


def distance_bin(distance) -> np.ndarray:
    """The :data:`DISTANCE_BINS` name of each distance (``near``, ``mid``, ``far``)."""
    d = np.asarray(distance, dtype=float)
    return np.where(d < DISTANCE_BINS[1][1], "near", np.where(d > DISTANCE_BINS[2][1], "far", "mid")).astype(object)
