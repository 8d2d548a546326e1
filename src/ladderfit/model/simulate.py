"""Simulated ladders with known parameters, drawn from the joint model's generative process.

Used to test that a fit recovers what it should (parameter recovery, interval coverage), and
handy for users who want to see how much a ladder design can tell them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .curves import accuracy_from_loss, scaling_law

__all__ = ["TaskTruth", "SimulatedLadder", "simulate_ladder", "default_truths"]


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


@dataclass
class SimulatedLadder:
    data: pd.DataFrame
    truths: list[TaskTruth]

    def truth_at(self, targets: pd.DataFrame, seed: int = 1, noisy: bool = True) -> pd.DataFrame:
        """Task loss and accuracy of target models: a fresh run (new run effect, noise) if ``noisy``."""
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


def simulate_ladder(
    truths: list[TaskTruth] | None = None,
    *,
    sizes: dict[str, float] | None = None,
    multipliers: tuple[float, ...] = (1, 2, 5, 10),
    checkpoints: int = 40,
    seed: int = 0,
) -> SimulatedLadder:
    """Simulate a ladder: every size x multiplier run, ``checkpoints`` evaluations each.

    Each checkpoint's task loss is ``L(N, D_ckpt) * exp(eps_run + eps)``, with a run-level
    eps_run ~ N(0, sigma_loss) and a small per-checkpoint eps ~ N(0, sigma_loss / 4); its
    accuracy is ``acc(L) + nu_run + N(0, sqrt(sigma_acc^2 + p(1-p)/n_items))``, nu_run ~ N(0, run_tau).
    """
    truths = truths or default_truths()
    sizes = sizes or {"190M": 1.9e8, "370M": 3.7e8, "760M": 7.6e8, "1B": 1.28e9}
    rng = np.random.default_rng(seed)
    rows = []
    for size, N in sizes.items():
        for mult in multipliers:
            run = f"{size}-{mult:g}xC"
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
