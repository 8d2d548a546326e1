"""Read a per-run results table (a spreadsheet or tracker export) into the tidy ladder table.

Two forms are read (``form="auto"`` picks one from the header):

**wide**: one row per run, or per (run, step) when there is a step column, and a column per
task's accuracy::

    run,params,tokens,hellaswag,hellaswag_bpb,arc_easy_acc,arc_easy_bpb,notes
    150M-1x,151e6,3.0e9,0.31,1.21,0.48,1.05,first try

**long**: one row per (run, task) or (run, step, task)::

    run,task,accuracy,bpb,N,D

Header names match case-insensitively, with spaces, ``-``, ``.`` and ``/`` read as ``_``.
The accepted names (:data:`ALIASES`):

============= ===================================================================================
column        accepted names
============= ===================================================================================
run           ``run_column`` (default ``run``), else run_name, name, model, model_name
step          ``step_column``, else step, _step, global_step, checkpoint_step, iteration, iter
N             n, params, n_params, num_params, parameters, param_count, non_embedding_params
D             d, tokens, n_tokens, num_tokens, train_tokens, training_tokens, tokens_seen
size          size, model_size (default: N written short, e.g. ``151M``)
flops         flops, train_flops, training_flops, compute
multiplier    multiplier, chinchilla_multiplier
replicate     replicate
c4_loss       c4_loss, c4_en_loss (per checkpoint, shared by the tasks)
lambada_loss  lambada_loss (per checkpoint)
task (long)   task, task_name, benchmark
accuracy      long: accuracy, acc, score; wide: ``TASK``, ``TASK_acc``, ``TASK_accuracy``
              (``metric="acc_norm"``: ``TASK_acc_norm``, ``TASK_len_norm``, falling back to acc)
task_loss     long: task_loss, loss, bpb; wide: ``TASK_bpb``, ``TASK_loss``, ``TASK_task_loss``
              (read as given: the schema wants bits per byte of the correct answer)
task_ce       ``TASK_ce`` / long: task_ce
n_items       ``TASK_n_items`` / long: n_items
============= ===================================================================================

In the wide form a task column is one whose name (less a suffix above) is a task of the
registry (:data:`ladderfit.data.tasks.TASKS`) or a name given in ``tasks=``. Every column
that is not used is listed in ``attrs["unused_columns"]``; ``attrs["notes"]`` says where N
and D came from, which tasks have no loss column, and whether the ladder is final-only.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import LadderDataError
from .csv_files import read_csv_file
from .schema import validate
from .tasks import TASKS

__all__ = ["read_results_table", "ALIASES", "ACC_SUFFIXES", "LOSS_SUFFIXES", "looks_like_results_table"]

#: Schema column -> accepted header names (after :func:`_norm`), in order of preference.
ALIASES: dict[str, tuple[str, ...]] = {
    "run": ("run", "run_name", "name", "model", "model_name"),
    "step": ("step", "_step", "global_step", "checkpoint_step", "iteration", "iter"),
    "N": ("n", "params", "n_params", "num_params", "parameters", "param_count", "non_embedding_params"),
    "D": ("d", "tokens", "n_tokens", "num_tokens", "train_tokens", "training_tokens", "tokens_seen"),
    "size": ("size", "model_size"),
    "flops": ("flops", "train_flops", "training_flops", "compute"),
    "multiplier": ("multiplier", "chinchilla_multiplier"),
    "replicate": ("replicate",),
    "c4_loss": ("c4_loss", "c4_en_loss"),
    "lambada_loss": ("lambada_loss",),
}
#: Long form only: the task, its accuracy and its per-task columns.
LONG_ALIASES: dict[str, tuple[str, ...]] = {
    "task": ("task", "task_name", "benchmark"),
    "accuracy": ("accuracy", "acc", "score"),
    "task_loss": ("task_loss", "loss", "bpb"),
    "task_ce": ("task_ce",),
    "n_items": ("n_items",),
    "chance": ("chance",),
}
#: Wide form: suffixes of a task's accuracy column by metric, in order of preference.
ACC_SUFFIXES: dict[str, tuple[str, ...]] = {
    "acc": ("", "_acc", "_accuracy"),
    "acc_norm": ("_acc_norm", "_len_norm"),
}
#: Wide form: suffixes of a task's per-task columns, in order of preference.
LOSS_SUFFIXES: dict[str, tuple[str, ...]] = {
    "task_loss": ("_bpb", "_loss", "_task_loss"),
    "task_ce": ("_ce", "_task_ce"),
    "n_items": ("_n_items",),
}

NArg = Mapping[str, float] | Callable[[str], float] | None
DArg = Mapping[str, float | Callable[[int], float]] | Callable[[str, int], float] | None


def _norm(name: object) -> str:
    return re.sub(r"[\s\-./]+", "_", str(name).strip()).lower()


def _short(n: float) -> str:
    """A parameter count written short: ``151M``, ``1.2B``."""
    for unit, scale in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g}{unit}"
    return f"{n:.3g}"


def _find(cols: dict[str, str], names: Iterable[str]) -> str | None:
    """The first original column whose normalized name is one of ``names``."""
    for name in names:
        if name in cols:
            return cols[name]
    return None


def _wide_tasks(cols: dict[str, str], metric: str, wanted: set[str] | None) -> dict[str, dict[str, str]]:
    """Task -> {"accuracy": column, "task_loss": column, ...} of a wide header."""
    names = set(TASKS) if wanted is None else wanted
    out: dict[str, dict[str, str]] = {}
    order = ACC_SUFFIXES[metric] + ACC_SUFFIXES["acc" if metric == "acc_norm" else "acc_norm"]
    for task in sorted(names):
        t = _norm(task)
        acc = _find(cols, [t + s for s in order])
        if acc is None:
            continue
        entry = {"accuracy": acc}
        for col, suffixes in LOSS_SUFFIXES.items():
            found = _find(cols, [t + s for s in suffixes])
            if found is not None:
                entry[col] = found
        out[task] = entry
    return out


def _detect_form(cols: dict[str, str], metric: str, wanted: set[str] | None) -> str | None:
    if _find(cols, LONG_ALIASES["task"]) and _find(cols, LONG_ALIASES["accuracy"]):
        return "long"
    if _wide_tasks(cols, metric, wanted):
        return "wide"
    return None


def looks_like_results_table(columns: Iterable[object]) -> str | None:
    """``"wide"`` or ``"long"`` when a header reads as a results table, else None."""
    return _detect_form({_norm(c): str(c) for c in columns}, "acc", None)


def _numbers(df: pd.DataFrame, col: str, source: str, what: str) -> pd.Series:
    """A column as floats; a non-numeric cell fails naming the column, the run and the value."""
    raw = df[col]
    if pd.api.types.is_bool_dtype(raw):
        raise LadderDataError(f"{source}: column {col!r} holds True/False values; expected {what}")
    values = pd.to_numeric(raw, errors="coerce")
    bad = values.isna() & raw.notna()
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        value = raw.iloc[i]
        hint = ""
        if isinstance(value, str) and value.strip().endswith("%"):
            hint = " (a percent sign: remove it and pass percent=True)"
        raise LadderDataError(
            f"{source}: column {col!r} must be numeric ({what}); run {df['run'].iloc[i]!r} has {value!r}"
            f"{hint}; {int(bad.sum())} non-numeric value(s) in all"
        )
    values = values.astype(float)
    inf = ~np.isfinite(values) & values.notna()
    if inf.any():
        i = int(np.flatnonzero(inf.to_numpy())[0])
        raise LadderDataError(f"{source}: column {col!r} must be finite; run {df['run'].iloc[i]!r} has {values.iloc[i]}")
    return values


def _lookup(arg, run: str, step: int, what: str, source: str) -> float:
    if isinstance(arg, Mapping):
        if run not in arg:
            raise LadderDataError(
                f"{source}: run {run!r} has no {what} (the mapping has {sorted(map(str, arg))[:8]}); "
                f"give its {what}"
            )
        value = arg[run]
        if what == "D" and callable(value):
            value = value(step)
    elif callable(arg):
        value = arg(run) if what == "N" else arg(run, step)
    else:
        raise TypeError(f"{what} must be a mapping or a callable, got {type(arg).__name__}")
    if isinstance(value, bool):
        raise LadderDataError(f"{source}: {what} of run {run!r} is {value!r}; expected a number")
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise LadderDataError(f"{source}: {what} of run {run!r} is {value!r}; expected a number") from None
    if not math.isfinite(out):
        raise LadderDataError(f"{source}: {what} of run {run!r} is {value!r}; expected a finite number")
    return out


def _load(data: str | Path | pd.DataFrame, source: str | None) -> tuple[pd.DataFrame, str]:
    if isinstance(data, pd.DataFrame):
        if len(data.columns) != len({str(c) for c in data.columns}):
            raise LadderDataError(f"{source or 'DataFrame'}: repeated column names; expected each column once")
        return data.copy(), source or "DataFrame"
    path = Path(data)
    return read_csv_file(path, "a results-table CSV file", "a results table with a header row"), source or str(path)


def read_results_table(
    data: str | Path | pd.DataFrame,
    *,
    form: str = "auto",
    N: NArg = None,
    D: DArg = None,
    run_column: str = "run",
    step_column: str | None = None,
    tasks: str | Iterable[str] | None = None,
    metric: str = "acc",
    percent: bool = False,
    chance: Mapping[str, float] | None = None,
    missing_nd: str = "error",
    source: str | None = None,
    check_plausibility: bool | None = None,
) -> pd.DataFrame:
    """Read a per-run results table (CSV path or DataFrame) into the tidy ladder table.

    Parameters
    ----------
    data : CSV file or DataFrame, wide or long (see the module docs for the accepted names).
    form : ``"auto"`` (long when there are task and accuracy columns, else wide when some
        column names a task), ``"wide"`` or ``"long"``.
    N : parameters per run, when the table has no N column: a mapping run -> N or a callable
        ``f(run) -> N``. Given, it is used for every run (an N column is then left unused).
    D : training tokens at a checkpoint, when the table has no D column: a mapping run -> D,
        a mapping run -> callable ``f(step) -> D``, or a callable ``f(run, step) -> D``.
    run_column : the run's column (also matched case-insensitively; if absent, the aliases).
    step_column : the step's column; default: the first of the step aliases. Without a step
        column each run must have one row (per task) and gets ``step = 0``: a final-only
        ladder, one evaluation per run at its final D (each run then needs only that one).
    tasks : tasks to read (wide: names of task columns; long: values of the task column).
        Default: every task of the registry found (wide) or every task (long). A task that is
        not in the registry needs ``chance``.
    metric : wide form: ``"acc"`` or ``"acc_norm"`` columns (the other where a task lacks it).
    percent : accuracies are percent (0-100): divide by 100. Without it, accuracies above 1
        that are at most 100 fail with "looks like percent".
    chance : task -> chance accuracy, for tasks not in the registry (adds a ``chance`` column).
    missing_nd : ``"error"`` (default): a run without N or D fails, naming it; ``"drop"``:
        such runs are left out and listed in ``attrs["runs_without_N_D"]``.
    check_plausibility : ``False`` skips the checks of units and values (N in millions, ...;
        :mod:`ladderfit.data.plausibility`), here and in any fit of the table returned.

    Returns
    -------
    :func:`ladderfit.data.schema.validate`'s table, with ``attrs``: ``unused_columns`` (the
    header names not read), ``notes`` (where N and D came from, tasks without a loss column,
    final-only ladder, percent conversion), ``runs_without_N_D``, ``tasks_without_loss``,
    ``form``.

    Raises
    ------
    LadderDataError
        For a file that is not a results table, a run without N or D (named), a non-numeric
        task column (named, with the run and value), accuracy outside [0, 1] (percent
        detected: "looks like percent; divide by 100"), or anything :func:`validate` rejects.
    """
    wanted = _check_arguments(form, metric, missing_nd, tasks)
    raw, source = _load(data, source)
    if len(raw) == 0:
        raise LadderDataError(f"{source}: the table has a header but no rows; expected one row per run")
    cols = {}
    for c in raw.columns:
        cols.setdefault(_norm(c), str(c))
    raw.columns = [str(c) for c in raw.columns]
    notes: list[str] = []
    used: set[str] = set()
    if form == "auto":
        form = _auto_form(raw, cols, metric, wanted, source)

    base, step_col = _run_and_step(raw, cols, run_column, step_column, source, used)
    found = _checkpoint_columns(raw, cols, base, N, D, source, used, notes)
    if form == "wide":
        long = _wide_to_long(raw, cols, base, metric, wanted, source, used)
    else:
        long = _long_tasks(raw, cols, base, wanted, source, used)
    long = _accuracy_fractions(long, percent, source, notes)
    long = long.drop(columns=[c for c in long.columns if c.startswith("_col_")])
    lacking = _n_d_from_arguments(long, N, D, found, missing_nd, source, notes)
    long = _drop_runs_without_n_d(long, lacking, missing_nd, source, notes)
    long, without_loss = _per_task_columns(long, chance, source, notes)
    single, final_only = _evaluations_per_run(long, step_col, source, notes)

    unused = [str(c) for c in raw.columns if c not in used]
    first = ["run", "size", "N", "D", "step", "task", "accuracy"]
    long = long[first + [c for c in long.columns if c not in first]]
    out = validate(long, source=source, min_checkpoints=1 if final_only else 2, check_plausibility=check_plausibility)
    out.attrs = {
        **out.attrs,  # "plausibility_check": False when skipped
        "form": form,
        "unused_columns": unused,
        "notes": notes,
        "runs_without_N_D": sorted(lacking),
        "tasks_without_loss": without_loss,
        "single_evaluation_runs": single,
        "final_only": final_only,
    }
    return out


# --- arguments and the columns found ----------------------------------------------------------


def _check_arguments(form: str, metric: str, missing_nd: str, tasks: str | Iterable[str] | None) -> set[str] | None:
    """Reject bad arguments (ValueError); the tasks asked for as a set, or None for all found."""
    if form not in ("auto", "wide", "long"):
        raise ValueError(f"form must be 'auto', 'wide' or 'long', got {form!r}")
    if metric not in ACC_SUFFIXES:
        raise ValueError(f"metric must be 'acc' or 'acc_norm', got {metric!r}")
    if missing_nd not in ("error", "drop"):
        raise ValueError(f"missing_nd must be 'error' or 'drop', got {missing_nd!r}")
    wanted = None if tasks is None else ({tasks} if isinstance(tasks, str) else set(tasks))
    if wanted is not None and not wanted:
        raise ValueError("tasks is empty; give task names or None for all tasks found")
    return wanted


def _auto_form(raw: pd.DataFrame, cols: dict[str, str], metric: str, wanted: set[str] | None, source: str) -> str:
    """``form="auto"``: long or wide from the header (wide when tasks are named), else an error."""
    form = _detect_form(cols, metric, wanted) or ("wide" if wanted is not None else None)
    if form is None:
        raise LadderDataError(
            f"{source}: neither a long results table (columns run, task, accuracy) nor a wide one "
            f"(a column per task, e.g. 'hellaswag' or 'hellaswag_acc'; known tasks: "
            f"{', '.join(sorted(TASKS))}; name other task columns with tasks=[...]); columns found: "
            f"{', '.join(map(str, raw.columns))}"
        )
    return form


def _run_and_step(
    raw: pd.DataFrame, cols: dict[str, str], run_column: str, step_column: str | None, source: str, used: set[str]
) -> tuple[pd.DataFrame, str | None]:
    """The frame of each row's run and step (0 without a step column), and the step's column."""
    run_names = (_norm(run_column),) + (ALIASES["run"] if run_column == "run" else ())
    run_col = run_column if run_column in raw.columns else _find(cols, run_names)
    if run_col is None:
        raise LadderDataError(
            f"{source}: no run column {run_column!r} (also accepted: {', '.join(ALIASES['run'])}); "
            f"columns found: {', '.join(raw.columns)}; name it with run_column=..."
        )
    if raw[run_col].isna().any():
        i = int(np.flatnonzero(raw[run_col].isna().to_numpy())[0])
        raise LadderDataError(f"{source}: column {run_col!r} (the run) is empty in row {i}; expected a run name")
    if step_column is not None:
        step_col = _find(cols, (_norm(step_column),))
        if step_col is None:
            raise LadderDataError(f"{source}: no step column {step_column!r}; columns found: {', '.join(raw.columns)}")
    else:
        step_col = _find(cols, ALIASES["step"])
    base = pd.DataFrame({"run": raw[run_col].astype(str).str.strip()}, index=raw.index)
    used.add(run_col)
    if step_col is not None:
        base["step"] = _numbers(raw.assign(run=base["run"]), step_col, source, "a training step")
        used.add(step_col)
    else:
        base["step"] = 0
    return base, step_col


def _checkpoint_columns(
    raw: pd.DataFrame, cols: dict[str, str], base: pd.DataFrame, N: NArg, D: DArg, source: str,
    used: set[str], notes: list[str],
) -> dict[str, str]:
    """Add the per-run and per-checkpoint columns (N, D, size, ...) to ``base``; name -> column read."""
    found: dict[str, str] = {}
    for name in ("N", "D", "size", "flops", "multiplier", "replicate", "c4_loss", "lambada_loss"):
        col = _find(cols, ALIASES[name])
        if col is None or col in used:
            continue
        if name == "N" and N is not None:
            notes.append(f"N from the N argument; column {col!r} not used")
            continue
        if name == "D" and D is not None:
            notes.append(f"D from the D argument; column {col!r} not used")
            continue
        found[name] = col
        used.add(col)
        if name == "size":
            base["size"] = raw[col].astype(str)
        else:
            base[name] = _numbers(raw.assign(run=base["run"]), col, source, name)
    return found


# --- wide and long to one row per (run, step, task) -------------------------------------------


def _wide_to_long(
    raw: pd.DataFrame, cols: dict[str, str], base: pd.DataFrame, metric: str, wanted: set[str] | None,
    source: str, used: set[str],
) -> pd.DataFrame:
    """A wide table's task columns stacked: a row per (run, step, task), ``_col_*`` naming each source column."""
    per_task = _wide_tasks(cols, metric, wanted)
    if wanted is not None and wanted - set(per_task):
        raise LadderDataError(
            f"{source}: no accuracy column for task(s) {sorted(wanted - set(per_task))}; expected a column "
            f"'TASK' or 'TASK_acc'; columns found: {', '.join(raw.columns)}"
        )
    if not per_task:
        raise LadderDataError(
            f"{source}: no task columns; expected a column per task named after it (e.g. 'hellaswag', "
            f"'hellaswag_acc'; known tasks: {', '.join(sorted(TASKS))}, or name yours with tasks=[...]); "
            f"columns found: {', '.join(raw.columns)}"
        )
    frames = []
    for task, entry in per_task.items():
        part = base.copy()
        part["task"] = task
        for out, col in entry.items():
            what = "accuracy" if out == "accuracy" else f"{out} of task {task!r}"
            part[out] = _numbers(raw.assign(run=base["run"]), col, source, what)
            part[f"_col_{out}"] = col
            used.add(col)
        frames.append(part)
    return pd.concat(frames, ignore_index=True)


def _long_tasks(
    raw: pd.DataFrame, cols: dict[str, str], base: pd.DataFrame, wanted: set[str] | None, source: str,
    used: set[str],
) -> pd.DataFrame:
    """A long table's task, accuracy and per-task columns (``_col_*`` naming each), the tasks asked for."""
    task_col = _find(cols, LONG_ALIASES["task"])
    acc_col = _find(cols, LONG_ALIASES["accuracy"])
    if task_col is None or acc_col is None:
        raise LadderDataError(
            f"{source}: a long results table needs a task column ({', '.join(LONG_ALIASES['task'])}) and an "
            f"accuracy column ({', '.join(LONG_ALIASES['accuracy'])}); columns found: {', '.join(raw.columns)}"
        )
    long = base.copy()
    long["task"] = raw[task_col].astype(str).str.strip()
    used |= {task_col}
    for out, names in LONG_ALIASES.items():
        if out == "task":
            continue
        col = _find(cols, names)
        if col is None or col in used:
            continue
        long[out] = _numbers(raw.assign(run=base["run"]), col, source, out)
        long[f"_col_{out}"] = col
        used.add(col)
    if wanted is not None:
        absent = sorted(wanted - set(long["task"]))
        if absent:
            raise LadderDataError(f"{source}: task(s) {absent} not in column {task_col!r}; tasks found: "
                                  f"{sorted(set(long['task']))}")
        long = long[long["task"].isin(wanted)].reset_index(drop=True)
    return long


# --- checks and what each row still needs -----------------------------------------------------


def _accuracy_fractions(long: pd.DataFrame, percent: bool, source: str, notes: list[str]) -> pd.DataFrame:
    """Skip empty accuracy cells; accuracies as fractions (percent divided by 100, percent detected)."""
    # empty accuracy cells: no result for that (run, task)
    empty = long["accuracy"].isna()
    if empty.any():
        notes.append(f"{int(empty.sum())} empty accuracy cell(s) skipped (e.g. run {long['run'][empty].iloc[0]!r}, "
                     f"task {long['task'][empty].iloc[0]!r})")
        long = long[~empty].reset_index(drop=True)
    if len(long) == 0:
        raise LadderDataError(f"{source}: every accuracy cell is empty; expected accuracies in [0, 1]")

    acc = long["accuracy"].to_numpy()
    if percent:
        if (acc <= 1).all():
            raise LadderDataError(f"{source}: percent=True but every accuracy is <= 1 (fractions already); "
                                  "leave percent out")
        long["accuracy"] = acc / 100.0
        notes.append("accuracy given in percent; divided by 100")
    else:
        out = (acc < 0) | (acc > 1)
        if out.any():
            i = int(np.flatnonzero(out)[0])
            col = long["_col_accuracy"].iloc[i]
            where = f"run {long['run'].iloc[i]!r}, task {long['task'].iloc[i]!r}: {acc[i]:g}"
            if (acc >= 0).all() and (acc <= 100).all() and acc.max() > 1:
                raise LadderDataError(
                    f"{source}: column {col!r} has accuracy above 1 ({where}); looks like percent; "
                    "divide by 100 or pass percent=True"
                )
            raise LadderDataError(f"{source}: column {col!r} must lie in [0, 1] (a fraction); {where}")
    return long


def _n_d_from_arguments(
    long: pd.DataFrame, N: NArg, D: DArg, found: dict[str, str], missing_nd: str, source: str, notes: list[str]
) -> dict[str, str]:
    """Fill N and D from the arguments where given; run -> "N" or "D" for runs they lack (``missing_nd="drop"``)."""
    lacking: dict[str, str] = {}
    if N is not None:
        values = {}
        for r in long["run"].unique():
            try:
                values[r] = _lookup(N, r, 0, "N", source)
            except LadderDataError:
                if missing_nd == "error":
                    raise
                lacking[r] = "N"
        long["N"] = long["run"].map(values)
        notes.append("N from the N argument")
    elif "N" in found:
        notes.append(f"N from column {found['N']!r}")
    if D is not None:
        values = {}
        for r, s in long[["run", "step"]].drop_duplicates().itertuples(index=False):
            try:
                values[(r, s)] = _lookup(D, r, int(s), "D", source)
            except LadderDataError:
                if missing_nd == "error":
                    raise
                lacking.setdefault(r, "D")
        long["D"] = [values.get((r, s), np.nan) for r, s in zip(long["run"], long["step"])]
        notes.append("D from the D argument")
    elif "D" in found:
        notes.append(f"D from column {found['D']!r}")
    return lacking


def _drop_runs_without_n_d(
    long: pd.DataFrame, lacking: dict[str, str], missing_nd: str, source: str, notes: list[str]
) -> pd.DataFrame:
    """Fail on a run without N or D (``missing_nd="error"``) or leave it out (adding it to ``lacking``); add size."""
    for name, arg in (("N", "N"), ("D", "D")):
        if name not in long.columns:  # for no run at all: nothing to drop
            raise LadderDataError(
                f"{source}: no {name} for the runs; expected a column {name!r} (also accepted: "
                f"{', '.join(ALIASES[name])}) or the {arg}= argument (a mapping run -> {name} or a callable)"
            )
        gaps = long["N" if name == "N" else "D"].isna()
        if gaps.any():
            runs = sorted(set(long.loc[gaps, "run"]))
            if missing_nd == "error":
                raise LadderDataError(
                    f"{source}: run {runs[0]!r} has no {name}"
                    + (f" (nor {len(runs) - 1} other run(s): {runs[1:6]})" if len(runs) > 1 else "")
                    + f"; fill its {name} cell or pass {arg}={{run: value}}"
                )
            for r in runs:
                lacking.setdefault(r, name)
    if lacking:
        notes.append(f"{len(lacking)} run(s) without N or D left out: {sorted(lacking)}")
        long = long[~long["run"].isin(lacking)].reset_index(drop=True)
        if len(long) == 0:
            raise LadderDataError(f"{source}: no run has both N and D; expected N and D columns or arguments")
    if "size" not in long.columns:
        long["size"] = long["N"].map(_short)
    return long


def _per_task_columns(
    long: pd.DataFrame, chance: Mapping[str, float] | None, source: str, notes: list[str]
) -> tuple[pd.DataFrame, list[str]]:
    """Drop per-task columns some tasks lack (task_loss, task_ce, n_items); add chance; the tasks without loss."""
    loss_tasks = set()
    if "task_loss" in long.columns:
        loss_tasks = set(long.loc[long["task_loss"].notna(), "task"])
    tasks_found = sorted(set(long["task"]))
    without_loss = [t for t in tasks_found if t not in loss_tasks]
    if without_loss:
        if loss_tasks:
            notes.append(
                f"task(s) {without_loss} have no loss column, so task_loss is left out for all tasks; "
                f"read tasks={sorted(loss_tasks)} to keep it, or fit with model 'single_step'"
            )
            long = long.drop(columns=["task_loss"])
        else:
            notes.append("no task loss column (TASK_bpb / TASK_loss): fit with model 'single_step' or another feature")
    for col in ("task_ce", "n_items"):
        if col in long.columns and long[col].isna().any():
            notes.append(f"{col} missing for some tasks; column {col} left out")
            long = long.drop(columns=[col])
    if chance:
        unknown = sorted(set(long["task"]) - set(chance) - set(TASKS))
        if unknown:
            raise LadderDataError(f"{source}: no chance accuracy for task(s) {unknown}; add them to chance=")
        long["chance"] = long["task"].map(lambda t: chance.get(t, TASKS[t].chance if t in TASKS else np.nan))
    return long, without_loss


def _evaluations_per_run(
    long: pd.DataFrame, step_col: str | None, source: str, notes: list[str]
) -> tuple[list[str], bool]:
    """The runs evaluated once and whether all are (final-only); without a step column, one row per task."""
    steps = long.groupby("run")["step"].nunique()
    if step_col is None:
        dup = long.duplicated(["run", "task"], keep=False)
        if dup.any():
            r, t = long.loc[dup, "run"].iloc[0], long.loc[dup, "task"].iloc[0]
            raise LadderDataError(
                f"{source}: run {r!r} has {int(((long['run'] == r) & (long['task'] == t)).sum())} rows for task {t!r} "
                "but there is no step column; expected one row per run, or a step column "
                f"({', '.join(ALIASES['step'])}; or step_column=...)"
            )
        notes.append("final-only ladder: no step column, so each run is one evaluation (step 0) at its final D; "
                     "step 2 then sees one point per run instead of its checkpoints, so the sigmoid is less "
                     "pinned down and predictive intervals are wider")
    single = sorted(steps.index[steps == 1])
    final_only = bool((steps == 1).all())
    if step_col is not None and single:
        notes.append(f"{len(single)} run(s) with one evaluation only: {single[:8]}")
    return single, final_only
