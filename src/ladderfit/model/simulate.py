r"""Simulated ladders with known parameters, drawn from the joint model's generative process.

Used to test that a fit recovers what it should (parameter recovery, interval coverage), and
handy for users who want to see how much a ladder design can tell them.

Two evaluation stories are available.

**Independent noise** (:func:`simulate_ladder`, the default): each checkpoint's accuracy is the
task's curve plus Gaussian noise of the binomial size ``p(1-p)/n_items`` and ``sigma_acc`` —
the joint model's own likelihood.

**A fixed item set** (``simulate_ladder(..., items=True)``, :class:`ItemDesign`): real ladders
evaluate every model, the ladder's runs and the target alike, on the *same* items, so the
luck of the item draw is shared by all of them (and absorbed into the fitted curve), while
what differs between checkpoints is which items flip. For task t with chance level c, floor
f = c, loss law L(N, D) and curve acc(L) = c + (1 - c) sigmoid(-k (L - L0)):

*Items*, drawn once per task (``n_items`` of them, seeded by the design's seed and the task's
position): a difficulty t_j on the curve's logit scale and a guessability g_j,

.. math::

    t_j = \sum_{i=0}^{m-1} 2^{-i} \log\tan(\pi U_{ij} / 2),\quad U_{ij} \sim \mathcal U(0, 1),
    \qquad g_j \sim \mathrm{Beta}(\kappa c,\ \kappa (1 - c)).

*Item response*: a model whose latent logit is u answers item j correctly with probability

.. math::

    q_j(u) = g_j + (1 - g_j)\,\mathrm{sigmoid}\big(2^m (u - t_j)\big).

Each item's response is 2^m times steeper than the task's curve (``levels`` = m), and the
difficulties are spread so that the *population* of items follows the curve exactly:
``E_j[q_j(u)] = c + (1 - c) sigmoid(u)``. (The logistic law is self-decomposable:
``log tan(pi U / 2)`` has characteristic function ``sech(pi s / 2)``, and
``pi s / sinh(pi s) = [(pi s/2^m) / sinh(pi s/2^m)] prod_{i=1..m} sech(pi s / 2^i)``, so
t_j plus a logistic variable of scale 2^-m is a standard logistic variable; and E g_j = c.)
A finite item set's mean ``Q(u) = mean_j q_j(u)`` departs from the population curve by the
item draw's luck, shared by every model evaluated on it.

*Runs and checkpoints*: run r has an offset of its log loss and of its logit,
``eta_r ~ N(0, sigma_loss)``, ``nu_r ~ N(0, 4 run_tau / (1 - c))`` (``run_tau`` is the
accuracy offset's sd at the curve's steepest point), and checkpoint i a small loss jitter
``eps_ri ~ N(0, sigma_loss / 4)``:

.. math::

    L_{ri} = L(N_r, D_{ri})\, e^{\eta_r + \epsilon_{ri}},\qquad
    u_{ri} = -k (L_{ri} - L_0) + \nu_r,\qquad
    \mathrm{acc}_{ri} = \frac1n \sum_j X_{rij},\ X_{rij} \sim \mathrm{Bernoulli}(q_j(u_{ri})),

the Bernoulli draws independent between checkpoints (``sigma_acc`` plays no part). A target is
evaluated the same way (:meth:`SimulatedLadder.truth_at`): the same items, a fresh run
(eta, nu), fresh draws.

*Evaluation noise.* Given u, one evaluation's variance is

.. math::

    \mathrm{Var}(\mathrm{acc} \mid u) = \frac{1}{n^2}\sum_j q_j (1 - q_j)
        = \frac{\bar q (1 - \bar q) - \mathrm{Var}_j(q_j)}{n}
        \;\le\; \frac{\bar q (1 - \bar q)}{n},

below the binomial variance by the spread of the items' probabilities: most items are
either known or not. With the default design (m = 3, kappa = 0.5) the flip noise is 0.43-0.57
x the binomial sd ``sqrt(p(1-p)/n)`` over logits u in [-3, 3] and chance levels 0.2-0.5
(largest near the floor for low chance, where guesses flip). :func:`checkpoint_jitter
<ladderfit.data.preprocess.checkpoint_jitter>` on item-level ladders without loss jitter reads
0.48-0.60 x binomial. The OLMo ladder shows about the same: 0.39-0.57 x binomial between
neighbouring checkpoints (median 0.46 over nine tasks; BoolQ, at 4.2 x, is the exception), and
a median of 0.45 x between the 1xC runs and their seed reruns (4 sizes x 9 tasks, matched steps
of the second half of training).

*Seed-to-seed noise* of one checkpoint (fresh runs at one N, D) adds the run offsets:
``var = flips + (slope_L L sigma_loss)^2 + (slope_u sd(nu))^2`` with the curve's slopes in L
and u. Measured at a mid-ladder checkpoint (760M-5xC, ``default_truths(4, seed=0)``, 2000
fresh runs): flips alone 0.50-0.56 x binomial; with sigma_loss = 0.005 (the OLMo reruns'
relative loss spread has median 0.0067) and run_tau = 0.002, 0.55-0.70 x, well below the
binomial sd, as on real reruns (a bit above their 0.45: there a seed's loss offset seems not to
carry fully into its accuracy, here it does). ``default_truths``' own run deviations (seeds 0 and 1;
sigma_loss up to 0.02, run_tau up to 0.01, steep curves k up to 10) give 0.7-2.2 x binomial,
mostly through sigma_loss: noisier runs than OLMo's. ``tests/test_simulated_calibration.py``
checks these numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .curves import accuracy_from_loss, scaling_law, sigmoid

__all__ = ["TaskTruth", "ItemDesign", "ItemSet", "SimulatedLadder", "simulate_ladder", "default_truths"]


@dataclass(frozen=True)
class TaskTruth:
    """True parameters of one simulated task."""

    name: str
    E: float
    A: float
    alpha: float
    B: float
    beta: float
    L0: float
    k: float
    chance: float = 0.25
    sigma_loss: float = 0.01
    sigma_acc: float = 0.005
    run_tau: float = 0.005
    n_items: int = 2000

    def loss(self, N, D):
        """L(N, D) = E + A / N^alpha + B / D^beta (:func:`~ladderfit.model.curves.scaling_law`)."""
        return scaling_law(np.asarray(N, float), np.asarray(D, float), self.E, self.A, self.alpha, self.B, self.beta)

    def accuracy(self, L):
        """acc(L) = chance + (1 - chance) sigmoid(-k (L - L0)) (:func:`~ladderfit.model.curves.accuracy_from_loss`)."""
        return accuracy_from_loss(np.asarray(L, float), self.chance, self.k, self.L0)

    def logit(self, L):
        """The curve's logit u(L) = -k (L - L0)."""
        return -self.k * (np.asarray(L, float) - self.L0)

    @property
    def run_logit_sd(self) -> float:
        """sd of a run's logit offset in the item-level story: ``4 run_tau / (1 - chance)``, an
        accuracy offset of sd ``run_tau`` where the curve is steepest."""
        return 4.0 * self.run_tau / (1.0 - self.chance)


def default_truths(n_tasks: int = 3, seed: int = 0) -> list[TaskTruth]:
    """Plausible task parameters, loosely like OLMo ladder tasks (loss in bits per byte)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n_tasks):
        alpha, beta = rng.uniform(0.2, 0.45), rng.uniform(0.2, 0.45)
        E = rng.uniform(0.3, 0.7)
        # choose A, B so the N and D terms are each ~0.15-0.35 bpb at the ladder centre
        N_c, D_c = 5e8, 3e10
        A = rng.uniform(0.15, 0.35) * N_c**alpha
        B = rng.uniform(0.15, 0.35) * D_c**beta
        L_c = E + A / N_c**alpha + B / D_c**beta
        out.append(
            TaskTruth(
                name=f"task{i}",
                E=E, A=A, alpha=alpha, B=B, beta=beta,
                L0=L_c - rng.uniform(0.1, 0.3), k=rng.uniform(4.0, 10.0),
                chance=[0.25, 0.5, 0.2, 1 / 3][i % 4],
                sigma_loss=rng.uniform(0.005, 0.02), sigma_acc=rng.uniform(0.002, 0.01),
                run_tau=rng.uniform(0.002, 0.01), n_items=int(rng.choice([500, 1000, 2000, 5000])),
            )
        )  # fmt: skip
    return out


@dataclass(frozen=True)
class ItemDesign:
    """How a fixed item set is drawn (see the module docstring).

    ``levels`` (m): each item's response is 2^m times steeper than the task's curve (0: every
    item follows the curve, binomial noise); ``guess_concentration`` (kappa): how persistent a
    guess is, g_j ~ Beta(kappa c, kappa (1 - c)) (small: an unknown item is answered the same
    way by every checkpoint); ``seed``: the item draw's seed (None: the ladder's seed).
    """

    levels: int = 3
    guess_concentration: float = 0.5
    seed: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.levels, (int, np.integer)) or self.levels < 0:
            raise ValueError(f"levels must be a non-negative integer, got {self.levels!r}")
        if not self.guess_concentration > 0:
            raise ValueError(f"guess_concentration must be positive, got {self.guess_concentration!r}")


#: Bernoulli draws generated per block (bounds the memory of one evaluation call).
_BLOCK = 2_000_000


@dataclass(frozen=True)
class ItemSet:
    """One task's fixed items: difficulties ``t`` (logit scale), guessabilities ``g``, and the
    steepness ``sharpness`` = 2^m of each item's response."""

    difficulty: np.ndarray
    guess: np.ndarray
    sharpness: float

    @classmethod
    def draw(cls, n_items: int, chance: float, design: ItemDesign, rng: np.random.Generator) -> "ItemSet":
        """Draw ``n_items`` items whose population follows ``chance + (1 - chance) sigmoid(u)``."""
        m = int(design.levels)
        u = rng.uniform(size=(max(m, 1), n_items))
        scale = 0.5 ** np.arange(max(m, 1))[:, None]
        t = (scale * np.log(np.tan(0.5 * np.pi * u))).sum(0) if m else np.zeros(n_items)
        kappa = design.guess_concentration
        g = rng.beta(kappa * chance, kappa * (1.0 - chance), size=n_items)
        return cls(difficulty=t, guess=g, sharpness=float(2**m))

    @property
    def n_items(self) -> int:
        return len(self.difficulty)

    def probabilities(self, u) -> np.ndarray:
        """q_j(u) for logits ``u`` (any shape): shape ``u.shape + (n_items,)``."""
        u = np.asarray(u, float)[..., None]
        return self.guess + (1.0 - self.guess) * sigmoid(self.sharpness * (u - self.difficulty))

    def expected(self, u) -> np.ndarray:
        """The item set's expected accuracy ``Q(u) = mean_j q_j(u)`` (no flips)."""
        return self._blockwise(u, lambda q, _: q.mean(-1))

    def flip_sd(self, u) -> np.ndarray:
        """sd of one evaluation at logit ``u``: ``sqrt(sum_j q_j (1 - q_j)) / n``."""
        return self._blockwise(u, lambda q, _: np.sqrt((q * (1 - q)).sum(-1)) / self.n_items)

    def evaluate(self, u, rng: np.random.Generator) -> np.ndarray:
        """Measured accuracies at logits ``u``: the mean of independent Bernoulli(q_j(u)) draws."""
        return self._blockwise(u, lambda q, r: (r.random(q.shape) < q).mean(-1), rng)

    def _blockwise(self, u, fn, rng=None) -> np.ndarray:
        u = np.asarray(u, float)
        flat = u.reshape(-1)
        out = np.empty(flat.shape)
        step = max(1, _BLOCK // max(self.n_items, 1))
        for s in range(0, len(flat), step):
            out[s : s + step] = fn(self.probabilities(flat[s : s + step]), rng)
        return out.reshape(u.shape)


@dataclass
class SimulatedLadder:
    """A simulated ladder: the tidy table ``data``, the tasks' true parameters and, for the
    item-level story, each task's fixed :class:`ItemSet` (``items``, by task name)."""

    data: pd.DataFrame
    truths: list[TaskTruth]
    items: dict[str, ItemSet] | None = field(default=None)

    def truth_at(self, targets: pd.DataFrame, seed: int = 1, noisy: bool = True) -> pd.DataFrame:
        """Task loss and accuracy of target models: a fresh run (new run effect, noise) if ``noisy``.

        Columns ``target, task, task_loss, accuracy``. On an item-level ladder a noisy target
        is evaluated like the ladder's checkpoints (the same items, a fresh run offset, fresh
        Bernoulli draws), and the table adds the population curve, ``loss_curve`` and
        ``accuracy_curve``, and ``accuracy_items``: the item set's expected accuracy at the
        target's logit. ``noisy=False`` gives the population curve.
        """
        if self.items is not None:
            return self._item_truth_at(targets, seed, noisy)
        rng = np.random.default_rng(seed)
        rows = []
        for _, t in targets.iterrows():
            for tr in self.truths:
                L = tr.loss(t["N"], t["D"])
                if noisy:
                    L = L * np.exp(rng.normal(0, tr.sigma_loss))
                acc = tr.accuracy(L)
                if noisy:
                    sd = np.sqrt(tr.sigma_acc**2 + acc * (1 - acc) / tr.n_items)
                    acc = acc + rng.normal(0, tr.run_tau) + rng.normal(0, sd)
                rows.append({"target": t["target"], "task": tr.name, "task_loss": L, "accuracy": float(np.clip(acc, 0, 1))})
        return pd.DataFrame(rows)

    def item_curve_parameters(self, skip_fraction: float = 0.1) -> pd.DataFrame:
        """Step-2 parameters of each task's *item set* (item-level ladders only): the curve
        ``f + (1 - f) sigmoid(-k (L - L0))`` fitted by least squares to the item set's expected
        accuracy ``Q(u(L))`` over the losses of the ladder's step-2 checkpoints (the first
        ``skip_fraction`` of each run dropped). What one item set can teach a fit; the
        population values (:class:`TaskTruth`) differ by the item draw's luck.
        Columns: task, k, L0, floor, max_error (the largest |curve - Q| on those losses).
        """
        if self.items is None:
            raise ValueError("item_curve_parameters needs an item-level ladder (simulate_ladder(..., items=True))")
        from scipy.optimize import least_squares

        rows = []
        for tr in self.truths:
            d = self.data[self.data["task"] == tr.name].sort_values(["run", "step"])
            d = d[d.groupby("run").cumcount() >= np.floor(skip_fraction * d.groupby("run")["step"].transform("size"))]
            L = np.sort(d["task_loss"].to_numpy(float))
            Q = self.items[tr.name].expected(tr.logit(L))

            def resid(theta, L=L, Q=Q):
                return accuracy_from_loss(L, theta[0], theta[1], theta[2]) - Q

            fit = least_squares(resid, x0=[tr.chance, tr.k, tr.L0], bounds=([0.0, 0.0, -np.inf], [1.0, np.inf, np.inf]))
            f, k, L0 = fit.x
            rows.append({"task": tr.name, "k": k, "L0": L0, "floor": f, "max_error": float(np.abs(fit.fun).max())})
        return pd.DataFrame(rows)

    def _item_truth_at(self, targets: pd.DataFrame, seed: int, noisy: bool) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        N, D = targets["N"].to_numpy(float), targets["D"].to_numpy(float)
        parts = []
        for tr in self.truths:
            items = self.items[tr.name]
            L_curve = tr.loss(N, D)
            n = len(N)
            if noisy:
                L = L_curve * np.exp(rng.normal(0, tr.sigma_loss, n) + rng.normal(0, tr.sigma_loss / 4, n))
                u = tr.logit(L) + rng.normal(0, tr.run_logit_sd, n)
                acc = items.evaluate(u, rng)
            else:
                L, u = L_curve, tr.logit(L_curve)
                acc = tr.accuracy(L_curve)
            parts.append(pd.DataFrame({
                "target": targets["target"].to_numpy(), "task": tr.name, "task_loss": L, "accuracy": acc,
                "loss_curve": L_curve, "accuracy_curve": tr.accuracy(L_curve), "accuracy_items": items.expected(u),
            }))  # fmt: skip
        out = pd.concat(parts, ignore_index=True)
        # rows ordered target-major, as in the independent-noise story
        order = np.argsort(np.tile(np.arange(len(N)), len(self.truths)), kind="stable")
        return out.iloc[order].reset_index(drop=True)


def _ladder_runs(sizes: dict[str, float], multipliers: tuple[float, ...]) -> list[tuple[str, str, float, float]]:
    """(run, size, N, multiplier) of every size x multiplier run."""
    return [(f"{size}-{mult:g}xC", size, N, mult) for size, N in sizes.items() for mult in multipliers]


def simulate_ladder(
    truths: list[TaskTruth] | None = None,
    *,
    sizes: dict[str, float] | None = None,
    multipliers: tuple[float, ...] = (1, 2, 5, 10),
    checkpoints: int = 40,
    seed: int = 0,
    items: bool | ItemDesign = False,
) -> SimulatedLadder:
    """Simulate a ladder: every size x multiplier run, ``checkpoints`` evaluations each.

    Each checkpoint's task loss is ``L(N, D_ckpt) * exp(eps_run + eps)``, with a run-level
    eps_run ~ N(0, sigma_loss) and a small per-checkpoint eps ~ N(0, sigma_loss / 4); its
    accuracy is ``acc(L) + nu_run + N(0, sqrt(sigma_acc^2 + p(1-p)/n_items))``, nu_run ~ N(0, run_tau).

    ``items=True`` (or an :class:`ItemDesign`) evaluates every checkpoint on each task's fixed
    item set instead (the module docstring's item-level story); the result's ``items`` holds
    the item sets, and :meth:`SimulatedLadder.truth_at` evaluates targets on them.
    """
    truths = truths or default_truths()
    sizes = sizes or {"190M": 1.9e8, "370M": 3.7e8, "760M": 7.6e8, "1B": 1.28e9}
    if items is not False:
        design = ItemDesign() if items is True else items
        return _simulate_item_ladder(truths, sizes, multipliers, checkpoints, seed, design)
    rng = np.random.default_rng(seed)
    rows = []
    for run, size, N, mult in _ladder_runs(sizes, multipliers):
        D_final = 20 * N * mult
        steps = np.arange(1, checkpoints + 1)
        D = D_final * steps / checkpoints
        for tr in truths:
            eps = rng.normal(0, tr.sigma_loss) + rng.normal(0, tr.sigma_loss / 4, size=checkpoints)
            L = tr.loss(N, D) * np.exp(eps)
            p = tr.accuracy(L)
            sd = np.sqrt(tr.sigma_acc**2 + p * (1 - p) / tr.n_items)
            acc = np.clip(p + rng.normal(0, tr.run_tau) + rng.normal(0, sd, size=checkpoints), 0, 1)
            for s, d, l, a in zip(steps, D, L, acc):
                rows.append(
                    {"run": run, "size": size, "multiplier": float(mult), "N": N, "D": d, "step": int(s),
                     "task": tr.name, "task_loss": l, "accuracy": a, "chance": tr.chance, "n_items": tr.n_items}
                )  # fmt: skip
    return SimulatedLadder(pd.DataFrame(rows), truths)


def _simulate_item_ladder(truths, sizes, multipliers, checkpoints: int, seed: int, design: ItemDesign) -> SimulatedLadder:
    """The item-level story, vectorized over runs x checkpoints (one block per task)."""
    rng = np.random.default_rng(seed)
    item_seed = seed if design.seed is None else design.seed
    item_sets = {
        tr.name: ItemSet.draw(tr.n_items, tr.chance, design, np.random.default_rng([item_seed, 104729, i]))
        for i, tr in enumerate(truths)
    }
    runs = _ladder_runs(sizes, multipliers)
    R, C = len(runs), checkpoints
    N = np.array([r[2] for r in runs])[:, None]
    mult = np.array([float(r[3]) for r in runs])[:, None]
    steps = np.arange(1, C + 1)
    D = 20 * N * mult * steps / C  # (R, C)
    parts = []
    for tr in truths:
        eps = rng.normal(0, tr.sigma_loss, (R, 1)) + rng.normal(0, tr.sigma_loss / 4, (R, C))
        L = tr.loss(N, D) * np.exp(eps)
        u = tr.logit(L) + rng.normal(0, tr.run_logit_sd, (R, 1))
        acc = item_sets[tr.name].evaluate(u, rng)
        parts.append(pd.DataFrame({"task": tr.name, "task_loss": L.ravel(), "accuracy": acc.ravel(),
                                   "chance": tr.chance, "n_items": tr.n_items, "_r": np.repeat(np.arange(R), C),
                                   "_c": np.tile(np.arange(C), R)}))  # fmt: skip
    T = len(truths)
    df = pd.concat(parts, ignore_index=True)
    # rows ordered run, task, step, as in the independent-noise story
    df = df.iloc[np.lexsort((df["_c"].to_numpy(), np.repeat(np.arange(T), R * C), df["_r"].to_numpy()))]
    df = df.reset_index(drop=True)
    r, c = df.pop("_r").to_numpy(), df.pop("_c").to_numpy()
    meta = pd.DataFrame({
        "run": [runs[i][0] for i in r], "size": [runs[i][1] for i in r], "multiplier": mult[r, 0],
        "N": N[r, 0], "D": D[r, c], "step": steps[c],
    })  # fmt: skip
    df = pd.concat([meta, df], axis=1)
    return SimulatedLadder(df, list(truths), items=item_sets)
