"""Readers that turn ladder logs into the tidy table of :mod:`ladderfit.data.schema`.

* :func:`read_olmo_csv` — OLMo / W&B wide CSV logs, one file per run (``{SIZE}-{LENGTH}.csv``).
* :func:`read_tidy` — a tidy CSV file or DataFrame a user already has.
* :func:`read_lm_eval` — lm-evaluation-harness results JSON (see :mod:`ladderfit.data.lm_eval`).
* :func:`read_data` — picks one of the above from a path.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import LadderDataError
from ..io import check_input
from .csv_files import check_csv_header, read_csv_file  # noqa: F401  (re-exported)
from .schema import validate

__all__ = [
    "OLMO_SIZES",
    "MMLU_CATEGORIES",
    "read_olmo_csv",
    "read_tidy",
    "read_data",
    "read_lm_eval",
    "check_csv_header",
    "read_csv_file",
    "check_whole_numbers",
]

#: OLMo ladder model sizes: non-embedding parameters N, tokens per batch, training FLOPs per token.
OLMO_SIZES: dict[str, dict[str, float]] = {
    "190M": {"N": 190_354_176, "batch_tokens": 524_288, "flops_per_token": 1_903_391_232},
    "370M": {"N": 371_262_464, "batch_tokens": 786_432, "flops_per_token": 3_443_922_944},
    "760M": {"N": 758_220_288, "batch_tokens": 1_310_720, "flops_per_token": 6_373_843_968},
    "1B": {"N": 1_279_395_840, "batch_tokens": 1_572_864, "flops_per_token": 10_109_071_360},
}

#: MMLU test categories and their item counts; MMLU is their item-weighted mean.
MMLU_CATEGORIES: dict[str, int] = {
    "stem": 3018,
    "humanities": 4705,
    "social_sciences": 3077,
    "other": 3242,
}

# task -> (split, accuracy metric suffix)
_OLMO_TASKS: dict[str, tuple[str, str]] = {
    "hellaswag": ("val", "len_norm"),
    "arc_challenge": ("test", "len_norm"),
    "arc_easy": ("test", "len_norm"),
    "piqa": ("val", "len_norm"),
    "csqa": ("val", "len_norm"),
    "socialiqa": ("val", "len_norm"),
    "openbookqa": ("test", "len_norm"),
    "winogrande": ("val", "len_norm"),
    "boolq": ("val", "acc"),
}

_RUN_NAME = re.compile(r"^(?P<size>[0-9.]+[MB])-(?P<mult>[0-9.]+)xC(?P<rerun>-rerun)?$")


def _olmo_columns(task: str, split: str, metric: str) -> dict[str, str]:
    stem = f"{task}_{split}_rc_5shot"
    return {
        "task_loss": f"eval/downstream_bpb/{stem}_bpb",
        "accuracy": f"eval/downstream/{stem}_{metric}",
        "task_ce": f"eval/downstream_soft_log/{stem}_soft_log",
    }


def _need(frame: pd.DataFrame, cols: Iterable[str], source: str) -> None:
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise LadderDataError(f"{source}: missing column(s) {missing}; expected an OLMo ladder log (see ladderfit.data.readers)")


def _read_one_olmo(path: Path, sizes: Mapping[str, Mapping[str, float]]) -> pd.DataFrame:
    source = str(path)
    m = _RUN_NAME.match(path.stem)
    if not m:
        raise LadderDataError(
            f"{source}: file name {path.name!r} does not match '{{SIZE}}-{{MULT}}xC[-rerun].csv' (e.g. '760M-5xC.csv')"
        )
    size = m["size"]
    if size not in sizes:
        raise LadderDataError(
            f"{source}: model size {size!r} has no parameter count; known sizes {sorted(sizes)} "
            "(pass sizes={'SIZE': {'N': ...}} to read_olmo_csv)"
        )
    raw = _read_olmo_log(path)
    base = _olmo_checkpoints(raw, path, m, sizes[size])
    tasks = _olmo_task_rows(raw, base, source)
    out = pd.concat([_olmo_mmlu_rows(raw, base, source), *tasks], ignore_index=True)  # MMLU's rows first
    from .tasks import TASKS

    out["n_items"] = out["task"].map(lambda t: TASKS[t].n_items).astype(float)
    return out


def _read_olmo_log(path: Path) -> pd.DataFrame:
    """One OLMo log as read, with rows and a ``_step`` column."""
    source = str(path)
    try:
        raw = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise LadderDataError(f"{source}: the file is empty; expected an OLMo ladder CSV log") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise LadderDataError(f"{source}: not a readable CSV file ({err})") from None
    if len(raw) == 0:
        raise LadderDataError(f"{source}: the file has a header but no rows; expected one row per checkpoint")
    _need(raw, ["_step"], source)
    return raw


def _olmo_checkpoints(raw: pd.DataFrame, path: Path, m: re.Match, info: Mapping[str, float]) -> pd.DataFrame:
    """A row per checkpoint of a log: run, size, multiplier, replicate, N, D, step, flops, c4_loss."""
    step = raw["_step"]
    if "throughput/total_tokens" in raw.columns:
        tokens = raw["throughput/total_tokens"]
    elif "batch_size_in_tokens" in raw.columns:
        tokens = raw["_step"] * raw["batch_size_in_tokens"]
    elif "batch_tokens" in info:
        tokens = raw["_step"] * info["batch_tokens"]
    else:
        raise LadderDataError(f"{path}: no 'throughput/total_tokens' or 'batch_size_in_tokens' column to give D")

    base = pd.DataFrame(
        {
            "run": path.stem,
            "size": m["size"],
            "multiplier": float(m["mult"]),
            "replicate": int(bool(m["rerun"])),
            "N": float(info["N"]),
            "D": pd.to_numeric(tokens, errors="coerce").astype(float),
            "step": step,
        }
    )
    if "throughput/total_training_Gflops" in raw.columns:
        base["flops"] = pd.to_numeric(raw["throughput/total_training_Gflops"], errors="coerce") * 1e9
    elif "flops_per_token" in info:
        base["flops"] = base["D"] * info["flops_per_token"]
    if "eval/c4_en-validation/CrossEntropyLoss" in raw.columns:
        base["c4_loss"] = raw["eval/c4_en-validation/CrossEntropyLoss"]
    return base


def _olmo_task_rows(raw: pd.DataFrame, base: pd.DataFrame, source: str) -> list[pd.DataFrame]:
    """The checkpoints' rows of each task of :data:`_OLMO_TASKS` (but MMLU)."""
    frames = []
    for task, (split, metric) in _OLMO_TASKS.items():
        cols = _olmo_columns(task, split, metric)
        _need(raw, [cols["task_loss"], cols["accuracy"]], source)
        part = base.copy()
        part["task"] = task
        part["task_loss"] = raw[cols["task_loss"]]
        part["accuracy"] = raw[cols["accuracy"]]
        if cols["task_ce"] in raw.columns:
            part["task_ce"] = -pd.to_numeric(raw[cols["task_ce"]], errors="coerce")
        frames.append(part)
    return frames


def _olmo_mmlu_rows(raw: pd.DataFrame, base: pd.DataFrame, source: str) -> pd.DataFrame:
    """MMLU's rows: the item-weighted mean of the four test categories."""
    total = sum(MMLU_CATEGORIES.values())
    part = base.copy()
    part["task"] = "mmlu"
    for out, kind in (("task_loss", "bpb"), ("accuracy", "len_norm"), ("task_ce", "soft_log")):
        cols = [_mmlu_column(cat, kind) for cat in MMLU_CATEGORIES]
        if out == "task_ce" and not all(c in raw.columns for c in cols):
            continue
        _need(raw, cols, source)
        vals = sum(pd.to_numeric(raw[c], errors="coerce") * n for c, n in zip(cols, MMLU_CATEGORIES.values()))
        part[out] = vals / total * (-1.0 if out == "task_ce" else 1.0)
    return part


def _mmlu_column(category: str, kind: str) -> str:
    folder = {"bpb": "downstream_bpb", "len_norm": "downstream", "soft_log": "downstream_soft_log"}[kind]
    return f"eval/{folder}/mmlu_{category}_test_rc_5shot_{kind}"


def read_olmo_csv(
    paths: str | Path | Iterable[str | Path],
    *,
    sizes: Mapping[str, Mapping[str, float]] | None = None,
    validate_output: bool = True,
    check_plausibility: bool | None = None,
) -> pd.DataFrame:
    """Read OLMo ladder logs (wide W&B CSVs) into the tidy table.

    Parameters
    ----------
    paths : a folder of ``{SIZE}-{MULT}xC[-rerun].csv`` files, one such file, or a list of them.
    sizes : size label -> ``{"N": ..., "batch_tokens": ..., "flops_per_token": ...}``;
        defaults to :data:`OLMO_SIZES`. ``N`` is required, the rest are fall-backs.

    The ten tasks are read with the paper's metrics: task bits-per-byte and length-normalized
    accuracy (BoolQ: plain accuracy). MMLU is the item-weighted mean of its four test
    categories; D is ``throughput/total_tokens`` (else step x batch size).
    """
    sizes = {**OLMO_SIZES, **(sizes or {})}
    if isinstance(paths, (str, Path)):
        p = Path(paths)
        if p.is_dir():
            files = sorted(p.glob("*.csv"))
            if not files:
                raise LadderDataError(f"{p}: folder holds no .csv files; expected OLMo ladder logs")
        elif p.exists():
            files = [p]
        else:
            raise LadderDataError(f"{p}: no such file or folder")
    else:
        files = [Path(f) for f in paths]
        if not files:
            raise LadderDataError("read_olmo_csv: no files given")
    for f in files:
        check_input(f, "an OLMo ladder CSV log", text=True)
    df = pd.concat([_read_one_olmo(f, sizes) for f in files], ignore_index=True)
    if validate_output:
        df = validate(df, source=str(paths) if isinstance(paths, (str, Path)) else "OLMo logs",
                      check_plausibility=check_plausibility)
    return df


def _min_checkpoints(df: pd.DataFrame) -> int:
    """1 for a final-only ladder (several runs, each evaluated once), else 2 per run."""
    if not isinstance(df, pd.DataFrame) or "run" not in df.columns or "step" not in df.columns or len(df) == 0:
        return 2
    steps = df.groupby("run", dropna=False)["step"].nunique(dropna=False)
    return 1 if len(steps) >= 2 and (steps == 1).all() else 2


def read_tidy(
    data: str | Path | pd.DataFrame, *, source: str | None = None, check_plausibility: bool | None = None
) -> pd.DataFrame:
    """Read a tidy table (CSV path, compressed CSV, or DataFrame) and validate it.

    Each run needs at least two checkpoints, except in a final-only ladder (two or more runs,
    each evaluated once, as :func:`ladderfit.read_results_table` reads a table without steps).
    ``check_plausibility=False`` skips the checks of units and values (see
    :mod:`ladderfit.data.plausibility`) here and in any fit of the table returned.
    """
    if isinstance(data, pd.DataFrame):
        check_whole_numbers(data, source or "DataFrame")
        return validate(data, source=source or "DataFrame", min_checkpoints=_min_checkpoints(data),
                        check_plausibility=check_plausibility)
    path = Path(data)
    df = read_csv_file(path, "a tidy CSV file", "a tidy CSV with columns run, size, N, D, step, task, accuracy, task_loss")
    check_whole_numbers(df, source or str(path))
    return validate(df, source=source or str(path), min_checkpoints=_min_checkpoints(df),
                    check_plausibility=check_plausibility)


#: Above 2**53 a float no longer holds every whole number: a step beyond it is no step count.
_MAX_WHOLE = 2**53


def check_whole_numbers(df: pd.DataFrame, source: str) -> None:
    """Columns ``step`` and ``replicate`` hold whole numbers from 0 to 2**53, read as such: a
    replicate of 0.5 is not truncated to 0, nor a step of 1e20 wrapped to a negative number.
    Values that are not numbers at all are left to :func:`~ladderfit.data.schema.validate`."""
    for col in ("step", "replicate"):
        if col not in df.columns or pd.api.types.is_bool_dtype(df[col]):
            continue
        values = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float)
        with np.errstate(invalid="ignore"):
            bad = np.isfinite(values) & ((values < 0) | (values != np.round(values)) | (values >= _MAX_WHOLE))
        bad |= np.isinf(values)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            run = f"run {df['run'].iloc[i]!r}, " if "run" in df.columns else ""
            what = "training steps" if col == "step" else "the seed rerun's index"
            value = df[col].iloc[i]
            value = value.item() if isinstance(value, np.generic) else value
            raise LadderDataError(
                f"{source}: column {col!r} must hold whole numbers from 0 to 2**53 ({what}); row {i} "
                f"({run}{col}={value!r}) is not; {int(bad.sum())} bad value(s) in all"
            )


def _looks_like_olmo(path: Path) -> bool:
    try:
        header = pd.read_csv(path, nrows=0).columns
    except Exception:
        return False
    return "_step" in header


BUNDLED_PREFIX = "bundled:"


def _bundled(name: str) -> pd.DataFrame:
    import warnings

    from .bundled import load_olmo_ladder, load_pythia_ladder

    loaders = {"olmo": load_olmo_ladder, "pythia": load_pythia_ladder}
    if name not in loaders:
        raise LadderDataError(f"no bundled ladder {name!r}; expected one of {', '.join(BUNDLED_PREFIX + k for k in loaders)}")
    with warnings.catch_warnings():  # the reader's own checks warn again where the data are used
        warnings.simplefilter("ignore", UserWarning)
        return loaders[name]()


def _results_table_hint(path: Path) -> None:
    """A CSV that is not tidy but reads as a per-run results table: say which reader takes it."""
    try:
        header = [str(c) for c in pd.read_csv(path, nrows=0).columns]
    except Exception:
        return  # read_tidy reports unreadable files
    from .schema import REQUIRED

    missing = [c for c in REQUIRED if c not in header]
    if not missing:
        return
    from .results_table import looks_like_results_table

    kind = looks_like_results_table(header)
    if kind is not None:
        raise LadderDataError(
            f"{path}: missing required column(s) {missing} of a tidy table, but it reads as a {kind} results "
            f"table (one row per run): read it with ladderfit.read_results_table(path, N=..., D=...) or "
            f"'ladderfit data summary --data {path} --form {kind}'"
        )


def read_data(
    path: str | Path | pd.DataFrame | None = None, *, form: str | None = None, check_plausibility: bool | None = None
) -> pd.DataFrame:
    """Load ladder data from wherever it is.

    ``None`` gives the bundled OLMo ladder; ``"bundled:olmo"`` and ``"bundled:pythia"`` name
    the bundled ladders; a DataFrame or tidy CSV is validated; a folder of OLMo logs (or one
    log) is read with :func:`read_olmo_csv`.

    ``form`` (``"auto"``, ``"wide"`` or ``"long"``) reads a per-run results table with
    :func:`ladderfit.read_results_table` (N and D from its columns). Without ``form`` a results
    table is never guessed: a CSV that is not tidy but reads as one fails with a message naming
    that reader. ``check_plausibility=False`` skips the checks of units and values (see
    :mod:`ladderfit.data.plausibility`; the bundled ladders pass them).
    """
    if form is not None:
        from .results_table import read_results_table

        if path is None or (isinstance(path, str) and path.startswith(BUNDLED_PREFIX)):
            raise LadderDataError(f"form={form!r} reads a results-table CSV file; give its path")
        return read_results_table(path, form=form, check_plausibility=check_plausibility)
    if path is None:
        from .bundled import load_olmo_ladder

        return load_olmo_ladder()
    if isinstance(path, str) and path.startswith(BUNDLED_PREFIX):
        return _bundled(path[len(BUNDLED_PREFIX):])
    if isinstance(path, pd.DataFrame):
        return read_tidy(path, check_plausibility=check_plausibility)
    p = check_input(path, "ladder data: a tidy CSV, an OLMo log or a folder of them", folder_ok=True, text=True)
    if p.is_dir():
        if any(p.glob("*.json")) or any(p.glob("*/*.json")):
            raise LadderDataError(
                f"{p}: holds lm-evaluation-harness JSON; read it with ladderfit.read_lm_eval(...) "
                "giving N and D, and save it as a tidy CSV"
            )
        return read_olmo_csv(p, check_plausibility=check_plausibility)
    if p.suffix == ".json":
        raise LadderDataError(f"{p}: lm-evaluation-harness JSON needs N and D; use ladderfit.read_lm_eval(...)")
    if _looks_like_olmo(p):
        return read_olmo_csv(p, check_plausibility=check_plausibility)
    if p.is_file():
        _results_table_hint(p)
    return read_tidy(p, check_plausibility=check_plausibility)


from .lm_eval import read_lm_eval  # noqa: E402  (re-exported; lm_eval does not import readers)
