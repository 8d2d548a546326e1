"""Registry of downstream tasks: chance level and item count.

The chance level is the accuracy of guessing uniformly among the choices; step 2 of the
scaling law uses it as the sigmoid's lower asymptote. The item count sets the binomial
noise of an accuracy, ``sqrt(p (1 - p) / n)``.

Tasks that are not listed here can still be fitted: give the tidy table a ``chance``
column (and, optionally, ``n_items``).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import LadderDataError

__all__ = ["TaskInfo", "TASKS", "PAPER_TASKS", "ALL_OLMO_TASKS", "task_info", "known_tasks", "task_value"]


@dataclass(frozen=True)
class TaskInfo:
    """What ladderfit knows about a task."""

    name: str
    chance: float
    n_items: int | None = None
    description: str = ""


TASKS: dict[str, TaskInfo] = {
    t.name: t
    for t in [
        # The eight tasks of Bhagia et al. (2024), OLMo-ladder splits.
        TaskInfo("mmlu", 0.25, 14042, "MMLU test, item-weighted mean of 4 categories"),
        TaskInfo("hellaswag", 0.25, 10042, "HellaSwag val"),
        TaskInfo("arc_challenge", 0.25, 1172, "ARC-Challenge test"),
        TaskInfo("arc_easy", 0.25, 2376, "ARC-Easy test"),
        TaskInfo("piqa", 0.5, 1838, "PIQA val"),
        TaskInfo("csqa", 0.2, 1221, "CommonsenseQA val"),
        TaskInfo("socialiqa", 1 / 3, 1954, "Social IQa val"),
        TaskInfo("openbookqa", 0.25, 500, "OpenBookQA test"),
        # Also in the OLMo ladder logs.
        TaskInfo("winogrande", 0.5, 1267, "Winogrande val"),
        TaskInfo("boolq", 0.5, 3270, "BoolQ val"),
        # Common lm-evaluation-harness tasks (item counts of the standard splits).
        TaskInfo("sciq", 0.25, 1000, "SciQ test"),
        TaskInfo("logiqa", 0.25, 651, "LogiQA test"),
        TaskInfo("wsc", 0.5, 104, "WSC (SuperGLUE) val"),
        TaskInfo("lambada_openai", 0.0, 5153, "LAMBADA (OpenAI), last-word accuracy"),
    ]
}

PAPER_TASKS: tuple[str, ...] = (
    "mmlu",
    "hellaswag",
    "arc_challenge",
    "arc_easy",
    "piqa",
    "csqa",
    "socialiqa",
    "openbookqa",
)
ALL_OLMO_TASKS: tuple[str, ...] = PAPER_TASKS + ("winogrande", "boolq")


def known_tasks() -> list[str]:
    """Names of the tasks in the registry."""
    return sorted(TASKS)


def task_info(name: str) -> TaskInfo:
    """Look a task up; a clear ``KeyError`` names the known ones."""
    try:
        return TASKS[name]
    except KeyError:
        raise KeyError(
            f"unknown task {name!r}; known tasks: {', '.join(known_tasks())} "
            "(for another task, add a 'chance' column to the table)"
        ) from None


_REQUIRED = object()


def task_value(data, task: str, column: str, default=_REQUIRED) -> float:
    """A per-task constant (``chance`` or ``n_items``): the table's column if it has one, else
    the registry's value, else ``default``; with no default, a :class:`LadderDataError` says
    how to give it. An item count of 0 counts as unknown."""
    value = None
    if column in data.columns:
        vals = data.loc[data["task"] == task, column].dropna().unique()
        if len(vals):
            value = float(vals[0])
    if value is None:
        info = TASKS.get(task)
        found = getattr(info, column, None) if info is not None else None
        value = float(found) if found is not None else None
    if value is None or (column == "n_items" and not value):
        if default is _REQUIRED:
            raise LadderDataError(
                f"task {task!r}: no {column!r} in the data or the task registry (add a {column!r} column)"
            )
        return default
    return value
