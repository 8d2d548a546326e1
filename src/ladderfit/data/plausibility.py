"""Plausibility of a valid ladder table: units and values that parse but cannot be right.

:func:`ladderfit.data.schema.validate` calls :func:`check_plausibility` on every table it
passes, so every reader and every fit run these checks before any sampling:

* N and D lie in the sane ranges of a target (:data:`TARGET_RANGE`);
  N in millions or D in billions fail, with the scale they look like.
* N rises with the size labels that carry a number (``190M``, ``1.4b``), and is within a
  factor :data:`LABEL_FACTOR` of them (N swapped between sizes, N in thousands).
* Tokens per parameter of each run (final D / N) lie in :data:`TOKENS_PER_PARAM`.
* With a ``multiplier`` column, each run's final D / (20 N multiplier) is at most
  :data:`MULTIPLIER_FACTOR`; below its inverse warns (a run in progress?), and fails where such
  a run's tokens per step differ from the other runs of its size.
* Accuracy is not far below chance (below ``chance * CHANCE_FRACTION``): for more than half
  of a task's checkpoints an error (divided by 100? mislabelled?), for some a warning.
* Per task, the final accuracy of the runs does not fall with training compute (Spearman
  rank correlation below :data:`MONOTONE_RHO` over at least :data:`MONOTONE_MIN_RUNS` runs;
  a warning), nor does the final task loss rise with it.

Failures raise :class:`~ladderfit.errors.LadderDataError`, warnings are
:class:`~ladderfit.errors.LadderDataWarning`. Each check can be turned off: pass
``check_plausibility=False`` to the reader (the table remembers it, so a fit of it does
not check again), use :func:`plausibility_check_off`, or ``--no-plausibility-check``.
"""

from __future__ import annotations

import contextlib
import contextvars
import re
import warnings

import numpy as np
import pandas as pd

from ..errors import LadderDataError, LadderDataWarning
from .tasks import task_value

#: Sane ranges of a run's or a target's N (parameters) and D (tokens): outside them a prediction is
#: meaningless (and 1e-300 or 1e400 overflow the law to sd = inf).
TARGET_RANGE: dict[str, tuple[float, float]] = {"N": (1e3, 1e15), "D": (1e3, 1e18)}


__all__ = [
    "check_plausibility", "plausibility_check_off", "plausibility_wanted", "size_label_value",
    "TOKENS_PER_PARAM", "LABEL_FACTOR", "MULTIPLIER_FACTOR", "TARGET_RANGE",
    "CHANCE_FRACTION", "MONOTONE_RHO", "MONOTONE_MIN_RUNS", "OVERRIDE",
]  # fmt: skip

#: Final tokens per parameter (D / N) of a plausible run. Finished runs span about 10
#: (OLMo 0.5xC) to 2.5e5 (Pythia-14M: 300B tokens, 1.2M non-embedding parameters); runs in
#: progress go lower. N and D swapped give 1 / (20 multiplier): 0.05 for a 1xC run.
TOKENS_PER_PARAM: tuple[float, float] = (0.1, 1e6)
#: A size label with a number (``190M``) and N may differ by this factor at most (Pythia's
#: non-embedding N is up to 12x below its label); N in thousands is 1000x off.
LABEL_FACTOR: float = 30.0
#: A run's final D / (20 N multiplier) may exceed 1 by this factor (OLMo: 1.000 to 1.003; a
#: multiplier of all parameters with N without embeddings, say, gives more). A run short of it
#: by this factor is read as in progress, unless its tokens per step differ by this factor
#: from the median of the runs of its size.
MULTIPLIER_FACTOR: float = 3.0
#: An accuracy below ``chance * CHANCE_FRACTION`` is far below chance (real checkpoints go to
#: about 0.65 x chance: Pythia ARC-Challenge 0.163, WSC 0.356).
CHANCE_FRACTION: float = 0.5
#: Per task, a Spearman correlation of final accuracy with compute below this warns (and one
#: of the final task loss above ``-MONOTONE_RHO``), given at least MONOTONE_MIN_RUNS runs.
MONOTONE_RHO: float = -0.5
MONOTONE_MIN_RUNS: int = 4
#: How to skip the checks, appended to each message.
OVERRIDE = ("if the data are right, skip this check with check_plausibility=False (Python) "
            "or --no-plausibility-check (command line)")

_OFF: contextvars.ContextVar[bool] = contextvars.ContextVar("ladderfit_plausibility_off", default=False)
_SCALES = ((1e3, "thousands"), (1e6, "millions"), (1e9, "billions"), (1e12, "trillions"))
_LABEL = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s*([kmbt])(?![a-z])", re.IGNORECASE)
_UNIT = {"k": 1e3, "m": 1e6, "b": 1e9, "t": 1e12}


@contextlib.contextmanager
def plausibility_check_off():
    """Within this block, tables are validated without the plausibility checks."""
    token = _OFF.set(True)
    try:
        yield
    finally:
        _OFF.reset(token)


def plausibility_wanted(data: pd.DataFrame, check: bool | None) -> bool:
    """Whether to check: ``check`` if given, else not inside :func:`plausibility_check_off`
    nor for a table read with ``check_plausibility=False`` (``attrs["plausibility_check"]``)."""
    if check is not None:
        return bool(check)
    attrs = getattr(data, "attrs", None) or {}
    return not _OFF.get() and attrs.get("plausibility_check", True) is not False


def size_label_value(label: str) -> float | None:
    """The parameter count a size label names (``"190M"`` -> 1.9e8, ``"pythia-1.4b"`` -> 1.4e9), else None."""
    m = _LABEL.search(str(label))
    return float(m.group(1)) * _UNIT[m.group(2).lower()] if m else None


def _fail(source: str, msg: str) -> None:
    raise LadderDataError(f"{source}: {msg}; {OVERRIDE}")


def _warn(source: str, msg: str) -> None:
    warnings.warn(f"{source}: {msg}; {OVERRIDE}", LadderDataWarning, stacklevel=5)


def _runs(items: list[tuple[str, str]], limit: int = 4) -> str:
    """``run 'a' (text)`` for a few runs, and how many more."""
    shown = ", ".join(f"{run!r} ({text})" for run, text in items[:limit])
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return f"run{'s' if len(items) > 1 else ''} {shown}{more}"


def _per_run(df: pd.DataFrame) -> pd.DataFrame:
    """One row per run: size, N, first and final D, multiplier (if any), final compute."""
    agg = {"size": ("size", "first"), "N": ("N", "first"), "D": ("D", "max"), "D_min": ("D", "min"),
           "step": ("step", "max")}
    if "multiplier" in df.columns:
        agg["multiplier"] = ("multiplier", "first")
    if "flops" in df.columns:
        agg["compute"] = ("flops", "max")
    out = df.groupby("run", sort=True).agg(**agg)
    if "compute" not in out.columns:
        out["compute"] = 6.0 * out["N"] * out["D"]
    return out


def check_plausibility(df: pd.DataFrame, source: str = "data") -> None:
    """Raise :class:`LadderDataError` (or warn) for a valid table whose values cannot be right.

    Parameters
    ----------
    df : a table that passed :func:`ladderfit.data.schema.validate`'s checks of the schema,
        sorted by run, task and step as it returns it.
    source : name used in messages.
    """
    runs = _per_run(df)
    _check_ranges(runs, source)
    _check_size_labels(runs, source)
    _check_tokens_per_param(runs, source)
    if "multiplier" in runs.columns:
        _check_multiplier(runs, source)
    _check_chance(df, source)
    _check_monotone(df, runs, source)


def _unit_hint(value: float, expected: float | None, what: str) -> str:
    """``looks like millions; expected parameters, e.g. 1.9e+08`` (the scale that comes nearest ``expected``)."""
    if value < 1 or expected is None or not np.isfinite(expected):
        return f"expected {what}"
    scale, word = min(_SCALES, key=lambda s: abs(np.log(value * s[0] / expected)))
    if abs(np.log(value * scale / expected)) > np.log(30):
        return f"expected {what}"
    return f"looks like {word}; expected {what}, e.g. {value * scale:.2g}"


def _check_ranges(runs: pd.DataFrame, source: str) -> None:
    """N and every checkpoint's D inside TARGET_RANGE."""
    mult = runs["multiplier"] if "multiplier" in runs.columns else pd.Series(1.0, index=runs.index)
    for col, what in (("N", "parameters"), ("D", "training tokens")):
        lo, hi = TARGET_RANGE[col]
        final = runs[col]
        # D: the final D, or the first checkpoint's where only that one is out of range
        value = final.where((final < lo) | (final > hi), runs["D_min"]) if col == "D" else final
        bad = runs.index[(value < lo) | (value > hi)]
        if not len(bad):
            continue
        run, v = bad[0], float(value[bad[0]])
        if col == "N":
            label = size_label_value(runs.loc[run, "size"])
            expected = label if label is not None else runs.loc[run, "D"] / 20
        else:
            in_range = TARGET_RANGE["N"][0] <= runs.loc[run, "N"] <= TARGET_RANGE["N"][1]
            expected = 20 * runs.loc[run, "N"] * mult[run] if in_range and v == final[run] else None
        hint = _unit_hint(v, expected, what) if v < lo else f"expected {what}"
        items = [(r, f"{col} = {float(value[r]):.4g}") for r in bad]
        _fail(source, f"{col} = {v:.4g} for run {run!r} is outside the sane range [{lo:g}, {hi:g}] of {what} "
                      f"({hint}); {len(bad)} run(s) in all: {_runs(items)}")


def _check_size_labels(runs: pd.DataFrame, source: str) -> None:
    """N follows the size labels that name a count: the same order, within LABEL_FACTOR."""
    sizes = runs.groupby("size")["N"].first()
    labels = sizes.index.map(size_label_value)
    named = pd.DataFrame({"N": sizes.to_numpy(), "label": labels}, index=sizes.index).dropna()
    if named.empty:
        return
    ratio = named["N"] / named["label"].astype(float)
    off = ratio[(ratio > LABEL_FACTOR) | (ratio < 1 / LABEL_FACTOR)]
    if len(off):
        size = off.index[0]
        _fail(source, f"size {size!r} has N = {named.loc[size, 'N']:.4g}, {_times(off.iloc[0])} its label "
                      f"({named.loc[size, 'label']:.3g}); expected the parameter count, e.g. "
                      f"{named.loc[size, 'label']:.2g}")
    named = named.sort_values(["label", "N"])
    for (a, ra), (b, rb) in zip(named.iloc[:-1].iterrows(), named.iloc[1:].iterrows()):
        if ra["label"] < rb["label"] and ra["N"] > rb["N"]:
            _fail(source, f"sizes {a!r} and {b!r} have N = {ra['N']:.4g} and {rb['N']:.4g}: the smaller label has "
                          "the larger N; expected N to rise with the size labels (N or D swapped between sizes?)")


def _times(ratio: float) -> str:
    return f"{ratio:.3g} times" if ratio >= 1 else f"1/{1 / ratio:.3g} of"


def _check_tokens_per_param(runs: pd.DataFrame, source: str) -> None:
    """Final D / N of every run inside TOKENS_PER_PARAM."""
    lo, hi = TOKENS_PER_PARAM
    tpp = runs["D"] / runs["N"]
    bad = tpp.index[(tpp < lo) | (tpp > hi)]
    if len(bad):
        items = [(r, f"N = {runs.loc[r, 'N']:.4g}, final D = {runs.loc[r, 'D']:.4g}, D/N = {tpp[r]:.3g}") for r in bad]
        _fail(source, f"implausible tokens per parameter (final D / N) for {_runs(items)}; expected between "
                      f"{lo:g} and {hi:g} (N in parameters, D in tokens; N and D swapped, or in other units?)")


def _check_multiplier(runs: pd.DataFrame, source: str) -> None:
    """Final D / (20 N) agrees with each run's multiplier. Beyond it fails; short of it warns (a
    run in progress), and fails if a short run's tokens per step differ from its size's median."""
    ratio = runs["D"] / (20 * runs["N"] * runs["multiplier"])
    per_step = (runs["D"] / runs["step"].where(runs["step"] > 0)).astype(float)
    batch = per_step / per_step.groupby(runs["size"]).transform("median")
    odd_batch = ((batch > MULTIPLIER_FACTOR) | (batch < 1 / MULTIPLIER_FACTOR)).fillna(False)
    over, short = ratio > MULTIPLIER_FACTOR, ratio < 1 / MULTIPLIER_FACTOR
    bad = runs.index[over | short]
    if not len(bad):
        return
    items = [(r, f"multiplier {runs.loc[r, 'multiplier']:g} but D / (20 N) = {runs.loc[r, 'D'] / (20 * runs.loc[r, 'N']):.3g}")
             for r in bad]
    msg = f"{_runs(items)}: final D / (20 N) disagrees with the column 'multiplier' by more than {MULTIPLIER_FACTOR:g}x"
    if not (over | (short & odd_batch)).any():
        _warn(source, f"{msg}: runs in progress, or D too small?")
        return
    why = ("D beyond the run's length" if over.any() else
           "D short of the run's length, with other tokens per step than the runs of its size")
    _fail(source, f"{msg} ({why}); expected the Chinchilla multiplier, final tokens / (20 x parameters): "
                  "D or N off by a factor, or the wrong multiplier?")


def _check_chance(df: pd.DataFrame, source: str) -> None:
    """Accuracies far below chance: an error for most of a task's checkpoints, else a warning."""
    for task, g in df.groupby("task", sort=True):
        chance = task_value(df, task, "chance", default=None)
        if not chance:
            continue
        below = g["accuracy"].to_numpy() < chance * CHANCE_FRACTION
        if not below.any():
            continue
        msg = (f"task {task!r}: {int(below.sum())} of {len(g)} accuracies lie below half its chance level "
               f"{chance:.3g} (median {g['accuracy'].median():.3g}, e.g. run {g['run'].iloc[np.argmax(below)]!r}); "
               "the accuracy looks divided by 100, or the task is mislabelled")
        if below.mean() > 0.5:
            _fail(source, msg + "; expected accuracy as a fraction in [0, 1], near or above chance")
        _warn(source, msg)


def _check_monotone(df: pd.DataFrame, runs: pd.DataFrame, source: str) -> None:
    """Per task, final accuracy should not fall (nor final task loss rise) with training compute."""
    cols = [c for c in ("accuracy", "task_loss") if c in df.columns]
    # the mean of the last 3 checkpoints of each run (the table is sorted): less noise than the last alone
    final = df.groupby(["task", "run"]).tail(3).groupby(["task", "run"], sort=True)[cols].mean().reset_index()
    final["compute"] = final["run"].map(runs["compute"])
    for task, g in final.groupby("task", sort=True):
        if g["compute"].nunique() < MONOTONE_MIN_RUNS:
            continue
        for col, sign, trend in (("accuracy", 1, "falls"), ("task_loss", -1, "rises")):
            if col not in g.columns or g[col].nunique() < 2:
                continue
            # Spearman's rho as the Pearson correlation of average ranks (pandas' "spearman"
            # imports scipy.stats: half a second on every command's start)
            rho = float(g["compute"].rank().corr(g[col].rank()))
            if sign * rho < MONOTONE_RHO:
                _warn(source, f"task {task!r}: the final {col} {trend} with training compute across its "
                              f"{len(g)} runs (Spearman rank correlation {rho:.2f}); expected it to improve with "
                              "N and D: are accuracy, N and D of the same runs (sizes swapped, a column mislabelled)?")
