"""Every option of a fit in one serialisable object, saved with the fit."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from .preprocess import Preprocessing

__all__ = ["FitConfig", "DEFAULT_PREPROCESSING"]

#: The joint model's default preprocessing: the paper's skip (10%), moving average (5) and
#: step-1 point (mean of the last 5 evaluations), and step-2 checkpoints thinned to every 5th
#: so that the moving-average windows do not overlap (overlapping windows would count each
#: evaluation five times in the likelihood).
DEFAULT_PREPROCESSING = Preprocessing(skip_fraction=0.1, smooth_window=5, step1_last_k=5, thin=5)


@dataclass
class FitConfig:
    """Options of :func:`ladderfit.fit`.

    tasks, runs : which tasks and runs to fit (``None``: all in the data).
    feature : the intermediate feature of step 2 (a loss column; default task bits-per-byte).
    variant : ``"two_step"`` (step 1 in N and D), ``"compute"`` (step 1 in training FLOPs C,
        ``L = E + A / C^alpha``; needs a ``flops`` column) or ``"single_step"`` (accuracy
        straight from N and D, no intermediate feature).
    preprocessing : :class:`~ladderfit.preprocess.Preprocessing` options.
    chains, warmup, draws, seed : NUTS settings; ``target_accept`` its step-size target,
        ``max_tree_depth`` its tree limit.
    chain_method : ``"parallel"``, ``"sequential"``, ``"vectorized"`` or ``"auto"``
        (parallel when JAX sees one device per chain, else sequential).
    priors : overrides of :data:`ladderfit.priors.DEFAULT_PRIORS`.
    run_effects : add run-level offsets to step 2 (a model variant; off by default).
    """

    tasks: list[str] | None = None
    runs: list[str] | None = None
    feature: str = "task_loss"
    variant: str = "two_step"
    preprocessing: Preprocessing = field(default_factory=lambda: DEFAULT_PREPROCESSING)
    chains: int = 4
    warmup: int = 500
    draws: int = 1000
    seed: int = 0
    chain_method: str = "auto"
    target_accept: float = 0.9
    max_tree_depth: int = 10
    priors: dict = field(default_factory=dict)
    run_effects: bool = False
    progress_bar: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.preprocessing, dict):
            self.preprocessing = Preprocessing(**self.preprocessing)
        for name in ("chains", "warmup", "draws"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        if self.chain_method not in ("auto", "parallel", "sequential", "vectorized"):
            raise ValueError(f"chain_method must be auto, parallel, sequential or vectorized, got {self.chain_method!r}")
        if self.variant not in ("two_step", "compute", "single_step"):
            raise ValueError(f"variant must be 'two_step', 'compute' or 'single_step', got {self.variant!r}")
        if not 0 < self.target_accept < 1:
            raise ValueError(f"target_accept must be in (0, 1), got {self.target_accept!r}")
        if self.tasks is not None:
            self.tasks = list(self.tasks)
        if self.runs is not None:
            self.runs = list(self.runs)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["preprocessing"] = self.preprocessing.to_dict()
        d["priors"] = {k: [v[0], list(v[1])] for k, v in self.priors.items()}
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> FitConfig:
        d = json.loads(text)
        d["priors"] = {k: (v[0], tuple(v[1])) for k, v in d.get("priors", {}).items()}
        return cls(**d)
