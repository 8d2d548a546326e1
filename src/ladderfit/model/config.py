"""Every option of a fit in one serialisable object, saved with the fit."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict, dataclass, field

import numpy as np

from ..data.preprocess import Preprocessing
from .spec import ModelSpec, as_spec

__all__ = ["FitConfig", "FIRST_DRAWS", "RETRY_TARGET_ACCEPT", "RETRY_WARMUP_FACTOR", "SEED_MAX", "show_progress_bar"]

#: Draws per chain before the ESS and R-hat are checked when ``draws=None``: the count of fewest
#: expected seconds of drawing on a cold cache, ``fit``'s continuations replayed on 8 seeds of
#: each bundled ladder (``benchmarks/sampler_levers.py --first-draws``,
#: ``results/first_draws.json``). A fit that misses the goals (R-hat <= 1.01 unrounded, bulk
#: and tail ESS >= 400) continues, and its first continuation compiles a second program, about
#: 4-4.5 s there, against about 0.4 s for 200 more draws up front. The first 500 met the goals
#: on 7 of OLMo's 8 seeds and 6 of Pythia's, the first 700 on all: 700 cost 1.5 s of drawing per
#: fit on average, 600 1.6 s, 500 2.0 s.
FIRST_DRAWS = 700
#: A fit with divergent transitions at ``target_accept`` is warmed up and sampled again, from the
#: start with the same seed, at this step-size target (smaller steps): on the bundled ladders'
#: smallest sub-ladders the default's divergences are a few in thousands of transitions, in
#: places that move with the seed, which neither another parameterisation nor more warmup
#: removed; a smaller step does, at many times the leapfrog steps per draw there
#: (``benchmarks/sampler_grid.py``), a price paid only by the fits that need it. The second run
#: is kept unless it diverged more often than the first (a funnel that smaller steps can enter
#: deeper).
RETRY_TARGET_ACCEPT = 0.99
#: A second run that still had divergent transitions is followed by a third, at the same target
#: and seed, warmed up this many times as long: a longer warmup adapts the step size and mass
#: matrix on more of the posterior. As the second run, it removed the last divergences of
#: simulations of ``benchmarks/sbc.py`` and of Pythia's lm-eval files, but left one where the
#: second run at the first's warmup had none (the bundled Pythia ladder, ``benchmarks/sampler_grid.py``):
#: so it comes only after a second run that diverged, and only fits that need it pay.
RETRY_WARMUP_FACTOR = 2
#: The largest seed: NumPy's and JAX's seeds are 32-bit.
SEED_MAX = 2**32 - 1


def _is_int(value) -> bool:
    """A whole number (Python's or NumPy's), not a bool."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _names(value, what: str) -> list[str] | None:
    """``tasks``/``runs``: ``None`` (all), one name (a str is one task, not its letters) or a list."""
    if value is None:
        return None
    names = [value] if isinstance(value, str) else list(value)
    bad = [n for n in names if not isinstance(n, str) or not n.strip()]
    if not names or bad:
        raise ValueError(f"{what} must be None (all), a name or a list of names, none empty; got {value!r}")
    return list(dict.fromkeys(names))


@dataclass
class FitConfig:
    """Options of :func:`ladderfit.fit`.

    tasks, runs : which tasks and runs to fit (``None``: all in the data).
    model : the :class:`~ladderfit.model.spec.ModelSpec` (structure, intermediate feature, run
        effects), or its name (``"two_step"``, ``"single_step"``, ``"two_step/c4_loss"`` ...).
    preprocessing : :class:`~ladderfit.data.preprocess.Preprocessing` options.
    chains, warmup, draws, seed : NUTS settings; ``target_accept`` its step-size target
        (``retry_target_accept``: the target of a second, fresh run when the first had
        divergent transitions, :data:`RETRY_TARGET_ACCEPT`, kept unless it diverged more often,
        or when the first missed R-hat or ESS after its draws by need, kept if it mixed better;
        ``None``: no second run; the fit's config records the target its draws came from),
        ``max_tree_depth`` its tree limit, ``warmup_tree_depth`` the limit while warming up.
        Fewer than 300 warmup iterations is not faster: on the bundled ladder 250, 200 and
        150 left the mass matrix unadapted, with several times the leapfrog steps per draw and
        the wall time (``benchmarks/sampler_levers.py``, ``results/sampler_levers.json``).
        ``draws`` per chain: a number, exactly; ``None`` (the default) by need: 700
        (:data:`FIRST_DRAWS`), then more, as the ESS so far projects, while the bulk or tail
        ESS of a parameter is below ``ess_target`` or its R-hat above 1.01, up to
        ``max_draws`` per chain (:func:`ladderfit.model.bayes.sample`).
    float32_likelihood : NUTS computes each checkpoint's term of the step-2 likelihood in
        float32 and sums them in float64 (everything else, and the log-likelihood, predictive
        and predictions of the fit, stay float64): the same density within 0.01 nats at
        posterior draws, the gradient in about half the time. ``False``: all float64.
    chain_method : ``"parallel"``, ``"sequential"``, ``"vectorized"`` or ``"auto"``
        (parallel when JAX sees one device per chain, vectorized on one GPU, else sequential).
    priors : overrides of :data:`ladderfit.model.priors.DEFAULT_PRIORS`.
    progress_bar : NumPyro's progress bar: ``True``, ``False`` or ``"auto"`` (the default: on
        in a terminal and in a Jupyter kernel, off in tests, CI and pipes; see
        :func:`show_progress_bar`).
    """

    tasks: list[str] | None = None
    runs: list[str] | None = None
    model: ModelSpec = field(default_factory=as_spec)  # DEFAULT_MODEL
    preprocessing: Preprocessing = field(default_factory=Preprocessing)
    chains: int = 4
    warmup: int = 300
    draws: int | None = None
    seed: int = 0
    chain_method: str = "auto"
    target_accept: float = 0.95
    retry_target_accept: float | None = RETRY_TARGET_ACCEPT
    max_tree_depth: int = 10
    warmup_tree_depth: int = 6
    ess_target: float = 400.0
    max_draws: int = 1200
    float32_likelihood: bool = True

    @property
    def first_draws(self) -> int:
        """Draws per chain of the first (or only) sampling run."""
        return FIRST_DRAWS if self.draws is None else self.draws
    priors: dict = field(default_factory=dict)
    progress_bar: bool | str = "auto"

    def __post_init__(self) -> None:
        self.model = as_spec(self.model)
        if isinstance(self.preprocessing, dict):
            self.preprocessing = Preprocessing(**self.preprocessing)
        for name in ("chains", "warmup", "draws", "max_tree_depth", "warmup_tree_depth", "max_draws"):
            v = getattr(self, name)
            if name == "draws" and v is None:
                continue
            if not _is_int(v) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        if not _is_int(self.seed) or not 0 <= self.seed <= SEED_MAX:
            raise ValueError(f"seed must be a whole number from 0 to {SEED_MAX}, got {self.seed!r}")
        if not (isinstance(self.ess_target, (int, float)) and self.ess_target > 0):
            raise ValueError(f"ess_target must be a positive number, got {self.ess_target!r}")
        if self.chain_method not in ("auto", "parallel", "sequential", "vectorized"):
            raise ValueError(f"chain_method must be auto, parallel, sequential or vectorized, got {self.chain_method!r}")
        if not 0 < self.target_accept < 1:
            raise ValueError(f"target_accept must be in (0, 1), got {self.target_accept!r}")
        if self.retry_target_accept is not None and not (
                isinstance(self.retry_target_accept, (int, float)) and 0 < self.retry_target_accept < 1):
            raise ValueError(f"retry_target_accept must be None or in (0, 1), got {self.retry_target_accept!r}")
        if not isinstance(self.float32_likelihood, bool):
            raise ValueError(f"float32_likelihood must be True or False, got {self.float32_likelihood!r}")
        if not isinstance(self.progress_bar, bool) and self.progress_bar != "auto":
            raise ValueError(f"progress_bar must be True, False or 'auto', got {self.progress_bar!r}")
        self.tasks, self.runs = _names(self.tasks, "tasks"), _names(self.runs, "runs")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["preprocessing"] = self.preprocessing.to_dict()
        d["model"] = self.model.to_dict()
        d["priors"] = {k: [v[0], list(v[1])] for k, v in self.priors.items()}
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> FitConfig:
        d = json.loads(text)
        d["priors"] = {k: (v[0], tuple(v[1])) for k, v in d.get("priors", {}).items()}
        return cls(**d)


def show_progress_bar(setting: bool | str = "auto", *, stream=None, in_notebook: bool | None = None,
                      environ=None) -> bool:
    """Whether a fit shows NumPyro's progress bar: ``setting`` if it is ``True`` or ``False``.

    ``"auto"``: the environment variable ``LADDERFIT_PROGRESS_BAR`` (``1``/``0``) decides
    where set; else off under CI (``CI`` set) and in tests (pytest), on in a Jupyter kernel
    (NumPyro draws with ``tqdm.auto``: the notebook widget where ipywidgets is installed,
    text bars otherwise) and when ``stream`` (standard output) is a terminal, off otherwise
    (pipes, files). ``in_notebook`` and ``environ`` override the detection, for tests.
    """
    if isinstance(setting, bool):
        return setting
    if setting != "auto":
        raise ValueError(f"progress_bar must be True, False or 'auto', got {setting!r}")
    env = os.environ if environ is None else environ
    forced = str(env.get("LADDERFIT_PROGRESS_BAR", "")).strip().lower()
    if forced in ("1", "true", "yes", "on"):
        return True
    if forced in ("0", "false", "no", "off"):
        return False
    if str(env.get("CI", "")).strip().lower() not in ("", "0", "false") or "PYTEST_CURRENT_TEST" in env:
        return False
    if in_notebook is None:
        in_notebook = _in_jupyter_kernel()
    if in_notebook:
        return True
    stream = sys.stdout if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def _in_jupyter_kernel() -> bool:
    """True inside a Jupyter (IPython kernel) session: tqdm's own test."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
        return shell is not None and "IPKernelApp" in shell.config
    except Exception:  # noqa: BLE001
        return False
