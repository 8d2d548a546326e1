"""Bundled data: the OLMo ladder (Bhagia et al. 2024) and the Pythia suite as tidy tables, and
the paper's targets.

The OLMo table is derived from the authors' public training logs (allenai/OLMo-ladder,
Apache-2.0) by ``scripts/make_bundled_data.py``; the Pythia table from EleutherAI's
lm-evaluation-harness outputs (EleutherAI/pythia, Apache-2.0) by
``scripts/make_pythia_data.py``. Only the columns ladderfit needs are kept.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from importlib import resources

import numpy as np
import pandas as pd

from .schema import OPTIONAL_NUMERIC, validate

__all__ = [
    "load_olmo_ladder",
    "load_pythia_ladder",
    "paper_targets",
    "default_runs",
    "is_bundled",
    "PAPER_LADDER_RUNS",
    "BUNDLED_FILE",
    "PYTHIA_FILE", "PYTHIA_N", "PYTHIA_TOKENS_PER_STEP",
]

BUNDLED_FILE = "olmo_ladder.csv.gz"
PYTHIA_FILE = "pythia_ladder.csv.gz"

#: SHA-256 of the bundled files that :func:`~.schema.validate` passes as they are, without a
#: warning: a file with these bytes is read without checking it again, its numbers given the
#: types ``validate`` gives them (``tests/test_datasets.py`` checks the digest, and that the
#: result equals the validated table). The Pythia table warns (one training length), so it is
#: checked at every load.
CHECKED_SHA256: dict[str, str] = {
    BUNDLED_FILE: "75d245705cc81afe710babf821fc59e88c91ac0a06e9316df61dbff1b443d4fa",
}

#: Non-embedding parameters of the Pythia models of the bundled ladder (shared/pythia-evals/README.md).
PYTHIA_N: dict[str, int] = {
    "pythia-70m": 18_915_328,
    "pythia-160m": 85_056_000,
    "pythia-410m": 302_311_424,
    "pythia-1b-deduped": 805_736_448,
    "pythia-1.4b": 1_208_602_624,
}
#: Tokens per Pythia training step (1024 sequences x 2048): D = step x this.
PYTHIA_TOKENS_PER_STEP = 2_097_152

#: The paper's main ladder: 4 sizes x 1, 2, 5, 10 x Chinchilla.
PAPER_LADDER_RUNS: tuple[str, ...] = tuple(
    f"{s}-{m}xC" for s in ("190M", "370M", "760M", "1B") for m in ("1", "2", "5", "10")
)


def load_olmo_ladder(runs: str | list[str] = "all") -> pd.DataFrame:
    """The 24 OLMo ladder runs (190M, 370M, 760M, 1B x 0.5, 1, 1-rerun, 2, 5, 10 xC), 10 tasks.

    ``runs="paper"`` keeps the paper's 16-run ladder; a list keeps those runs.
    """
    df = _read_bundled(BUNDLED_FILE)
    if runs == "paper":
        runs = list(PAPER_LADDER_RUNS)
    return _keep_runs(df, runs, "bundled ladder", keywords="'all', 'paper'")


def load_pythia_ladder(runs: str | list[str] = "all") -> pd.DataFrame:
    """The Pythia suite (EleutherAI) as a ladder: 5 sizes at one training length, 9 tasks.

    Runs ``pythia-70m``, ``pythia-160m``, ``pythia-410m``, ``pythia-1b-deduped`` and
    ``pythia-1.4b`` (N: non-embedding parameters, 19M to 1.2B), each evaluated zero-shot with
    lm-evaluation-harness at 26 checkpoints (steps 1 to 143,000; D = step x 2,097,152 tokens,
    so every run ends at 300B tokens). Tasks: arc_easy, arc_challenge, piqa, sciq, winogrande,
    lambada_openai, logiqa, wsc and mmlu; ``accuracy`` is the harness's ``acc``. There is no
    per-task bits-per-byte: the intermediate feature is ``lambada_loss`` (log LAMBADA
    perplexity, one value per checkpoint), so fit it with ``model="two_step/lambada_loss"``
    or ``model="single_step"``; there is no ``flops`` column (no ``compute`` structure).

    All sizes share one training length, so the D term of step 1 is not identified by these
    data: its exponent and coefficient stay prior-only (loading warns with a UserWarning).

    Derived from EleutherAI/pythia's evaluation files (Apache-2.0) by
    ``scripts/make_pythia_data.py``. A list in ``runs`` keeps those runs.
    """
    return _keep_runs(_read_bundled(PYTHIA_FILE), runs, "bundled Pythia ladder", keywords="'all'")


def _read_bundled(name: str) -> pd.DataFrame:
    """Read and validate a bundled table (one of :data:`CHECKED_SHA256` as shipped: read, its
    numbers typed as validated); validation warnings point at the loader's caller."""
    data = resources.files(__package__).joinpath("bundled_data", name).read_bytes()
    df = pd.read_csv(io.BytesIO(data), compression="gzip")
    if CHECKED_SHA256.get(name) == hashlib.sha256(data).hexdigest():
        return _typed_as_validated(df)
    with warnings.catch_warnings(record=True) as caught:
        df = validate(df, source=f"bundled {name}")
    for w in caught:  # _read_bundled <- load_* <- the user's line
        warnings.warn(w.message, w.category, stacklevel=3)
    return df


def _typed_as_validated(df: pd.DataFrame) -> pd.DataFrame:
    """A valid table's columns typed as :func:`~.schema.validate` types them: numbers as floats,
    steps and replicates as integers (the text columns are read as text)."""
    numeric = [c for c in ("N", "D", "step", "accuracy", *OPTIONAL_NUMERIC) if c in df.columns]
    df = df.astype(dict.fromkeys(numeric, float))
    return df.astype({c: np.int64 for c in ("step", "replicate") if c in df.columns})


def _keep_runs(df: pd.DataFrame, runs: str | list[str], what: str, keywords: str) -> pd.DataFrame:
    if isinstance(runs, str) and runs != "all":
        raise ValueError(f"runs must be {keywords} or a list of run names, got {runs!r}")
    if runs != "all":
        missing = sorted(set(runs) - set(df["run"]))
        if missing:
            raise KeyError(f"runs {missing} are not in the {what}; it has {sorted(df['run'].unique())}")
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
