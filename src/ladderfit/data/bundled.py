"""Bundled data: the OLMo ladder (Bhagia et al. 2024) as a tidy table, and the paper's targets.

The table is derived from the authors' public training logs (allenai/OLMo-ladder,
Apache-2.0) by ``scripts/make_bundled_data.py``; only the columns ladderfit needs are kept.
"""

from __future__ import annotations

from importlib import resources

import pandas as pd

from .schema import validate

__all__ = ["load_olmo_ladder", "paper_targets", "default_runs", "is_bundled", "PAPER_LADDER_RUNS", "BUNDLED_FILE"]

BUNDLED_FILE = "olmo_ladder.csv.gz"

#: The paper's main ladder: 4 sizes x 1, 2, 5, 10 x Chinchilla.
PAPER_LADDER_RUNS: tuple[str, ...] = tuple(
    f"{s}-{m}xC" for s in ("190M", "370M", "760M", "1B") for m in ("1", "2", "5", "10")
)


def load_olmo_ladder(runs: str | list[str] = "all") -> pd.DataFrame:
    """The 24 OLMo ladder runs (190M, 370M, 760M, 1B x 0.5, 1, 1-rerun, 2, 5, 10 xC), 10 tasks.

    ``runs="paper"`` keeps the paper's 16-run ladder; a list keeps those runs.
    """
    with resources.files(__package__).joinpath("bundled_data", BUNDLED_FILE).open("rb") as fh:
        df = pd.read_csv(fh, compression="gzip")
    df = validate(df, source=f"bundled {BUNDLED_FILE}")
    if runs == "paper":
        runs = list(PAPER_LADDER_RUNS)
    if runs != "all":
        missing = sorted(set(runs) - set(df["run"]))
        if missing:
            raise KeyError(f"runs {missing} are not in the bundled ladder; it has {sorted(df['run'].unique())}")
        df = df[df["run"].isin(runs)].reset_index(drop=True)
    return df


def is_bundled(df: pd.DataFrame) -> bool:
    """True when ``df`` looks like the bundled OLMo ladder: it holds all the paper's runs."""
    return set(PAPER_LADDER_RUNS) <= set(df["run"].unique())


def default_runs(df: pd.DataFrame) -> list[str] | None:
    """The runs fitted and backtested by default: the paper's 16 of the bundled ladder (whether
    it came as ``None`` or as :func:`load_olmo_ladder`'s table), else all runs (``None``)."""
    return list(PAPER_LADDER_RUNS) if is_bundled(df) else None


def paper_targets() -> pd.DataFrame:
    """The paper's two target models: name, N (non-embedding parameters), D (tokens), FLOPs."""
    return pd.DataFrame(
        {
            "target": ["7B-4T", "13B-5T"],
            "N": [6_887_575_552.0, 13_202_396_160.0],
            "D": [3_945_065_873_408.0, 5_000_088_518_656.0],
            "flops": [49_412_071_424.0 * 3_945_065_873_408.0, 91_335_915_520.0 * 5_000_088_518_656.0],
        }
    )
