"""Tables the docs take from the code at build time, so that they cannot drift from it.

``docs/_generated/priors.md``: every prior of :data:`ladderfit.model.priors.DEFAULT_PRIORS`
(name, family, parameters, meaning), included by the user guide's model page.
"""

from __future__ import annotations

import math
from pathlib import Path

GENERATED = Path(__file__).resolve().parents[1] / "_generated"


def _number(x: float) -> str:
    return f"{x:.4g}"


def _params(family: str, params: tuple) -> str:
    if family == "LogNormal":  # loc is a log: say which value it is the log of
        return f"log({math.exp(params[0]):.4g}), {params[1]:.4g}"
    return ", ".join(_number(p) for p in params)


def priors_table() -> str:
    from ladderfit.model.priors import DEFAULT_PRIORS, PRIORS_BY_STRUCTURE

    lines = ["| name | family | parameters | meaning |", "|---|---|---|---|"]
    for name, (family, params, meaning) in DEFAULT_PRIORS.items():
        lines.append(f"| `{name}` | {family} | {_params(family, params)} | {meaning.replace('|', chr(92) + '|')} |")
    lines += ["", "Where a structure has its own (`ladderfit.model.priors.PRIORS_BY_STRUCTURE`), it replaces the default:",
              "", "| structure | name | family | parameters |", "|---|---|---|---|"]
    for structure, priors in PRIORS_BY_STRUCTURE.items():
        lines += [f"| `{structure}` | `{name}` | {family} | {_params(family, params)} |" for name, (family, params) in priors.items()]
    return "\n".join(lines) + ("\n\n*Generated from `ladderfit.model.priors.DEFAULT_PRIORS` and `PRIORS_BY_STRUCTURE` "
                               "when the docs were built.*\n")


def write(out: Path = GENERATED) -> None:
    out.mkdir(parents=True, exist_ok=True)
    path, text = out / "priors.md", priors_table()
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def setup(app):
    app.connect("builder-inited", lambda app: write())
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
