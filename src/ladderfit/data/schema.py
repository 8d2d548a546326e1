"""The tidy ladder table: one row per (run, checkpoint, task). Defined and validated here.

============ ======== ==========================================================================
column       required meaning
============ ======== ==========================================================================
run          yes      name of one training run, e.g. ``"760M-5xC"``
size         yes      model-size label, e.g. ``"760M"`` (one per run)
N            yes      parameter count (> 0; one per run)
D            yes      training tokens seen at this checkpoint (> 0)
step         yes      training step of the checkpoint (integer)
task         yes      task name; known to :mod:`ladderfit.data.tasks` or given a ``chance`` column
accuracy     yes      accuracy in [0, 1]
task_loss    no*      task loss, bits per byte of the correct answer (> 0). *Needed by the
                      default two-step fit; other intermediate features can stand in.
multiplier   no       Chinchilla multiplier (tokens / (20 N)) of the run
replicate    no       seed-rerun index (0 = first training of a configuration)
flops        no       training FLOPs so far (> 0), for the compute structure
n_items      no       number of items of the task (binomial noise)
chance       no       chance accuracy of the task (overrides the registry)
c4_loss      no       C4 language-modeling loss, nats per token (> 0)
task_ce      no       task cross-entropy: -log p(correct choice | choices) (> 0)
lambada_loss no       LAMBADA (OpenAI) loss, log perplexity in nats per token (> 0); one value
                      per checkpoint, shared by the tasks (from lm-evaluation-harness files)
============ ======== ==========================================================================

Any other column is kept as is. :func:`validate` returns a clean copy, sorted by run, task
and step, and raises :class:`LadderDataError` naming the source, column and value for bad
input; the caller's DataFrame is never modified.
"""

from __future__ import annotations

import difflib
import warnings

import numpy as np
import pandas as pd

from ..errors import LadderDataError
from .tasks import TASKS, known_tasks

__all__ = [
    "LadderDataError",
    "REQUIRED",
    "OPTIONAL_NUMERIC",
    "LOSS_COLUMNS",
    "validate",
    "check_model_columns",
    "available_feature",
]


REQUIRED: tuple[str, ...] = ("run", "size", "N", "D", "step", "task", "accuracy")
OPTIONAL_NUMERIC: tuple[str, ...] = (
    "task_loss",
    "multiplier",
    "replicate",
    "flops",
    "n_items",
    "chance",
    "c4_loss",
    "task_ce",
    "lambada_loss",
)
#: Columns that must be strictly positive when present.
POSITIVE: tuple[str, ...] = ("N", "D", "task_loss", "flops", "n_items", "c4_loss", "task_ce", "lambada_loss")
#: Columns usable as the intermediate feature of step 2.
LOSS_COLUMNS: tuple[str, ...] = ("task_loss", "c4_loss", "task_ce", "lambada_loss")
#: Columns that must take one value per run.
PER_RUN: tuple[str, ...] = ("size", "N", "multiplier", "replicate")


def _fail(source: str, msg: str) -> None:
    raise LadderDataError(f"{source}: {msg}")


def _plain(value: object) -> object:
    """A numpy scalar as the Python value, so messages read ``1.5``, not ``np.float64(1.5)``."""
    return value.item() if isinstance(value, np.generic) else value


def _first_bad(df: pd.DataFrame, mask: np.ndarray, col: str) -> str:
    i = int(np.flatnonzero(mask)[0])
    row = {c: _plain(df[c].iloc[i]) for c in ("run", "step", "task", col) if c in df.columns}
    where = f"row {i}"
    if "run" in row:
        where += f" (run {row['run']!r}"
        if "step" in row:
            step = row["step"]
            if isinstance(step, float) and step.is_integer():
                step = int(step)
            where += f", step {step!r}"
        if "task" in row:
            where += f", task {row['task']!r}"
        where += ")"
    return f"{where}: {col}={row[col]!r}; {int(mask.sum())} bad value(s) in all"


def validate(
    data: pd.DataFrame,
    source: str = "data",
    *,
    min_checkpoints: int = 2,
    require: tuple[str, ...] = (),
    check_plausibility: bool | None = None,
) -> pd.DataFrame:
    """Check a tidy ladder table and return a clean, sorted copy.

    Parameters
    ----------
    data : DataFrame in the schema above.
    source : name used in error messages (a file path, say).
    min_checkpoints : a run needs at least this many checkpoints.
    require : extra columns that must be present (e.g. the intermediate feature).
    check_plausibility : run :mod:`ladderfit.data.plausibility`'s checks of units and values
        (N in millions, accuracy below chance, ...). ``None``: yes, unless inside
        :func:`~ladderfit.data.plausibility.plausibility_check_off` or ``data`` was read with
        ``check_plausibility=False`` (kept in ``attrs["plausibility_check"]``, so a fit of a
        table read that way does not check again).
    """
    df = _columns(data, source, require)
    _as_numbers(df, source)
    _check_ranges(df, source)
    _check_tasks_and_runs(df, source)
    _check_tokens(df, source)
    _check_sizes(df, source)
    _check_accuracy_varies(df, source)
    _check_checkpoints(df, source, min_checkpoints)
    out = df.sort_values(["run", "task", "step"], kind="stable").reset_index(drop=True)
    from . import plausibility  # here: plausibility needs targets, which imports bundled, which imports this module

    if plausibility.plausibility_wanted(data, check_plausibility):
        plausibility.check_plausibility(out, source)
        out.attrs.pop("plausibility_check", None)
    else:
        out.attrs["plausibility_check"] = False
    return out


def _columns(data: pd.DataFrame, source: str, require: tuple[str, ...]) -> pd.DataFrame:
    """A copy with string column names, each once, the required ones present, run/size/task as strings."""
    if not isinstance(data, pd.DataFrame):
        _fail(source, f"expected a pandas DataFrame, got {type(data).__name__}")
    if len(data) == 0:
        _fail(source, "the table is empty; expected one row per (run, checkpoint, task)")
    df = data.copy()
    df.columns = [str(c) for c in df.columns]
    dup_cols = sorted({c for c in df.columns if list(df.columns).count(c) > 1})
    if dup_cols:
        _fail(source, f"duplicated column name(s) {dup_cols}; expected each column once")

    for col in REQUIRED + tuple(require):
        if col not in df.columns:
            close = difflib.get_close_matches(col, df.columns, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            _fail(
                source,
                f"missing required column {col!r}{hint} (columns found: {', '.join(df.columns)})",
            )

    for col in ("run", "size", "task"):
        if df[col].isna().any():
            _fail(source, f"column {col!r} has missing values: {_first_bad(df, df[col].isna().to_numpy(), col)}")
        df[col] = df[col].astype(str)
    return df


def _as_numbers(df: pd.DataFrame, source: str) -> None:
    """The numeric columns as finite floats, in place (no booleans, no text)."""
    numeric = [c for c in ("N", "D", "step", "accuracy") + OPTIONAL_NUMERIC if c in df.columns]
    for col in numeric:
        is_bool = pd.api.types.is_bool_dtype(df[col]) or (
            df[col].dtype == object and df[col].map(lambda v: isinstance(v, (bool, np.bool_))).any()
        )
        if is_bool:
            _fail(source, f"column {col!r} holds True/False values; expected numbers "
                          f"({'a fraction in [0, 1]' if col == 'accuracy' else 'not booleans'})")
        converted = pd.to_numeric(df[col], errors="coerce")
        bad = converted.isna().to_numpy() & df[col].notna().to_numpy()
        if bad.any():
            _fail(source, f"column {col!r} must be numeric; {_first_bad(df, bad, col)}")
        values = converted.to_numpy(dtype=float)
        nonfinite = ~np.isfinite(values)
        if nonfinite.any():
            df[col] = values
            _fail(source, f"column {col!r} must be finite (no NaN or inf); {_first_bad(df, nonfinite, col)}")
        df[col] = values


def _check_ranges(df: pd.DataFrame, source: str) -> None:
    """Accuracy in [0, 1], chance in [0, 1), positive columns > 0, steps non-negative integers (cast, in place)."""
    acc = df["accuracy"].to_numpy()
    out = (acc < 0) | (acc > 1)
    if out.any():
        _fail(source, f"column 'accuracy' must lie in [0, 1] (a fraction, not percent); {_first_bad(df, out, 'accuracy')}")
    if "chance" in df.columns:
        ch = df["chance"].to_numpy()
        out = (ch < 0) | (ch >= 1)
        if out.any():
            _fail(source, f"column 'chance' must lie in [0, 1); {_first_bad(df, out, 'chance')}")
    for col in POSITIVE:
        if col in df.columns:
            nonpos = df[col].to_numpy() <= 0
            if nonpos.any():
                _fail(source, f"column {col!r} must be > 0; {_first_bad(df, nonpos, col)}")
    steps = df["step"].to_numpy()
    if (steps < 0).any() or (steps != np.round(steps)).any():
        bad = (steps < 0) | (steps != np.round(steps))
        _fail(source, f"column 'step' must hold non-negative integers; {_first_bad(df, bad, 'step')}")
    df["step"] = df["step"].astype(np.int64)
    if "replicate" in df.columns:
        df["replicate"] = df["replicate"].astype(np.int64)


def _check_tasks_and_runs(df: pd.DataFrame, source: str) -> None:
    """Known tasks (or a chance column), one row per (run, step, task), per-run columns constant per run."""
    if "chance" not in df.columns:
        unknown = sorted(set(df["task"].unique()) - set(TASKS))
        if unknown:
            _fail(
                source,
                f"unknown task name(s) {unknown} in column 'task'; expected one of "
                f"{', '.join(known_tasks())}, or add a 'chance' column giving each task's chance accuracy",
            )

    dup = df.duplicated(["run", "step", "task"], keep=False).to_numpy()
    if dup.any():
        _fail(source, f"duplicate (run, step, task) rows; expected one row each: {_first_bad(df, dup, 'task')}")

    per_run = df.groupby("run")[[c for c in PER_RUN if c in df.columns]].nunique()
    for col in per_run.columns:
        if (per_run[col] > 1).any():
            run = per_run.index[per_run[col] > 1][0]
            vals = sorted(df.loc[df["run"] == run, col].unique().tolist())
            _fail(source, f"column {col!r} must take one value per run; run {run!r} has {vals[:5]}")


def _check_checkpoints(df: pd.DataFrame, source: str, min_checkpoints: int) -> None:
    """Each (run, task) has at least ``min_checkpoints`` checkpoints."""
    counts = df.groupby(["run", "task"])["step"].nunique()
    few = counts[counts < min_checkpoints]
    if len(few):
        (run, task), n = few.index[0], int(few.iloc[0])
        _fail(
            source,
            f"run {run!r} (task {task!r}) has {n} checkpoint(s); expected at least {min_checkpoints} per run",
        )


def _check_tokens(df: pd.DataFrame, source: str) -> None:
    """D is one value per checkpoint and rises with the step within each run."""
    per_ckpt = df.groupby(["run", "step"])["D"].nunique()
    if (per_ckpt > 1).any():
        run, step = per_ckpt.index[per_ckpt > 1][0]
        vals = sorted(df.loc[(df["run"] == run) & (df["step"] == step), "D"].unique().tolist())
        _fail(source, f"column 'D' must take one value per checkpoint; run {run!r} step {int(step)} has {vals[:4]}")
    ck = df.drop_duplicates(["run", "step"]).sort_values(["run", "step"], kind="stable")
    for kind, bad_step in (("fall", lambda d: d < 0), ("stay", lambda d: d == 0)):
        bad = ck.groupby("run", sort=True)["D"].apply(lambda d: bool(bad_step(np.diff(d.to_numpy())).any()))
        if not bad.any():
            continue
        run = bad.index[bad][0]
        r = ck[ck["run"] == run]
        d, st = r["D"].to_numpy(), r["step"].to_numpy()
        i = int(np.flatnonzero(bad_step(np.diff(d)))[0])
        where = (f"run {run!r} has D={_plain(d[i]):.6g} at step {int(st[i])} but D={_plain(d[i + 1]):.6g} "
                 f"at step {int(st[i + 1])}")
        if kind == "fall":
            _fail(source, f"column 'D' must rise with the step within a run (tokens seen so far); {where}")
        warnings.warn(
            f"{source}: column 'D' does not rise with the step in {int(bad.sum())} run(s): {where}; "
            "D should be the tokens seen so far, not the run's total (constant D makes the checkpoints "
            "of a run look equally trained)",
            UserWarning,
            stacklevel=4,
        )


def _check_sizes(df: pd.DataFrame, source: str) -> None:
    """Different size labels need different N; a ladder of one length per size is flagged."""
    per_size = df.groupby("size")["N"].first()
    if len(per_size) >= 2 and per_size.nunique() == 1:
        _fail(
            source,
            f"the {len(per_size)} size labels {sorted(per_size.index)[:6]} all have the same N = "
            f"{_plain(per_size.iloc[0]):.6g}; expected each size's own parameter count in column 'N' "
            "(a fit needs at least 2 distinct N)",
        )
    shared = per_size[per_size.duplicated(keep=False)]
    if len(shared):
        warnings.warn(
            f"{source}: size labels {sorted(shared.index)} share N = {_plain(shared.iloc[0]):.6g}; "
            "the fit uses N, not the labels",
            UserWarning,
            stacklevel=3,
        )
    lengths = df.groupby(["size", "run"])["D"].max().groupby("size").nunique()
    if len(lengths) >= 2 and (lengths == 1).all():
        warnings.warn(
            f"{source}: each model size has a single training length (one final D per size), so a fit "
            "cannot separate the D term from N: its D exponent and coefficient are then prior-only; "
            "add runs of several lengths per size to identify them",
            UserWarning,
            stacklevel=3,
        )


def _check_accuracy_varies(df: pd.DataFrame, source: str) -> None:
    """A task stuck at 0 or 1 everywhere has nothing to fit (its logit is infinite)."""
    acc = df.groupby("task").agg(min=("accuracy", "min"), max=("accuracy", "max"), runs=("run", "nunique"))
    # a single run is no ladder (a fit needs several): such a table is only read, not fitted
    stuck = acc[(acc["min"] == acc["max"]) & acc["min"].isin([0.0, 1.0]) & (acc["runs"] >= 2)]
    if len(stuck):
        task, value = stuck.index[0], _plain(stuck["min"].iloc[0])
        _fail(
            source,
            f"task {task!r} has accuracy {value:g} in every row; expected accuracies that vary "
            "(a task at 0 or 1 everywhere cannot be fitted): drop the task or fix its column",
        )


def available_feature(df: pd.DataFrame, feature: str) -> str:
    """The intermediate feature to fit: ``feature``, or, when it is the default ``task_loss`` and
    the table has none but exactly one other loss column (Pythia's ``lambada_loss``), that one."""
    features = [c for c in LOSS_COLUMNS if c in df.columns]
    if feature == "task_loss" and feature not in df.columns and len(features) == 1:
        return features[0]
    return feature


def check_model_columns(df: pd.DataFrame, structure: str, feature: str, source: str = "data") -> None:
    """Say, before any fit, whether the table has the columns a model structure reads (model
    names are the same in Python, ``model=...``, and on the command line, ``--model ...``).
    The compute structure takes training FLOPs from a ``flops`` column, else 6 N D; a missing
    ``task_loss`` is replaced by the table's only loss column (:func:`available_feature`)."""
    features = [c for c in LOSS_COLUMNS if c in df.columns]
    feature = available_feature(df, feature)
    if structure != "single_step" and feature not in df.columns:
        have = f"the feature column(s) it has: {', '.join(features)}" if features else "it has no loss column"
        alt = f" (e.g. model '{structure}/{features[0]}')" if features else ""
        _fail(
            source,
            f"model {structure!r} needs the intermediate feature column {feature!r}, which the data lacks; "
            f"{have}: name another feature{alt}, or fit accuracy straight from (N, D) with model 'single_step'",
        )
