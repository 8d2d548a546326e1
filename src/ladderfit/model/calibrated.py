"""A ladder's own calibration: the structure and discrepancy ``ladderfit calibrate`` chose on its
nested hold-outs, kept in a small JSON file that ``fit(..., calibration=FILE)`` and
``ladderfit predict --calibration FILE`` read.

The file holds the chosen model's name, the discrepancy priors (gamma's LogNormal, the power p,
the drift delta and the largest calibrated distance), the scores that chose them, and where it
came from (the data source, the package version). The bundled defaults
(:data:`~ladderfit.model.priors.DEFAULT_PRIORS`, :data:`~ladderfit.model.priors.DISCREPANCY_BY_STRUCTURE`)
were calibrated the same way on the bundled OLMo ladder; on another ladder, calibrate it and
pass the file.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import LadderDataError
from .priors import DISCREPANCY_PRIORS, resolve_priors
from .spec import as_spec

__all__ = ["CHOICE_FORMAT", "write_choice", "read_choice"]

CHOICE_FORMAT = "ladderfit.calibration_choice.v1"


def write_choice(path, model: str, priors: dict, scores: list[dict] | None = None, source: str = "") -> Path:
    """Write the choice (``model``, the discrepancy ``priors``) with the ``scores`` that made it."""
    from ..io import atomic_write
    from .provenance import library_versions

    payload = {"format": CHOICE_FORMAT, "model": as_spec(model).name, "source": str(source),
               "ladderfit_version": library_versions().get("ladderfit", "?"),
               "priors": {k: [v[0], [float(p) for p in v[1]]] for k, v in priors.items() if k in DISCREPANCY_PRIORS},
               "scores": scores or []}  # fmt: skip
    path = Path(path)
    atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(payload, indent=1, default=float)))
    return path


def read_choice(calibration) -> dict:
    """``{"model": name, "priors": {...}}`` from a file written by :func:`write_choice` (or such a
    dict); a file that is not one is a :class:`~ladderfit.errors.LadderDataError` naming it."""
    if isinstance(calibration, dict):
        payload, where = calibration, "calibration"
    else:
        where = str(calibration)
        from ..io import check_input

        check_input(calibration, "the JSON file written by 'ladderfit calibrate --save-choice'", text=True)
        try:
            payload = json.loads(Path(calibration).read_text())
        except FileNotFoundError:
            raise LadderDataError(f"{where}: no such file; expected a file written by 'ladderfit calibrate "
                                  "--save-choice'") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise LadderDataError(f"{where}: not a calibration choice ({type(err).__name__}); expected the JSON "
                                  "file written by 'ladderfit calibrate --save-choice'") from None
    if not isinstance(payload, dict) or payload.get("format") != CHOICE_FORMAT:
        raise LadderDataError(f"{where}: not a calibration choice (format {payload.get('format') if isinstance(payload, dict) else None!r}, "
                              f"expected {CHOICE_FORMAT!r}); write one with 'ladderfit calibrate --save-choice'")
    try:
        priors = {k: (str(v[0]), tuple(float(p) for p in v[1])) for k, v in payload["priors"].items()}
        resolve_priors(priors)  # known names and families
        model = as_spec(payload["model"]).name
    except (KeyError, TypeError, ValueError, IndexError) as err:
        raise LadderDataError(f"{where}: a damaged calibration choice ({err}); write it again with "
                              "'ladderfit calibrate --save-choice'") from None
    return {"model": model, "priors": priors, "source": payload.get("source", ""), "scores": payload.get("scores", [])}
