"""Read lm-evaluation-harness results JSON into the tidy table of :mod:`ladderfit.data.schema`.

Both the old (v0.3-era) format, ``results[task]["acc"]`` / ``["acc_stderr"]``, and the v0.4+
format, ``results[task]["acc,none"]`` plus ``n-samples`` / ``configs`` / ``groups``, are read.
The files name neither the parameter count N nor the tokens D of a checkpoint: the user gives
them (see :func:`read_lm_eval`).

MMLU comes as 57 subjects (``hendrycksTest-*`` in the old format, ``mmlu_*`` in the new);
they are combined into one task ``mmlu``, each subject weighted by its item count.
Item counts come from ``n-samples`` when present, else are backed out of the binomial
standard error the harness reports, ``se^2 = p (1 - p) / (n - 1)``, else from the task registry.
"""

from __future__ import annotations

import json
import math
import re
import warnings
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import LadderDataError
from ..io import check_input
from .schema import validate
from .tasks import TASKS

__all__ = ["read_lm_eval", "MMLU_SUBJECTS"]

#: Test-set item counts of the 57 MMLU subjects (sum 14042): the fall-back weights when a
#: file gives neither ``n-samples`` nor a usable standard error.
MMLU_SUBJECTS: dict[str, int] = {
    "abstract_algebra": 100, "anatomy": 135, "astronomy": 152, "business_ethics": 100,
    "clinical_knowledge": 265, "college_biology": 144, "college_chemistry": 100,
    "college_computer_science": 100, "college_mathematics": 100, "college_medicine": 173,
    "college_physics": 102, "computer_security": 100, "conceptual_physics": 235,
    "econometrics": 114, "electrical_engineering": 145, "elementary_mathematics": 378,
    "formal_logic": 126, "global_facts": 100, "high_school_biology": 310,
    "high_school_chemistry": 203, "high_school_computer_science": 100,
    "high_school_european_history": 165, "high_school_geography": 198,
    "high_school_government_and_politics": 193, "high_school_macroeconomics": 390,
    "high_school_mathematics": 270, "high_school_microeconomics": 238,
    "high_school_physics": 151, "high_school_psychology": 545, "high_school_statistics": 216,
    "high_school_us_history": 204, "high_school_world_history": 237, "human_aging": 223,
    "human_sexuality": 131, "international_law": 121, "jurisprudence": 108,
    "logical_fallacies": 163, "machine_learning": 112, "management": 103, "marketing": 234,
    "medical_genetics": 100, "miscellaneous": 783, "moral_disputes": 346,
    "moral_scenarios": 895, "nutrition": 306, "philosophy": 311, "prehistory": 324,
    "professional_accounting": 282, "professional_law": 1534, "professional_medicine": 272,
    "professional_psychology": 612, "public_relations": 110, "security_studies": 245,
    "sociology": 201, "us_foreign_policy": 100, "virology": 166, "world_religions": 171,
}

_MMLU_SUBJECT = re.compile(r"^(?:hendrycksTest-|mmlu_)(?P<subject>.+)$")
# v0.4 category groups; they aggregate subjects and must not be counted again.
_MMLU_GROUPS = {"mmlu_stem", "mmlu_humanities", "mmlu_social_sciences", "mmlu_other"}
_STEP_IN_NAME = re.compile(r"step[_-]?(\d+)", re.IGNORECASE)
_SIZE_TOKEN = re.compile(r"^\d+(?:\.\d+)?[kKmMbBtT]$")

RunArg = str | Callable[[Path, dict], str] | None
NParams = Mapping[str, float] | Callable[[str], float]
Tokens = Mapping[str, float | Callable[[int], float]] | Callable[[str, int], float]


# ----------------------------------------------------------------------------- files


def _list_files(paths: str | Path | Iterable[str | Path]) -> list[Path]:
    expected = "lm-evaluation-harness results (a JSON file or a folder of them)"
    if isinstance(paths, (str, Path)):
        p = check_input(paths, expected, folder_ok=True)
        if p.is_dir():
            files = sorted(f for f in p.glob("**/*.json") if f.is_file())
            if not files:
                raise LadderDataError(f"{p}: folder holds no .json files; expected lm-evaluation-harness results")
            return files
        return [p]
    files = [Path(f) for f in paths]
    if not files:
        raise LadderDataError("read_lm_eval: no files given")
    return [check_input(f, expected, text=True) for f in files]


def _load(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise LadderDataError(f"{path}: not a text file; expected lm-evaluation-harness results JSON") from None
    if not text.strip():
        raise LadderDataError(f"{path}: the file is empty; expected lm-evaluation-harness results JSON")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        raise LadderDataError(f"{path}: malformed JSON ({err}); expected lm-evaluation-harness results") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("results"), dict):
        raise LadderDataError(
            f"{path}: no 'results' object; expected lm-evaluation-harness output "
            "with results.{task}.{metric} (e.g. results.arc_easy.acc)"
        )
    return doc


# ----------------------------------------------------------------------------- run, step, N, D


def _model_args(doc: dict) -> dict[str, str]:
    args = (doc.get("config") or {}).get("model_args") if isinstance(doc.get("config"), dict) else None
    if isinstance(args, dict):
        return {str(k): str(v) for k, v in args.items()}
    out: dict[str, str] = {}
    if isinstance(args, str):
        for part in args.split(","):
            key, sep, value = part.partition("=")
            if sep:
                out[key.strip()] = value.strip()
    return out


def _run_name(path: Path, doc: dict, run: RunArg) -> str:
    if isinstance(run, str):
        return run
    if callable(run):
        name = run(path, doc)
        if not isinstance(name, str) or not name:
            raise LadderDataError(f"{path}: run(...) returned {name!r}; expected a non-empty run name")
        return name
    pretrained = _model_args(doc).get("pretrained") or doc.get("model_name")
    if isinstance(pretrained, str) and pretrained.strip("/"):
        parts = [p for p in pretrained.strip("/").split("/") if p]
        # a local checkpoint path .../my-run/step1000 names the run one level up
        if len(parts) > 1 and _STEP_IN_NAME.fullmatch(parts[-1]):
            parts = parts[:-1]
        return parts[-1]
    return path.parent.name


def _step(path: Path, doc: dict) -> int:
    args = _model_args(doc)
    for value in (args.get("revision", ""), args.get("pretrained", "").rstrip("/").rsplit("/", 1)[-1]):
        m = _STEP_IN_NAME.fullmatch(value.strip())
        if m:
            return int(m[1])
    m = _STEP_IN_NAME.search(path.stem)
    return int(m[1]) if m else 0


def _size_label(run: str) -> str:
    for token in re.split(r"[-_/]", run):
        if _SIZE_TOKEN.match(token):
            return token
    return run


def _as_number(value: Any, what: str, path: Path) -> float:
    if isinstance(value, bool):
        raise LadderDataError(f"{path}: {what} is {value!r}; expected a number")
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise LadderDataError(f"{path}: {what} is {value!r}; expected a number") from None
    if not math.isfinite(out):
        raise LadderDataError(f"{path}: {what} is {value!r}; expected a finite number")
    return out


def _lookup_n(n_params: NParams, run: str, path: Path) -> float:
    if isinstance(n_params, Mapping):
        if run not in n_params:
            raise LadderDataError(
                f"{path}: run {run!r} is not in n_params (it has {sorted(map(str, n_params))}); "
                "give its parameter count, or name runs with run=..."
            )
        value = n_params[run]
    elif callable(n_params):
        value = n_params(run)
    else:
        raise TypeError(f"n_params must be a mapping run -> N or a callable(run) -> N, got {type(n_params).__name__}")
    return _as_number(value, f"n_params[{run!r}]", path)


def _lookup_d(tokens: Tokens, run: str, step: int, path: Path) -> float:
    if isinstance(tokens, Mapping):
        if run not in tokens:
            raise LadderDataError(
                f"{path}: run {run!r} is not in tokens (it has {sorted(map(str, tokens))}); "
                "give its tokens, or name runs with run=..."
            )
        value = tokens[run]
        if callable(value):
            value = value(step)
    elif callable(tokens):
        value = tokens(run, step)
    else:
        raise TypeError(
            "tokens must be a mapping run -> D, a mapping run -> callable(step), "
            f"or a callable(run, step) -> D, got {type(tokens).__name__}"
        )
    return _as_number(value, f"tokens for run {run!r} at step {step}", path)


# ----------------------------------------------------------------------------- metrics


def _metrics(entry: dict) -> dict[str, Any]:
    """Metric name -> value, with v0.4 filter suffixes (``"acc,none"``) stripped."""
    out: dict[str, Any] = {}
    suffixed: dict[str, Any] = {}
    for key, value in entry.items():
        name, sep, flt = str(key).partition(",")
        if not sep:
            out[name] = value
        elif flt == "none" or name not in suffixed:
            suffixed[name] = value
    for name, value in suffixed.items():
        out.setdefault(name, value)
    return out


def _stderr(metrics: dict, name: str) -> float | None:
    se = metrics.get(f"{name}_stderr")
    if isinstance(se, bool) or not isinstance(se, (int, float)) or not math.isfinite(se) or se <= 0:
        return None
    return float(se)


def _n_from_stderr(p: float, se: float | None) -> float | None:
    """Invert the harness's sample standard error ``se^2 = p (1 - p) / (n - 1)``."""
    if se is None or not 0 < p < 1:
        return None
    return float(round(p * (1 - p) / se**2 + 1))


def _n_samples(doc: dict, key: str) -> float | None:
    ns = doc.get("n-samples")
    if not isinstance(ns, dict) or key not in ns:
        return None
    v = ns[key]
    if isinstance(v, dict):
        v = v.get("effective", v.get("original"))
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0:
        return None
    return float(v)


def _accuracy(doc: dict, key: str, metric: str, path: Path, required: bool) -> tuple[float, float | None] | None:
    """(accuracy, item count or None) of ``results[key]``; None when the metric is absent."""
    entry = doc["results"][key]
    if not isinstance(entry, dict):
        if required:
            raise LadderDataError(f"{path}: results[{key!r}] is {entry!r}; expected an object of metrics")
        return None
    metrics = _metrics(entry)
    used = metric if metric in metrics else "acc"
    if used not in metrics:
        if required:
            raise LadderDataError(
                f"{path}: results[{key!r}] has no {metric!r} metric; metrics found: {sorted(metrics)}"
            )
        return None
    p = _as_number(metrics[used], f"results[{key!r}][{used!r}]", path)
    n = _n_samples(doc, key)
    if n is None:
        for name in (used, "acc", "acc_norm"):
            n = _n_from_stderr(p, _stderr(metrics, name))
            if n is not None:
                break
    return p, n


def _group_names(doc: dict) -> set[str]:
    groups = set(_MMLU_GROUPS)
    if isinstance(doc.get("groups"), dict):
        groups |= set(doc["groups"])
    gs = doc.get("group_subtasks")
    if isinstance(gs, dict):
        groups |= {k for k, v in gs.items() if v}
    return groups


def _read_tasks(doc: dict, path: Path, metric: str, wanted: set[str] | None) -> tuple[dict[str, tuple[float, float | None]], set[str]]:
    """Task -> (accuracy, n_items) for one file, and the names of all tasks it holds."""
    results = doc["results"]
    groups = _group_names(doc)
    subjects = [k for k in results if _MMLU_SUBJECT.match(k) and k not in groups]
    found = {k for k in results if not _MMLU_SUBJECT.match(k) or k in groups}
    found -= _MMLU_GROUPS
    if subjects:
        found.add("mmlu")

    def take(task: str) -> bool:
        return task in TASKS if wanted is None else task in wanted

    out: dict[str, tuple[float, float | None]] = {}
    for key in results:
        if key in subjects or key in _MMLU_GROUPS or not take(key) or (key == "mmlu" and subjects):
            continue
        got = _accuracy(doc, key, metric, path, required=wanted is not None)
        if got is not None:
            p, n = got
            if n is None and key in TASKS:
                n = TASKS[key].n_items
            out[key] = (p, n)

    if subjects and take("mmlu"):
        parts = []
        for key in subjects:
            got = _accuracy(doc, key, metric, path, required=wanted is not None)
            if got is None:
                continue
            p, n = got
            if n is None:
                n = MMLU_SUBJECTS.get(_MMLU_SUBJECT.match(key)["subject"])
            parts.append((key, p, n))
        if parts:
            known = [n for _, _, n in parts if n is not None]
            if len(known) < len(parts):
                fill = sum(known) / len(known) if known else 1.0
                unknown = [k for k, _, n in parts if n is None]
                warnings.warn(
                    f"{path}: no item count for MMLU subject(s) {unknown}; weighting them by {fill:.0f} items",
                    stacklevel=3,
                )
                parts = [(k, p, fill if n is None else n) for k, p, n in parts]
            total = sum(n for _, _, n in parts)
            out["mmlu"] = (sum(p * n for _, p, n in parts) / total, total)
    return out, found


def _lambada_loss(doc: dict, path: Path) -> float | None:
    entry = doc["results"].get("lambada_openai")
    if not isinstance(entry, dict):
        return None
    metrics = _metrics(entry)
    for name in ("ppl", "perplexity"):
        if name in metrics:
            ppl = _as_number(metrics[name], f"results['lambada_openai'][{name!r}]", path)
            if ppl <= 0:
                raise LadderDataError(f"{path}: results['lambada_openai'][{name!r}] = {ppl!r}; expected a perplexity > 0")
            return math.log(ppl)
    return None


# ----------------------------------------------------------------------------- reader


def read_lm_eval(
    paths: str | Path | Iterable[str | Path],
    n_params: NParams,
    tokens: Tokens,
    *,
    run: RunArg = None,
    tasks: str | Iterable[str] | None = None,
    metric: str = "acc",
    validate_output: bool = True,
    check_plausibility: bool | None = None,
) -> pd.DataFrame:
    """Read lm-evaluation-harness results JSON into the tidy ladder table.

    Parameters
    ----------
    paths : a results file, a folder (searched recursively for ``*.json``), or a list of files.
        Several files may hold different tasks of the same checkpoint.
    n_params : mapping run -> N (parameters), or a callable ``f(run) -> N``.
    tokens : training tokens D of a checkpoint: a mapping run -> D (constant), a mapping
        run -> callable ``f(step) -> D``, or a callable ``f(run, step) -> D``.
    run : run name: a string for all files, or a callable ``f(path, json) -> str``. Default:
        ``NAME`` from ``pretrained=ORG/NAME`` in ``config.model_args``, else the parent folder.
    tasks : tasks to keep (``"mmlu"`` combines the MMLU subjects). Default: every task found
        that is in :data:`ladderfit.data.tasks.TASKS`; others (``crows_pairs_*``, ...) are skipped.
    metric : ``"acc"`` or ``"acc_norm"`` (``acc`` where a task has no ``acc_norm``).
    validate_output : check the table with :func:`ladderfit.data.schema.validate`.
    check_plausibility : ``False`` skips its checks of units and values (:mod:`ladderfit.data.plausibility`).

    Returns
    -------
    DataFrame with columns run, size, N, D, step, task, accuracy, n_items and, when
    ``lambada_openai`` reports a perplexity for every checkpoint, ``lambada_loss`` = log(ppl)
    (nats per token; one value per checkpoint, usable as the intermediate feature).

    Notes
    -----
    The step comes from ``revision=stepK`` in ``config.model_args``, else ``stepK`` in the file
    name, else 0. Checkpoints with D <= 0 (step 0, typically) are dropped with a warning.
    There is no ``task_loss`` column: fit with another feature (``lambada_loss``) or one step.

    Raises
    ------
    LadderDataError
        For an empty, malformed or non-harness file, a run missing from ``n_params`` or
        ``tokens``, a non-numeric metric, or a named task found in no file.
    """
    if metric not in ("acc", "acc_norm"):
        raise ValueError(f"metric must be 'acc' or 'acc_norm', got {metric!r}")
    wanted = None if tasks is None else ({tasks} if isinstance(tasks, str) else set(tasks))
    if wanted is not None and not wanted:
        raise ValueError("tasks is empty; give task names or None for all known tasks")
    files = _list_files(paths)
    source = str(paths) if isinstance(paths, (str, Path)) else "lm-eval results"

    rows, lambada, found_all, dropped = _read_files(files, n_params, tokens, run, metric, wanted)
    _check_rows(rows, wanted, found_all, dropped, source)
    df = _with_lambada_loss(pd.DataFrame(rows), lambada)
    if validate_output:
        return validate(df, source=source, check_plausibility=check_plausibility)
    return df.sort_values(["run", "task", "step"], kind="stable").reset_index(drop=True)


def _read_files(
    files: list[Path], n_params: NParams, tokens: Tokens, run: RunArg, metric: str, wanted: set[str] | None
) -> tuple[list[dict], dict[tuple[str, int], float], set[str], dict[tuple[str, int], float]]:
    """The rows of every file (a dict per checkpoint and task), the lambada losses per checkpoint,
    every task found, and the checkpoints dropped for D <= 0 (with their D)."""
    rows: list[dict] = []
    seen: dict[tuple[str, int, str], Path] = {}
    lambada: dict[tuple[str, int], float] = {}
    found_all: set[str] = set()
    dropped: dict[tuple[str, int], float] = {}
    for path in files:
        doc = _load(path)
        name = _run_name(path, doc, run)
        step = _step(path, doc)
        per_task, found = _read_tasks(doc, path, metric, wanted)
        found_all |= found
        n = _lookup_n(n_params, name, path)
        d = _lookup_d(tokens, name, step, path)
        if d <= 0:
            dropped[(name, step)] = d
            continue
        loss = _lambada_loss(doc, path)
        if loss is not None:
            lambada[(name, step)] = loss
        for task, (acc, n_items) in per_task.items():
            key = (name, step, task)
            if key in seen:
                raise LadderDataError(
                    f"{path}: run {name!r}, step {step}, task {task!r} is also in {seen[key]}; "
                    "expected one result per checkpoint and task (pass run=... to tell runs apart)"
                )
            seen[key] = path
            rows.append({"run": name, "size": _size_label(name), "N": n, "D": d, "step": step,
                         "task": task, "accuracy": acc, "n_items": n_items})
    return rows, lambada, found_all, dropped


def _check_rows(
    rows: list[dict], wanted: set[str] | None, found_all: set[str], dropped: dict[tuple[str, int], float], source: str
) -> None:
    """Fail for a named task in no file or no rows at all; warn (for read_lm_eval's caller) of dropped checkpoints."""
    if wanted is not None:
        missing = sorted(wanted - found_all)
        if missing:
            raise LadderDataError(
                f"{source}: task(s) {missing} not found in any file; tasks found: {sorted(found_all)}"
            )
    if dropped:
        (r, s), d = next(iter(dropped.items()))
        warnings.warn(
            f"read_lm_eval: dropped {len(dropped)} checkpoint(s) with D <= 0 (e.g. run {r!r} step {s}: "
            f"D={d:g}); the schema needs D > 0",
            stacklevel=3,
        )
    if not rows:
        raise LadderDataError(
            f"{source}: no results left to read; expected tasks known to ladderfit "
            f"(tasks found: {sorted(found_all)}) at checkpoints with D > 0"
        )


def _with_lambada_loss(df: pd.DataFrame, lambada: dict[tuple[str, int], float]) -> pd.DataFrame:
    """Add ``lambada_loss`` when every checkpoint has one; else warn (for read_lm_eval's caller) and leave it out."""
    checkpoints = list(zip(df["run"], df["step"]))
    if lambada:
        have = [c in lambada for c in checkpoints]
        if all(have):
            df["lambada_loss"] = [lambada[c] for c in checkpoints]
        else:
            lacking = sorted({c for c, h in zip(checkpoints, have) if not h})
            warnings.warn(
                f"read_lm_eval: {len(lacking)} checkpoint(s) have no lambada_openai perplexity "
                f"(e.g. run {lacking[0][0]!r} step {lacking[0][1]}); column lambada_loss left out",
                stacklevel=3,
            )
    return df
