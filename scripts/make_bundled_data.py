"""Regenerate the bundled tidy table from the OLMo ladder logs in ../shared/olmo-ladder.

    python scripts/make_bundled_data.py [--src ../shared/olmo-ladder]
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

from ladderfit.data.readers import read_olmo_csv

OUT = Path(__file__).resolve().parents[1] / "src" / "ladderfit" / "data" / "bundled_data" / "olmo_ladder.csv.gz"
COLUMNS = ["run", "size", "multiplier", "replicate", "N", "D", "step", "flops", "task",
           "n_items", "task_loss", "accuracy", "task_ce", "c4_loss"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--src", default=str(Path(__file__).resolve().parents[2] / "shared" / "olmo-ladder"))
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args()
    df = read_olmo_csv(args.src)[COLUMNS]
    df.to_csv(args.out, index=False, compression={"method": "gzip", "mtime": 0}, float_format="%.12g")
    print(f"wrote {args.out}: {len(df)} rows, {df['run'].nunique()} runs, {df['task'].nunique()} tasks")
    digest = hashlib.sha256(Path(args.out).read_bytes()).hexdigest()
    print(f"sha256 {digest} (ladderfit.data.bundled.CHECKED_SHA256: a shipped file with other bytes is checked at every load)")


if __name__ == "__main__":
    main()
