"""One task's fits: :class:`TaskModel` holds what they leave (step 1's parameters and bootstrap,
step 2's parameters and covariance, or the single step's), and the fitting functions fill it:
step 1 (multi-start Huber fit, then the bootstrap), step 2 (multi-start least squares, judged
at step 1's predictions for the reference targets), or the single step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ...data.tasks import task_info
from ...errors import LadderDataError
from .bootstrap import bootstrap_step1
from .delta_method import delta_cov
from .multistart import least_squares_from, multistart, task_rng
from .single_step import single_step_bounds, single_step_eval, single_step_starts
from .step1 import HUBER_DELTA, log_inputs, step1_fit_from, step1_loss, step1_params, step1_starts
from .step2 import sigmoid_bounds, sigmoid_eval, sigmoid_starts

__all__ = ["TaskModel", "fit_single_step", "fit_two_steps", "fit_step1", "fit_step2", "task_chance", "check_points"]


@dataclass
class TaskModel:
    """What one task's fits leave: step 1's parameters (on the normalized inputs) and bootstrap
    refits, step 2's parameters, covariance and loss scale ``L_ref``, or the single step's
    parameters and covariance; and the normalizers ``refs``."""

    structure: str
    chance: float
    # step 1 (two_step / compute)
    s1_theta: np.ndarray | None = None
    s1_boot: np.ndarray | None = None  # n_boot x p
    # step 2 (two_step / compute)
    s2_theta: np.ndarray | None = None
    s2_cov: np.ndarray | None = None
    L_ref: float = 1.0
    # single step
    ss_theta: np.ndarray | None = None
    ss_cov: np.ndarray | None = None
    refs: dict = field(default_factory=dict)  # normalizers: N_ref, D_ref, C_ref

    def s1_X(self, targets: pd.DataFrame) -> np.ndarray:
        return log_inputs(targets, self.structure, self.refs)

    def loss(self, X, theta=None):
        return step1_loss(self.s1_theta if theta is None else theta, X)

    def acc_two_step(self, L, theta=None):
        return sigmoid_eval(self.s2_theta if theta is None else theta, np.asarray(L, float) / self.L_ref)


def task_chance(df: pd.DataFrame, task: str) -> float:
    if "chance" in df.columns:
        return float(df.loc[df["task"] == task, "chance"].iloc[0])
    return float(task_info(task).chance)


def check_points(p1: pd.DataFrame, task: str, structure: str) -> None:
    if structure == "compute":
        n = p1["flops"].nunique()
        if n < 4:
            raise LadderDataError(
                f"task {task!r}: too few runs for the compute fit: need at least 4 distinct final FLOPs; got {n}"
            )
        return
    n = len(p1[["N", "D"]].drop_duplicates())
    nN, nD = p1["N"].nunique(), p1["D"].nunique()
    need = 8 if structure == "single_step" else 6
    if n < need or nN < 2 or nD < 2:
        raise LadderDataError(
            f"task {task!r}: too few runs for the {structure} fit: need at least {need} distinct final (N, D) "
            f"points with at least 2 distinct N and 2 distinct D; got {n} points, {nN} N, {nD} D"
        )


def fit_single_step(m: TaskModel, task, q1, ref, *, n_starts, seed, ideal_point):
    """Fit the single step of a task into m: (parameter rows, agreement rows)."""
    X = m.s1_X(q1)
    y = q1["accuracy"].to_numpy(float)
    if ideal_point:
        X = np.vstack([X, [np.inf, np.inf]])
        y = np.append(y, 1.0)
    lo, hi = single_step_bounds(m.chance)
    Xr = m.s1_X(ref)

    def fun(t):
        v, j = single_step_eval(t, X)
        return v - y, j

    th, rec = multistart(
        lambda s: least_squares_from(fun, s, lo, hi),
        single_step_starts(y, m.chance, ideal_point, n_starts, task_rng(seed, task, 3)),
        lambda t: single_step_eval(t, Xr)[0],
    )
    r, j = fun(th)
    m.ss_theta, m.ss_cov = th, delta_cov(j, r, len(th))
    L0, la, al, lb, be, f, b = th
    N_ref, D_ref = m.refs["N_ref"], m.refs["D_ref"]
    values = (("E", 0.0), ("A", np.exp(la) * N_ref**al), ("alpha", al), ("B", np.exp(lb) * D_ref**be),
              ("beta", be), ("k", -1.0), ("L0", L0), ("a", (1.0 - b) * f), ("b", b))
    return [(task, "single_step", name, float(v)) for name, v in values], [{"task": task, "step": "single_step", **rec}]


def fit_two_steps(m: TaskModel, task, q1, q2, feature, ref, *, n_starts, seed, ideal_point, n_boot):
    """Fit step 1 then step 2 of a task (two_step or compute) into m: (parameter rows, agreement rows)."""
    Xr = m.s1_X(ref)
    rec1 = fit_step1(m, task, q1, feature, Xr, n_starts=n_starts, seed=seed, n_boot=n_boot)
    rec2 = fit_step2(m, task, q2, feature, step1_loss(m.s1_theta, Xr), n_starts=n_starts, seed=seed,
                      ideal_point=ideal_point)
    params = step1_params(task, m.s1_theta, m.structure, m.refs)
    f, b, kn, L0n = m.s2_theta
    for name, v in (("a", (1.0 - b) * f), ("b", b), ("k", kn / m.L_ref), ("L0", L0n * m.L_ref)):
        params.append((task, "step2", name, float(v)))
    agree = [{"task": task, "step": "step1", **rec1}, {"task": task, "step": "step2", **rec2}]
    return params, agree


def fit_step1(m: TaskModel, task, q1, feature, Xr, *, n_starts, seed, n_boot) -> dict:
    """Fit step 1 of a task (multi-start Huber fit, then the residual bootstrap) into m;
    returns the agreement record."""
    X = m.s1_X(q1)
    y = q1[feature].to_numpy(float)
    logy = np.log(y)
    th, rec = multistart(
        lambda s: step1_fit_from(s, X, logy, HUBER_DELTA),
        step1_starts(y, X.shape[1], n_starts, task_rng(seed, task, 1)),
        lambda t: step1_loss(t, Xr),
    )
    m.s1_theta = th
    if n_boot:
        m.s1_boot = bootstrap_step1(th, X, logy, n_boot, task_rng(seed, task, 4))
    return rec


def fit_step2(m: TaskModel, task, q2, feature, L_at_ref, *, n_starts, seed, ideal_point) -> dict:
    """Fit step 2 of a task (accuracy from the feature, plus the ideal point) into m; returns
    the agreement record, judged at step 1's losses L_at_ref for the reference targets."""
    if len(q2) < 5:
        raise LadderDataError(f"task {task!r}: step 2 needs at least 5 checkpoints after preprocessing; got {len(q2)}")
    L = q2[feature].to_numpy(float)
    acc = q2["accuracy"].to_numpy(float)
    m.L_ref = L_ref = float(np.median(L))
    xn = L / L_ref
    if ideal_point:
        xn = np.append(xn, 0.0)
        acc = np.append(acc, 1.0)
    lo, hi = sigmoid_bounds(m.chance)
    xr = L_at_ref / L_ref

    def fun(t):
        v, j = sigmoid_eval(t, xn)
        return v - acc, j

    th, rec = multistart(
        lambda s: least_squares_from(fun, s, lo, hi),
        sigmoid_starts(xn, acc, m.chance, ideal_point, n_starts, task_rng(seed, task, 2)),
        lambda t: sigmoid_eval(t, xr)[0],
    )
    r, j = fun(th)
    m.s2_theta, m.s2_cov = th, delta_cov(j, r, 4)
    return rec
