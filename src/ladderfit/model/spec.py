"""What model is fitted, in one small serialisable object: :class:`ModelSpec`.

A specification has three parts, each with one meaning:

* ``structure``: how accuracy depends on size.
  ``"two_step"`` (the paper's: task loss from (N, D), then accuracy from task loss),
  ``"compute"`` (step 1 in training FLOPs C: ``L = E + A / C^alpha``) or
  ``"single_step"`` (accuracy straight from (N, D); no intermediate feature);
* ``feature``: the intermediate feature of the two-step structures, a loss column of the
  data (``"task_loss"``, bits per byte; or ``"c4_loss"``, ``"task_ce"``, ``"lambada_loss"``);
* ``run_effects``: run-level offsets in step 2 (Bayesian fits only).

Its name is a short string that the command line, backtests and saved files use:
``"two_step"``, ``"two_step/c4_loss"``, ``"two_step+run_effects"``, ``"compute"``,
``"single_step"``. :meth:`ModelSpec.parse` reads such a name; a bare loss column
(``"c4_loss"``) means the two-step structure through that feature.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from ..data.schema import LOSS_COLUMNS, OPTIONAL_NUMERIC, REQUIRED
from ..errors import LadderDataError

__all__ = ["ModelSpec", "STRUCTURES", "DEFAULT_FEATURE", "DEFAULT_MODEL", "as_spec", "check_feature"]

STRUCTURES: tuple[str, ...] = ("two_step", "compute", "single_step")
DEFAULT_FEATURE = "task_loss"
#: The model fitted when none is named (``fit()``, ``ladderfit predict``, ``calibrate``,
#: ``backtest``): chosen by proper scores (CRPS, log score, interval score) of held-out
#: predictions on the nested hold-outs of both bundled ladders, OLMo and Pythia, where the
#: single step beat the two-step and compute structures on every score
#: (``benchmarks/calibration.py``, ``benchmarks/results/calibration.json``). A feature or run
#: effects asked for without a structure mean the two-step structure, which has them.
DEFAULT_MODEL = "single_step"
_RUN_EFFECTS = "+run_effects"


@dataclass(frozen=True)
class ModelSpec:
    """The model: ``structure``, intermediate ``feature`` and ``run_effects`` (see module doc).
    ``ModelSpec()`` is the two-step specification; the model fitted when none is named is
    :data:`DEFAULT_MODEL` (``as_spec(None)``)."""

    structure: str = "two_step"
    feature: str = DEFAULT_FEATURE
    run_effects: bool = False

    def __post_init__(self) -> None:
        if self.structure not in STRUCTURES:
            raise ValueError(f"model structure must be one of {', '.join(STRUCTURES)}, got {self.structure!r}")
        if not isinstance(self.feature, str) or not self.feature:
            raise ValueError(f"model feature must be a column name, got {self.feature!r}")
        if not isinstance(self.run_effects, bool):
            raise ValueError(f"run_effects must be True or False, got {self.run_effects!r}")
        if self.run_effects and self.structure == "single_step":
            raise ValueError("run effects need checkpoints within runs; the single step has one point per run")

    @property
    def uses_feature(self) -> bool:
        """Whether the structure has an intermediate feature (the single step has none)."""
        return self.structure != "single_step"

    @property
    def name(self) -> str:
        """The short name: ``structure[/feature][+run_effects]``."""
        text = self.structure
        if self.uses_feature and self.feature != DEFAULT_FEATURE:
            text += f"/{self.feature}"
        return text + (_RUN_EFFECTS if self.run_effects else "")

    def __str__(self) -> str:
        return self.name

    def replace(self, **changes) -> ModelSpec:
        return ModelSpec(**{**asdict(self), **changes})

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def parse(cls, text: str) -> ModelSpec:
        """Read a name such as ``"two_step/c4_loss+run_effects"`` or ``"c4_loss"``."""
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"a model name is a non-empty string, got {text!r}")
        body = text.strip()
        run_effects = body.endswith(_RUN_EFFECTS)
        if run_effects:
            body = body[: -len(_RUN_EFFECTS)]
        structure, _, feature = body.partition("/")
        if structure not in STRUCTURES:
            if feature or structure not in LOSS_COLUMNS:
                raise ValueError(
                    f"unknown model {text!r}: the structure must be one of {', '.join(STRUCTURES)} "
                    f"(or a bare loss column: {', '.join(LOSS_COLUMNS)})"
                )
            structure, feature = "two_step", structure  # a bare loss column: two steps through it
        return cls(structure, feature or DEFAULT_FEATURE, run_effects)


def as_spec(model=None, **parts) -> ModelSpec:
    """A :class:`ModelSpec` from a spec, a name, a dict or ``None`` (:data:`DEFAULT_MODEL`), with any
    of ``structure``, ``feature``, ``run_effects`` given as keywords overriding it (``None`` = keep)."""
    if model is None:
        # a feature or run effects without a structure: the two-step structure, which has them
        two = parts.get("structure") is None and (parts.get("feature") is not None or bool(parts.get("run_effects")))
        spec = ModelSpec() if two else ModelSpec.parse(DEFAULT_MODEL)
    elif isinstance(model, ModelSpec):
        spec = model
    elif isinstance(model, str):
        spec = ModelSpec.parse(model)
    elif isinstance(model, dict):
        spec = ModelSpec(**model)
    else:
        raise TypeError(f"model must be a ModelSpec, a name such as 'two_step' or a dict, got {type(model).__name__}")
    changes = {k: v for k, v in parts.items() if v is not None}
    return spec.replace(**changes) if changes else spec


def check_feature(df: pd.DataFrame, spec: ModelSpec, source: str = "data") -> None:
    """The intermediate feature of a two-step structure is a loss: a numeric, positive, finite
    column that is not one of the schema's others (``accuracy``, ``run``, ``N`` ...). A missing
    column is left to :func:`~ladderfit.data.schema.check_model_columns`."""
    if not spec.uses_feature or spec.feature not in df.columns:
        return
    col, name = df[spec.feature], spec.feature
    if name in (set(REQUIRED) | set(OPTIONAL_NUMERIC)) - set(LOSS_COLUMNS):
        why = "it is another column of the ladder's schema"
    elif not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
        why = f"it is not numeric ({col.dtype})"
    elif not (np.isfinite(col.to_numpy(float)).all() and (col.to_numpy(float) > 0).all()):
        why = "it has values that are not finite or not > 0"
    else:
        return
    have = [c for c in LOSS_COLUMNS if c in df.columns]
    raise LadderDataError(
        f"{source}: the feature {name!r} is not a loss column ({why}); the data's loss columns: "
        f"{', '.join(have) if have else 'none (fit accuracy straight from (N, D) with model single_step)'}"
    )
