"""Plain-text summaries of ladder data."""

from __future__ import annotations

import pandas as pd

__all__ = ["data_summary", "grid_table"]


def grid_table(df: pd.DataFrame) -> pd.DataFrame:
    """The N x D grid: one row per size, one column per run length, final D in tokens."""
    final = df.groupby("run").agg(size=("size", "first"), N=("N", "first"), D=("D", "max"))
    if "multiplier" in df.columns:
        final["length"] = df.groupby("run")["multiplier"].first().map(lambda m: f"{m:g}xC")
        if "replicate" in df.columns:
            rep = df.groupby("run")["replicate"].first()
            final.loc[rep > 0, "length"] = final.loc[rep > 0, "length"] + "-rerun" + rep[rep > 0].map(lambda r: "" if r == 1 else str(r))
    else:
        final["length"] = final.index
    grid = final.pivot_table(index=["size", "N"], columns="length", values="D", aggfunc="first")
    grid = grid.sort_index(level="N")
    return grid[sorted(grid.columns, key=_length_key)]


def _length_key(label: str) -> tuple:
    try:
        return (float(label.split("xC")[0]), label)
    except ValueError:
        return (float("inf"), label)


def data_summary(df: pd.DataFrame, source: str = "data") -> str:
    """Runs, tasks, the N x D grid and checkpoint counts as readable text."""
    runs = df.groupby("run").agg(size=("size", "first"), N=("N", "first"), D_final=("D", "max"), checkpoints=("step", "nunique"))
    runs = runs.sort_values(["N", "D_final"])
    tasks = sorted(df["task"].unique())
    lines = [
        f"ladder data: {source}",
        f"{runs.shape[0]} runs, {df['size'].nunique()} sizes, {len(tasks)} tasks, {len(df)} rows",
        f"tasks: {', '.join(tasks)}",
        "",
        "N x D grid (final training tokens per run):",
        grid_table(df).map(lambda v: "" if pd.isna(v) else f"{v:.3g}").to_string(),
        "",
        "checkpoints per run:",
        runs.assign(N=runs["N"].map(lambda v: f"{v:.4g}"), D_final=runs["D_final"].map(lambda v: f"{v:.4g}")).to_string(),
    ]
    return "\n".join(lines + _unused_report(df, runs))


def _unused_report(df: pd.DataFrame, runs: pd.DataFrame) -> list[str]:
    """What a reader found but could not use (from ``df.attrs``), and runs evaluated once."""
    attrs = df.attrs or {}
    out: list[str] = []
    if "unused_columns" in attrs:
        unused = attrs["unused_columns"]
        out.append(f"unused columns: {', '.join(unused) if unused else 'none'}")
    if attrs.get("runs_without_N_D"):
        out.append(f"runs without N or D (left out): {', '.join(attrs['runs_without_N_D'])}")
    if "tasks_without_loss" in attrs or "task_loss" not in df.columns:
        lacking = attrs.get("tasks_without_loss", sorted(df["task"].unique()) if "task_loss" not in df.columns else [])
        out.append(f"tasks without a loss column: {', '.join(lacking) if lacking else 'none'}")
    single = sorted(runs.index[runs["checkpoints"] == 1])
    if single:
        which = "all runs (a final-only ladder)" if len(single) == len(runs) else ", ".join(single)
        out.append(f"runs with one evaluation only: {which}")
    for note in attrs.get("notes", []):
        out.append(f"note: {note}")
    return [""] + out if out else []
