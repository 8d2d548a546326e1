"""Regenerate the bundled Pythia ladder from EleutherAI's lm-evaluation-harness outputs.

    python scripts/make_pythia_data.py [--src ../shared/pythia-evals] [--out ...]

Source: the zero-shot evaluations of the Pythia suite published by EleutherAI
(EleutherAI/pythia, ``evals/pythia-v1/{model}/zero-shot/``, Apache-2.0), one JSON per
checkpoint, read with :func:`ladderfit.read_lm_eval`. Writes
``src/ladderfit/data/bundled_data/pythia_ladder.csv.gz``, loaded by
:func:`ladderfit.load_pythia_ladder`.

What is kept, and why:

* Runs: the five folders ``pythia-70m``, ``pythia-160m``, ``pythia-410m``,
  ``pythia-1b-deduped`` (deduplicated Pile; same steps) and ``pythia-1.4b``, named after the
  folder; ``size`` is the size token upper-cased (``70M`` ... ``1.4B``). N is the
  non-embedding parameter count of the folder's README.
* D = step * 2,097,152 tokens (1024 sequences x 2048). Every run trains on the same 300B
  tokens, so the ladder has one training length (final step 143,000 for every run).
* Checkpoints: every step with D > 0 (1, 2, 4, ..., 512, 1000, 3000, 13000, ..., 143000;
  26 per run). Step 0 (the untrained initialisation) is dropped: D = 0 breaks the schema
  (D > 0; log D is undefined). The early log-spaced steps (1 to 512) do satisfy the schema
  and are kept as published: their models sit near chance, with a LAMBADA loss near its
  initial value; a user who wants them out can filter on ``step``.
* Tasks: the nine that ladderfit's task registry knows and that every run reports at
  every checkpoint: arc_easy, arc_challenge, piqa, sciq, winogrande, lambada_openai, logiqa,
  wsc and mmlu (the 57 ``hendrycksTest-*`` subjects combined, weighted by item count).
  ``crows_pairs_*`` are dropped: they measure stereotype preference, not accuracy, and have
  no chance level in the registry.
* Columns: run, size, N, D, step, task, n_items, accuracy (the harness's ``acc``, the same
  metric for every task), lambada_loss (log of the LAMBADA-OpenAI perplexity, nats per
  token; one value per checkpoint, shared by its tasks; the intermediate feature, since the
  files have no per-task bits-per-byte). Not written: ``chance`` (the registry knows each
  task's chance level; a column would override it), ``flops`` (the files give none, and a
  6 N D estimate would not match the FLOPs convention of the paper's targets, e.g.
  ``7B-4T``, which count about 7.2 N per token), ``acc_norm``, standard errors.
* Rounding: accuracies and lambada_loss to 6 significant digits (accuracies are k / n with
  n <= 14,042, so k is still exact); N, D, step and n_items are integers.
"""

from __future__ import annotations

import argparse
import re
import warnings
from pathlib import Path

import numpy as np

from ladderfit.data.lm_eval import read_lm_eval
from ladderfit.data.bundled import PYTHIA_N, PYTHIA_TOKENS_PER_STEP
from ladderfit.data.schema import validate

OUT = Path(__file__).resolve().parents[1] / "src" / "ladderfit" / "data" / "bundled_data" / "pythia_ladder.csv.gz"

TOKENS_PER_STEP = PYTHIA_TOKENS_PER_STEP
FINAL_STEP = 143_000
TASKS = ["arc_challenge", "arc_easy", "lambada_openai", "logiqa", "mmlu", "piqa", "sciq", "winogrande", "wsc"]
COLUMNS = ["run", "size", "N", "D", "step", "task", "n_items", "accuracy", "lambada_loss"]
DIGITS = 6


def size_label(run: str) -> str:
    """``pythia-1b-deduped`` -> ``1B``, ``pythia-1.4b`` -> ``1.4B``."""
    m = re.fullmatch(r"pythia-(\d+(?:\.\d+)?)([mb])(?:-deduped)?", run)
    if not m:
        raise ValueError(f"unexpected Pythia run name {run!r}")
    return m[1] + m[2].upper()


def build(src: str | Path):
    """The derived table, checked: every run has every task at the same checkpoints."""
    with warnings.catch_warnings():
        # expected: step 0 dropped (D = 0) and one training length per size
        warnings.filterwarnings("ignore", message=r"read_lm_eval: dropped 5 checkpoint\(s\) with D <= 0")
        warnings.filterwarnings("ignore", message=r".*each model size has a single training length")
        df = read_lm_eval(
            src,
            PYTHIA_N,
            lambda run, step: float(step * TOKENS_PER_STEP),
            run=lambda path, doc: path.parent.name,
            tasks=TASKS,
            metric="acc",
        )
    df["size"] = df["run"].map(size_label)
    for col in ("accuracy", "lambada_loss"):
        df[col] = [float(f"{v:.{DIGITS}g}") for v in df[col]]
    df = df[COLUMNS]

    if set(df["run"]) != set(PYTHIA_N):
        raise ValueError(f"expected runs {sorted(PYTHIA_N)}, got {sorted(df['run'].unique())}")
    grid = df.groupby(["run", "task"])["step"].apply(lambda s: tuple(sorted(s)))
    if len(grid) != len(PYTHIA_N) * len(TASKS) or grid.nunique() != 1:
        raise ValueError("the runs and tasks do not share one set of checkpoints")
    if FINAL_STEP not in grid.iloc[0]:
        raise ValueError(f"the final checkpoint (step {FINAL_STEP}) is missing")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*each model size has a single training length")
        df = validate(df, source=str(src))
    for col in ("N", "D", "step", "n_items"):  # validate gives floats; write integers
        values = df[col].to_numpy()
        if not np.all(values == np.round(values)):
            raise ValueError(f"column {col!r} holds non-integers")
        df[col] = values.astype(np.int64)
    return df


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--src", default=str(Path(__file__).resolve().parents[2] / "shared" / "pythia-evals"))
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args()
    df = build(args.src)
    df.to_csv(args.out, index=False, compression={"method": "gzip", "mtime": 0})
    size = Path(args.out).stat().st_size
    print(f"wrote {args.out}: {len(df)} rows, {df['run'].nunique()} runs, {df['task'].nunique()} tasks, "
          f"{df['step'].nunique()} checkpoints per run, {size / 1024:.1f} KiB")


if __name__ == "__main__":
    main()
