r"""The paper's least-squares method: two separate point fits, then a chained prediction.

Bhagia et al. (2024), *Establishing Task Scaling Laws via Compute-Efficient Model Ladders*
(arXiv:2412.04403) predict a target model's task accuracy in two steps, fitted per task:

Step 1, task loss from model size N and training tokens D (one point per ladder run: the
feature averaged over the run's last evaluations, at its final D; :func:`step1_points`)::

    L(N, D) = E + A / N**alpha + B / D**beta          E >= 0, alpha, beta in [0, 10]

fitted by minimizing the Huber loss (delta = 1e-3) of the log residuals
``log L(N, D) - log L_obs`` with L-BFGS-B, A and B on the log scale (A = exp(log A)).
Internally N, D (and C) are divided by the ladder's geometric means, an exact
reparameterization (``A = A_norm * N_ref**alpha``) that makes the optimizer far less
sensitive to its start than raw units; ``params`` reports raw units.

Step 2, accuracy from task loss (all intermediate checkpoints after the first 10% of each run,
moving average of 5; :func:`step2_points`), plus the "ideal point" (L = 0, accuracy = 1)::

    acc(L) = a / (1 + exp(-k (L - L0))) + b

fitted by ordinary least squares (``scipy.optimize.least_squares``, trust-region reflective).
Sign convention: **k < 0**, so accuracy falls as loss rises; ``b`` is the lower asymptote
(accuracy at very high loss, bounded to chance +- 0.2, clipped to [0, 0.99]) and ``a + b`` the
upper one (a in [0, 1 - b], fitted as a = (1 - b) f with f in [0, 1], so a + b <= 1).
Bounds: k * L_ref in [-100, 0], L0 / L_ref in [-2, 10], L_ref the median loss fitted.

The prediction chains the two: ``acc(L(N_target, D_target))`` with step 1's point prediction.

Structures (``model=`` / ``structure=``; :class:`~ladderfit.model.spec.ModelSpec`)
    ``"two_step"``    the above (default).
    ``"compute"``     step 1 from training compute C (the ``flops`` column):
                      ``L(C) = E + A / C**alpha``; targets without FLOPs get
                      :func:`~ladderfit.data.targets.fill_flops`.
    ``"single_step"`` accuracy directly from (N, D), composing the two laws:
                      ``acc = a / (1 + exp(-k (L(N, D) - L0))) + b``. Because k, L0 and E
                      trade off exactly with A and B (only k (L - L0) is identified), we fix
                      **E = 0 and k = -1** (the latent L is in units of 1/|k|) and fit
                      A, alpha, B, beta, L0, a, b by least squares on the **final per-run
                      points** (accuracy and D averaged/placed as in step 1: mean accuracy
                      of the last ``step1_last_k`` evaluations at the final D). We use the
                      final points, not intermediate checkpoints, because an intermediate
                      checkpoint is not a fully-trained model of that D (its learning rate
                      has not decayed), which is why the paper's step 1 uses final points
                      too. With ``ideal_point`` the point (L = 0, accuracy 1) is added.

Curves
    The values of the curves come from :mod:`ladderfit.model.curves` (``scaling_law_centred``
    for step 1, ``sigmoid`` for the logistic); the analytic Jacobians here are their
    derivatives. The paper's sigmoid ``a s + b`` has a free upper asymptote ``a + b <= 1``, so
    it is written here as ``a * sigmoid(.) + b`` rather than with ``accuracy_from_loss``
    (which fixes ``a + b = 1``).

Multi-start
    The paper's fits are sensitive to the starting point. Every fit (per task and step) is run
    from ``n_starts`` starts: start 0 is a data-driven default, the others are random (seeded
    by ``seed`` and the task name, so a task's result does not depend on the other tasks
    fitted). The best objective wins. ``start_agreement`` records, per (task, step):
    ``n_starts``, ``n_converged`` (optimizer reported success and a finite objective),
    ``frac_best_objective`` (converged starts whose objective is within 1e-6 relative
    (1e-12 absolute) of the best), ``agreement`` (those that in addition predict the
    reference targets within 1% relative of the best start), and ``pred_spread`` (max - min
    of the prediction over the converged starts, at the reference targets, the largest over
    targets, in the units of the step's quantity: loss for step 1, accuracy fraction for
    step 2/single). The reference targets default to the paper's 7B-4T and 13B-5T; step 2's
    reference losses are step 1's best predictions for them.

Uncertainty (``predict``)
    Like the paper, only step 2 contributes to the accuracy interval. For ``two_step`` and
    ``compute`` the accuracy interval is the **delta-method confidence band of the fitted
    sigmoid** at step 1's point prediction L*: ``sd = sqrt(g' C g)``, g the gradient of acc(L*)
    in the parameters, C = s^2 (J'J)^+ from the least-squares Jacobian J at the optimum,
    s^2 = RSS / (n - p) (ideal point included), and the interval ``point +- z_level sd``
    clipped to [0, 1] (a normal interval). ``single_step`` uses the same construction with
    its own 7-parameter Jacobian. This band ignores step 1's error and the autocorrelation of
    the smoothed checkpoints, so it is too narrow (the paper's band covered the truth in only
    3 of 16 cases): it reproduces the paper's method, it is not a calibrated interval.
    The **task-loss** interval is a residual bootstrap of step 1 (``n_boot`` refits on
    log-residuals resampled with replacement, each refit started at the best fit): ``sd`` is
    the bootstrap standard deviation, the bounds are bootstrap percentiles, widened if needed
    to contain the point estimate. With ``n_boot=0`` the task-loss interval is the point and
    sd is 0. ``mean`` and ``median`` hold the point estimate in every row.

Minimum data
    Step 1 needs at least (number of step-1 parameters + 1) distinct final points per task:
    6 distinct final (N, D) for ``two_step`` (5 parameters), 8 for ``single_step``
    (7 parameters; the ideal point not counted), each with at least 2 distinct N and 2
    distinct D; 4 distinct C for ``compute`` (3 parameters). Step 2 needs at least 5
    checkpoints. Fewer raise :class:`~ladderfit.errors.LadderDataError`.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import least_squares, minimize
from scipy.stats import norm
from threadpoolctl import threadpool_limits

from ..data.preprocess import PAPER_PREPROCESSING, Preprocessing, step1_points, step2_points
from ..data.schema import validate
from ..data.targets import as_targets, fill_flops
from ..data.tasks import task_info
from ..errors import LadderDataError
from . import curves
from .spec import STRUCTURES, as_spec

__all__ = ["fit_least_squares", "LeastSquaresFit", "HUBER_DELTA"]

HUBER_DELTA = 1e-3
#: Columns that cannot serve as the intermediate feature.
_NOT_FEATURES = ("run", "size", "N", "D", "step", "task", "accuracy", "multiplier", "replicate",
                 "flops", "n_items", "chance")
_OBJ_RTOL, _OBJ_ATOL, _PRED_RTOL = 1e-6, 1e-12, 0.01


# --------------------------------------------------------------------------------------------
# Step 1: L = E + exp(la) e^{-alpha x} [+ exp(lb) e^{-beta z}], x = log(N / N_ref),
# z = log(D / D_ref) (compute: x = log(C / C_ref), one term); A = exp(la) N_ref**alpha in raw
# units. theta = (E, la, alpha[, lb, beta]). Huber loss on log residuals.
# --------------------------------------------------------------------------------------------


def _step1_loss(theta, X):
    """Step 1's loss at the normalized log inputs X (n x 1 for compute, n x 2 for (N, D))."""
    if X.shape[1] == 1:  # compute: L = E + a e^{-alpha x}, the second term absent
        return curves.scaling_law_centred(X[:, 0], 0.0, theta[0], np.exp(theta[1]), theta[2], 0.0, 0.0)
    return curves.scaling_law_centred(X[:, 0], X[:, 1], theta[0], np.exp(theta[1]), theta[2],
                                      np.exp(theta[3]), theta[4])


def _step1_jacobian(theta, X):
    """d L / d theta (n x p): 1 for E; t and -x t for (la, alpha), t = exp(la) e^{-alpha x}."""
    jac = np.zeros((X.shape[0], len(theta)))
    jac[:, 0] = 1.0
    for j in range(X.shape[1]):
        t = np.exp(theta[1 + 2 * j]) * np.exp(-theta[2 + 2 * j] * X[:, j])
        jac[:, 1 + 2 * j] = t
        jac[:, 2 + 2 * j] = -X[:, j] * t
    return jac


def _huber(r, delta):
    a = np.abs(r)
    return np.where(a <= delta, 0.5 * r**2, delta * (a - 0.5 * delta))


def _step1_objective(theta, X, logy, delta):
    """Huber loss of the log residuals ``log L - log y`` and its gradient, both divided by
    delta**2 (same minimizer, better scaled)."""
    pred = np.maximum(_step1_loss(theta, X), 1e-300)
    r = np.log(pred) - logy
    f = _huber(r, delta).sum() / delta**2
    g = (np.clip(r, -delta, delta) / pred) @ _step1_jacobian(theta, X) / delta**2
    return f, g


def _step1_bounds(n_terms):
    return [(0.0, None)] + [(-50.0, 50.0), (0.0, 10.0)] * n_terms


def _step1_starts(y, n_terms, n_starts, rng):
    ymin, ymean = float(np.min(y)), float(np.mean(y))
    E0 = 0.5 * ymin
    starts = [np.array([E0] + [np.log(max(ymean - E0, 1e-6) / n_terms), 0.3] * n_terms)]
    for _ in range(n_starts - 1):
        th = [rng.uniform(0.0, 0.95 * ymin)]
        for _ in range(n_terms):
            th += [np.log(ymean) + rng.uniform(-4.0, 1.0), rng.uniform(0.0, 1.5)]
        starts.append(np.array(th))
    return starts


def _step1_fit_from(theta0, X, logy, delta):
    """One L-BFGS-B run from theta0: (theta, Huber objective, converged)."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        res = minimize(
            _step1_objective, theta0, args=(X, logy, delta), jac=True, method="L-BFGS-B",
            bounds=_step1_bounds((len(theta0) - 1) // 2),
            options={"maxiter": 3000, "ftol": 1e-14, "gtol": 1e-9},
        )
    obj = float(res.fun) * delta**2
    return res.x, obj, bool(res.success) and np.isfinite(obj)


# --------------------------------------------------------------------------------------------
# Step 2: acc = a sigmoid(kn (xn - L0n)) + b, xn = L / L_ref; k = kn / L_ref, L0 = L0n L_ref,
# fitted as theta = (f, b, kn, L0n) with a = (1 - b) f, f in [0, 1], so a + b <= 1.
# --------------------------------------------------------------------------------------------


def _sigmoid_eval(theta, xn):
    """Step 2's accuracy at normalized losses xn and its Jacobian (n x 4) in theta.

    The paper's ``a / (1 + e^{-k (L - L0)}) + b`` has a free upper asymptote a + b, so it is
    ``a * curves.sigmoid(.) + b``, not ``curves.accuracy_from_loss`` (which has a + b = 1).
    """
    f, b, kn, L0n = theta
    a = (1.0 - b) * f
    s = curves.sigmoid(kn * (xn - L0n))
    val = a * s + b
    ds = s * (1.0 - s)
    jac = np.column_stack([(1.0 - b) * s, 1.0 - f * s, a * ds * (xn - L0n), -a * ds * kn])
    return val, jac


def _sigmoid_bounds(chance):
    lo = [0.0, max(0.0, chance - 0.2), -100.0, -2.0]  # f = a / (1 - b), b, k L_ref, L0 / L_ref
    hi = [1.0, min(0.99, chance + 0.2), 0.0, 10.0]
    return lo, hi


def _sigmoid_starts(xn, acc, chance, ideal, n_starts, rng):
    lo, hi = _sigmoid_bounds(chance)
    b0 = float(np.clip(chance, lo[1], hi[1]))
    a0 = (1.0 - b0) if ideal else float(np.clip(np.max(acc) - b0 + 0.05, 0.05, 1.0 - b0))
    # Default start: with a, b fixed, logit((acc - b) / a) = k (x - L0) is linear in x.
    p = np.clip((acc - b0) / a0, 0.02, 0.98)
    slope, icpt = np.polyfit(xn, np.log(p / (1 - p)), 1) if np.ptp(xn) > 0 else (-1.0, 1.0)
    k0 = float(np.clip(slope, lo[2] + 1e-3, -1e-2))
    L00 = float(np.clip(-icpt / k0, lo[3] + 1e-3, hi[3] - 1e-3))
    starts = [np.array([a0 / (1.0 - b0), b0, k0, L00])]
    for _ in range(n_starts - 1):
        starts.append(np.array([
            rng.uniform(0.05, 1.0), rng.uniform(lo[1], hi[1]),
            -np.exp(rng.uniform(np.log(0.1), np.log(50.0))), rng.uniform(-1.0, 4.0),
        ]))
    return [np.clip(s, np.array(lo) + 1e-9, np.array(hi) - 1e-9) for s in starts]


def _least_squares_from(fun, theta0, lo, hi):
    """One trust-region-reflective run of ``fun(theta) -> (residuals, Jacobian)`` from theta0:
    (theta, sum of squared residuals, converged)."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        res = least_squares(
            lambda t: fun(t)[0], theta0, jac=lambda t: fun(t)[1], bounds=(lo, hi),
            method="trf", x_scale="jac", ftol=1e-12, xtol=1e-12, gtol=1e-12, max_nfev=500,
        )
    obj = float(np.sum(res.fun**2))
    return res.x, obj, bool(res.status > 0) and np.isfinite(obj)


def _delta_cov(jac, resid, n_params):
    """s^2 (J'J)^+ with s^2 = RSS / max(n - p, 1); zeros if anything is not finite."""
    n = len(resid)
    s2 = float(np.sum(resid**2)) / max(n - n_params, 1)
    with np.errstate(all="ignore"):
        cov = s2 * np.linalg.pinv(jac.T @ jac)
    if not np.all(np.isfinite(cov)):
        cov = np.zeros((n_params, n_params))
    return cov


def _delta_sd(grad, cov):
    """Delta-method sd ``sqrt(g' C g)`` per row of grad; 0 where not finite."""
    var = np.einsum("ij,jk,ik->i", grad, cov, grad)
    sd = np.sqrt(np.clip(var, 0.0, None))
    return np.where(np.isfinite(sd), sd, 0.0)


# --------------------------------------------------------------------------------------------
# Single step: acc = a sigmoid(L0 - L(N, D)) + b, L = exp(la) e^{-alpha x} + exp(lb) e^{-beta z}
# (E = 0, k = -1); theta = (L0, la, alpha, lb, beta, f, b), a = (1 - b) f.
# --------------------------------------------------------------------------------------------


def _single_step_eval(theta, X):
    """Accuracy and its Jacobian (n x 7). X: n x 2 normalized log N, log D; rows with inf are
    the ideal point (L = 0)."""
    L0, la, al, lb, be, f, b = theta
    a = (1.0 - b) * f
    ideal = ~np.isfinite(X[:, 0])
    Xf = np.where(ideal[:, None], 0.0, X)
    L = np.where(ideal, 0.0, curves.scaling_law_centred(Xf[:, 0], Xf[:, 1], 0.0, np.exp(la), al, np.exp(lb), be))
    s = curves.sigmoid(L0 - L)  # -k (L - L0) with k = -1
    val = a * s + b
    # Jacobian: the two terms of L, dL/d(la, alpha, lb, beta) = (tA, -x tA, tB, -z tB).
    tA = np.where(ideal, 0.0, np.exp(la) * np.exp(-al * Xf[:, 0]))
    tB = np.where(ideal, 0.0, np.exp(lb) * np.exp(-be * Xf[:, 1]))
    ds = a * s * (1.0 - s)
    jac = np.column_stack([ds, -ds * tA, ds * tA * Xf[:, 0], -ds * tB, ds * tB * Xf[:, 1], (1.0 - b) * s, 1.0 - f * s])
    return val, jac


def _single_step_bounds(chance):
    lo_s, hi_s = _sigmoid_bounds(chance)
    return [-50.0, -50.0, 0.0, -50.0, 0.0, lo_s[0], lo_s[1]], [50.0, 50.0, 10.0, 50.0, 10.0, hi_s[0], hi_s[1]]


def _single_step_starts(acc, chance, ideal, n_starts, rng):
    lo, hi = _single_step_bounds(chance)
    b0 = float(np.clip(chance, lo[6], hi[6]))
    f0 = 1.0 if ideal else float(np.clip((np.max(acc) - b0 + 0.05) / (1.0 - b0), 0.05, 1.0))
    starts = [np.array([0.0, 0.0, 0.3, 0.0, 0.3, f0, b0])]
    for _ in range(n_starts - 1):
        starts.append(np.array([
            rng.uniform(-3.0, 5.0), rng.uniform(-3.0, 2.0), rng.uniform(0.0, 1.5),
            rng.uniform(-3.0, 2.0), rng.uniform(0.0, 1.5), rng.uniform(0.05, 1.0), rng.uniform(lo[6], hi[6]),
        ]))
    return [np.clip(s, np.array(lo) + 1e-9, np.array(hi) - 1e-9) for s in starts]


# --------------------------------------------------------------------------------------------
# Multi-start driver and the per-task model.
# --------------------------------------------------------------------------------------------


def _multistart(fit_from, starts, predict_ref):
    """Run every start; return the best theta and the agreement record."""
    results = [fit_from(s) for s in starts]
    conv = [(th, obj) for th, obj, ok in results if ok]
    pool = conv if conv else [(th, obj) for th, obj, _ in results if np.isfinite(obj)]
    if not pool:
        raise LadderDataError("every start of the least-squares fit failed (non-finite objective)")
    best_th, best_obj = min(pool, key=lambda t: t[1])
    best_pred = predict_ref(best_th)
    n_best = n_agree = 0
    preds = []
    for th, obj in conv:
        p = predict_ref(th)
        preds.append(p)
        if abs(obj - best_obj) <= _OBJ_RTOL * abs(best_obj) + _OBJ_ATOL:
            n_best += 1
            if np.all(np.abs(p - best_pred) <= _PRED_RTOL * np.abs(best_pred)):
                n_agree += 1
    nc = len(conv)
    spread = float(np.max(np.ptp(np.vstack(preds), axis=0))) if preds else 0.0
    record = {
        "n_starts": len(starts),
        "n_converged": nc,
        "frac_best_objective": n_best / nc if nc else 0.0,
        "agreement": n_agree / nc if nc else 0.0,
        "pred_spread": spread if np.isfinite(spread) else 0.0,
        "best_objective": best_obj,
    }
    return best_th, record


def _log_inputs(frame: pd.DataFrame, structure: str, refs: dict) -> np.ndarray:
    """Step 1's normalized inputs: ``log(C / C_ref)`` (n x 1) for compute, else
    ``log(N / N_ref), log(D / D_ref)`` (n x 2)."""
    if structure == "compute":
        return np.log(frame["flops"].to_numpy(float) / refs["C_ref"])[:, None]
    return np.column_stack([
        np.log(frame["N"].to_numpy(float) / refs["N_ref"]),
        np.log(frame["D"].to_numpy(float) / refs["D_ref"]),
    ])


@dataclass
class _TaskModel:
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
        return _log_inputs(targets, self.structure, self.refs)

    def loss(self, X, theta=None):
        return _step1_loss(self.s1_theta if theta is None else theta, X)

    def acc_two_step(self, L, theta=None):
        return _sigmoid_eval(self.s2_theta if theta is None else theta, np.asarray(L, float) / self.L_ref)


def _chance(df: pd.DataFrame, task: str) -> float:
    if "chance" in df.columns:
        return float(df.loc[df["task"] == task, "chance"].iloc[0])
    return float(task_info(task).chance)


def _task_rng(seed: int, task: str, stage: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), zlib.crc32(task.encode()), stage])


def _check_points(p1: pd.DataFrame, task: str, structure: str) -> None:
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
# --------------------------------------------------------------------------------------------
# The fit object.
# --------------------------------------------------------------------------------------------


@dataclass
class LeastSquaresFit:
    """Result of :func:`fit_least_squares`.

    Attributes
    ----------
    params : tidy table ``task, step, parameter, value`` in raw units (N in parameters, D in
        tokens, C in FLOPs, the feature's own units). ``step`` is ``"step1"`` (E, A, alpha,
        B, beta; compute: E, A, alpha), ``"step2"`` (a, b, k, L0) or ``"single_step"``
        (A, alpha, B, beta, L0, a, b, and the fixed E = 0, k = -1).
    config : the options of the fit.
    start_agreement : one row per (task, step); see the module docstring.
    tasks : the tasks fitted.
    step1_data, step2_data : the points each step was fitted on.
    """

    params: pd.DataFrame
    config: dict
    start_agreement: pd.DataFrame
    tasks: list[str]
    step1_data: pd.DataFrame
    step2_data: pd.DataFrame
    _models: dict = field(repr=False, default_factory=dict)
    _ladder: pd.DataFrame | None = field(repr=False, default=None)

    def predict(self, targets: object = None, levels=(50, 90, 95)) -> pd.DataFrame:
        """Point predictions and intervals for each (target, task).

        Columns: ``target, task, N, D, quantity, mean, median, sd`` and ``lower_L, upper_L``
        for each level L (percent). ``quantity`` is ``"task_loss"`` (the fitted feature;
        not for single_step) or ``"accuracy"`` (a fraction). See the module docstring for
        what the intervals are.
        """
        levels = [float(lv) for lv in levels]
        for lv in levels:
            if not 0 < lv < 100:
                raise ValueError(f"levels are percentages in (0, 100), got {lv!r}")
        tg = as_targets(targets)
        if self.config["structure"] == "compute":
            tg = fill_flops(tg, self._ladder)
        names = [f"{lv:g}" for lv in levels]
        rows = []
        for task in self.tasks:
            m = self._models[task]
            base = pd.DataFrame({"target": tg["target"], "task": task, "N": tg["N"], "D": tg["D"]})
            X = m.s1_X(tg)
            if m.structure == "single_step":
                val, grad = _single_step_eval(m.ss_theta, X)
                rows.append(_acc_rows(base, val, _delta_sd(grad, m.ss_cov), levels, names))
                continue
            L = m.loss(X)
            rows.append(_loss_rows(base, L, _bootstrap_losses(m, X), levels, names))
            val, grad = m.acc_two_step(L)
            rows.append(_acc_rows(base, val, _delta_sd(grad, m.s2_cov), levels, names))
        out = pd.concat(rows, ignore_index=True)
        cols = ["target", "task", "N", "D", "quantity", "mean", "median", "sd"]
        for nm in names:
            cols += [f"lower_{nm}", f"upper_{nm}"]
        out = out[cols]
        out["_q"] = out["quantity"].map({"task_loss": 0, "accuracy": 1})
        out["_t"] = out["target"].map({t: i for i, t in enumerate(tg["target"])})
        out = out.sort_values(["_t", "task", "_q"], kind="stable").drop(columns=["_q", "_t"])
        num = out.columns[out.columns.get_loc("mean"):]
        if out[num].isna().any().any():  # pragma: no cover - guarded above
            raise RuntimeError("NaN in least-squares predictions")
        return out.reset_index(drop=True)


def _bootstrap_losses(m: _TaskModel, X) -> np.ndarray | None:
    """Step 1's loss at X under each bootstrap refit (n_boot x n_targets), or None."""
    if m.s1_boot is None or not len(m.s1_boot):
        return None
    return np.vstack([m.loss(X, th) for th in m.s1_boot])


def _loss_rows(base, L, boot, levels, names):
    """Task-loss rows: the point L, the bootstrap sd and percentile bounds widened to hold L."""
    sd = boot.std(axis=0, ddof=1) if boot is not None and len(boot) > 1 else np.zeros_like(L)
    r = base.assign(quantity="task_loss", mean=L, median=L, sd=sd)
    for lv, nm in zip(levels, names):
        if boot is None:
            lo, hi = L.copy(), L.copy()
        else:
            lo = np.percentile(boot, 50 - lv / 2, axis=0)
            hi = np.percentile(boot, 50 + lv / 2, axis=0)
        r[f"lower_{nm}"] = np.minimum(lo, L)
        r[f"upper_{nm}"] = np.maximum(hi, L)
    return r


def _acc_rows(base, val, sd, levels, names):
    """Accuracy rows: the point clipped to [0, 1] and normal bounds ``point +- z sd``."""
    point = np.clip(val, 0.0, 1.0)
    r = base.assign(quantity="accuracy", mean=point, median=point, sd=sd)
    for lv, nm in zip(levels, names):
        z = norm.ppf(0.5 + lv / 200)
        r[f"lower_{nm}"] = np.clip(point - z * sd, 0.0, 1.0)
        r[f"upper_{nm}"] = np.clip(point + z * sd, 0.0, 1.0)
    return r


# --------------------------------------------------------------------------------------------
# The fitting function.
# --------------------------------------------------------------------------------------------


def fit_least_squares(
    data: pd.DataFrame,
    *,
    tasks=None,
    model=None,
    structure: str | None = None,
    feature: str | None = None,
    prep: Preprocessing = PAPER_PREPROCESSING,
    n_starts: int = 20,
    seed: int = 0,
    ideal_point: bool = True,
    n_boot: int = 100,
    reference_targets: object = None,
) -> LeastSquaresFit:
    """Fit the paper's least-squares scaling laws per task (see the module docstring).

    Parameters
    ----------
    data : tidy ladder table (:mod:`ladderfit.data.schema`).
    tasks : task names, or None for every task in the data.
    model : the :class:`~ladderfit.model.spec.ModelSpec` or its name: structure ``"two_step"``,
        ``"single_step"`` or ``"compute"``, and the intermediate loss column (``task_loss``,
        ``c4_loss``, ``task_ce``, ...); run effects have no least-squares form. ``structure``
        and ``feature`` change those parts of it.
    prep : which checkpoints feed each step (:class:`~ladderfit.data.preprocess.Preprocessing`;
        default the paper's, every smoothed checkpoint).
    n_starts : starts per fit (start 0 data-driven, the rest random).
    seed : seed of the random starts and the bootstrap.
    ideal_point : add (loss 0, accuracy 1) to the accuracy fit.
    n_boot : residual-bootstrap refits of step 1 for the task-loss interval (0: none).
    reference_targets : targets at which start agreement is judged (default: the paper's).
    """
    # the paper's two steps unless told (the Bayesian fit's default is the single step)
    spec = as_spec(model if model is not None else "two_step", structure=structure, feature=feature)
    if spec.run_effects:
        raise LadderDataError(f"model {spec.name!r}: least squares has no run effects")
    structure, feature = spec.structure, spec.feature
    _check_options(structure, n_starts, n_boot)
    df, tasks = _select_data(data, tasks, structure, feature)
    ref = as_targets(reference_targets)
    if structure == "compute":
        ref = fill_flops(ref, df)
    p1, p2 = _fit_points(df, structure, feature, prep)
    refs = _normalizers(p1, structure)
    models, param_rows, agree_rows = _fit_tasks(df, tasks, p1, p2, structure, feature, ref, refs,
                                                n_starts=int(n_starts), seed=seed, ideal_point=ideal_point,
                                                n_boot=int(n_boot))
    return _assemble_fit(df, tasks, p1, p2, ref, refs, models, param_rows, agree_rows, structure=structure,
                         feature=feature, prep=prep, n_starts=n_starts, seed=seed, ideal_point=ideal_point,
                         n_boot=n_boot)


def _fit_tasks(df, tasks, p1, p2, structure, feature, ref, refs, *, n_starts, seed, ideal_point, n_boot):
    """Fit every task: ({task: _TaskModel}, parameter rows, agreement rows)."""
    models, param_rows, agree_rows = {}, [], []
    with threadpool_limits(limits=1, user_api="blas"):  # the solvers' BLAS calls are on tiny matrices
        for task in tasks:
            q1 = p1[p1["task"] == task]
            _check_points(q1, task, structure)
            m = _TaskModel(structure=structure, chance=_chance(df, task), refs=refs)
            if structure == "single_step":
                params, agree = _fit_single_step(m, task, q1, ref, n_starts=n_starts, seed=seed,
                                                 ideal_point=ideal_point)
            else:
                params, agree = _fit_two_steps(m, task, q1, p2[p2["task"] == task], feature, ref, n_starts=n_starts,
                                               seed=seed, ideal_point=ideal_point, n_boot=n_boot)
            models[task] = m
            param_rows += params
            agree_rows += agree
    return models, param_rows, agree_rows


def _assemble_fit(df, tasks, p1, p2, ref, refs, models, param_rows, agree_rows, *, structure, feature, prep,
                  n_starts, seed, ideal_point, n_boot) -> LeastSquaresFit:
    """The :class:`LeastSquaresFit` of the fitted tasks, with its config and tables."""
    config = {
        "method": "least_squares",
        "structure": structure,
        "feature": feature if structure != "single_step" else None,
        "tasks": list(tasks),
        "prep": prep.to_dict(),
        "n_starts": int(n_starts),
        "seed": int(seed),
        "ideal_point": bool(ideal_point),
        "n_boot": int(n_boot),
        "huber_delta": HUBER_DELTA,
        "reference_targets": list(ref["target"]),
        "normalizers": refs,
    }
    agreement = pd.DataFrame(agree_rows)
    agreement.insert(2, "reference", ", ".join(ref["target"]))
    return LeastSquaresFit(
        params=pd.DataFrame(param_rows, columns=["task", "step", "parameter", "value"]), config=config,
        start_agreement=agreement, tasks=list(tasks),
        step1_data=p1.reset_index(drop=True), step2_data=p2.reset_index(drop=True),
        _models=models, _ladder=df,
    )


def _check_options(structure, n_starts, n_boot) -> None:
    if structure not in STRUCTURES:
        raise ValueError(f"structure must be one of {STRUCTURES}, got {structure!r}")
    if int(n_starts) < 1:
        raise ValueError(f"n_starts must be >= 1, got {n_starts!r}")
    if int(n_boot) < 0:
        raise ValueError(f"n_boot must be >= 0, got {n_boot!r}")


def _select_data(data, tasks, structure: str, feature: str) -> tuple[pd.DataFrame, list[str]]:
    """Validate the ladder table for the structure and keep the tasks: (rows of the tasks, tasks)."""
    if not isinstance(data, pd.DataFrame):
        raise LadderDataError(f"data: expected a pandas DataFrame, got {type(data).__name__}")
    uses_feature = structure != "single_step"
    if uses_feature:
        if feature not in data.columns:
            raise LadderDataError(
                f"intermediate feature column {feature!r} is not in the data "
                f"(columns: {', '.join(map(str, data.columns))})"
            )
        if feature in _NOT_FEATURES:
            raise LadderDataError(f"{feature!r} cannot be the intermediate feature; use a loss column such as task_loss")
    if structure == "compute" and "flops" not in data.columns:
        raise LadderDataError("the compute structure needs a 'flops' column (training FLOPs) in the data")
    df = validate(data, require=(feature,) if uses_feature else ())
    available = sorted(df["task"].unique())
    if tasks is None:
        tasks = available
    elif isinstance(tasks, str):
        tasks = [tasks]
    tasks = list(dict.fromkeys(tasks))
    if not tasks:
        raise LadderDataError("tasks: none given")
    missing = [t for t in tasks if t not in available]
    if missing:
        raise LadderDataError(f"task(s) {missing} not in the data; it has {', '.join(available)}")
    df = df[df["task"].isin(tasks)].reset_index(drop=True)
    if uses_feature and df[feature].isna().any():
        raise LadderDataError(f"column {feature!r} has missing values")
    return df, tasks


def _fit_points(df, structure: str, feature: str, prep: Preprocessing) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The points of step 1 (final per run) and step 2 (checkpoints; empty for the single
    step, whose step-1 points carry the accuracy instead of the feature)."""
    if structure == "single_step":
        p1 = step1_points(df.assign(_acc=df["accuracy"]), "_acc", prep)
        p1 = p1.drop(columns=["accuracy", "_acc_sd"]).rename(columns={"_acc": "accuracy"})
        return p1, p1.iloc[0:0]
    return step1_points(df, feature, prep), step2_points(df, feature, prep)


def _normalizers(p1: pd.DataFrame, structure: str) -> dict:
    """Geometric means of N, D (and C for compute) over the step-1 points."""
    return {
        "N_ref": float(np.exp(np.log(p1["N"]).mean())),
        "D_ref": float(np.exp(np.log(p1["D"]).mean())),
        "C_ref": float(np.exp(np.log(p1["flops"]).mean())) if structure == "compute" else 1.0,
    }


def _fit_single_step(m: _TaskModel, task, q1, ref, *, n_starts, seed, ideal_point):
    """Fit the single step of a task into m: (parameter rows, agreement rows)."""
    X = m.s1_X(q1)
    y = q1["accuracy"].to_numpy(float)
    if ideal_point:
        X = np.vstack([X, [np.inf, np.inf]])
        y = np.append(y, 1.0)
    lo, hi = _single_step_bounds(m.chance)
    Xr = m.s1_X(ref)

    def fun(t):
        v, j = _single_step_eval(t, X)
        return v - y, j

    th, rec = _multistart(
        lambda s: _least_squares_from(fun, s, lo, hi),
        _single_step_starts(y, m.chance, ideal_point, n_starts, _task_rng(seed, task, 3)),
        lambda t: _single_step_eval(t, Xr)[0],
    )
    r, j = fun(th)
    m.ss_theta, m.ss_cov = th, _delta_cov(j, r, len(th))
    L0, la, al, lb, be, f, b = th
    N_ref, D_ref = m.refs["N_ref"], m.refs["D_ref"]
    values = (("E", 0.0), ("A", np.exp(la) * N_ref**al), ("alpha", al), ("B", np.exp(lb) * D_ref**be),
              ("beta", be), ("k", -1.0), ("L0", L0), ("a", (1.0 - b) * f), ("b", b))
    return [(task, "single_step", name, float(v)) for name, v in values], [{"task": task, "step": "single_step", **rec}]


def _fit_two_steps(m: _TaskModel, task, q1, q2, feature, ref, *, n_starts, seed, ideal_point, n_boot):
    """Fit step 1 then step 2 of a task (two_step or compute) into m: (parameter rows, agreement rows)."""
    Xr = m.s1_X(ref)
    rec1 = _fit_step1(m, task, q1, feature, Xr, n_starts=n_starts, seed=seed, n_boot=n_boot)
    rec2 = _fit_step2(m, task, q2, feature, _step1_loss(m.s1_theta, Xr), n_starts=n_starts, seed=seed,
                      ideal_point=ideal_point)
    params = _step1_params(task, m.s1_theta, m.structure, m.refs)
    f, b, kn, L0n = m.s2_theta
    for name, v in (("a", (1.0 - b) * f), ("b", b), ("k", kn / m.L_ref), ("L0", L0n * m.L_ref)):
        params.append((task, "step2", name, float(v)))
    agree = [{"task": task, "step": "step1", **rec1}, {"task": task, "step": "step2", **rec2}]
    return params, agree


def _fit_step1(m: _TaskModel, task, q1, feature, Xr, *, n_starts, seed, n_boot) -> dict:
    """Fit step 1 of a task (multi-start Huber fit, then the residual bootstrap) into m;
    returns the agreement record."""
    X = m.s1_X(q1)
    y = q1[feature].to_numpy(float)
    logy = np.log(y)
    th, rec = _multistart(
        lambda s: _step1_fit_from(s, X, logy, HUBER_DELTA),
        _step1_starts(y, X.shape[1], n_starts, _task_rng(seed, task, 1)),
        lambda t: _step1_loss(t, Xr),
    )
    m.s1_theta = th
    if n_boot:
        m.s1_boot = _bootstrap_step1(th, X, logy, n_boot, _task_rng(seed, task, 4))
    return rec


def _bootstrap_step1(theta, X, logy, n_boot, rng) -> np.ndarray | None:
    """Residual bootstrap: ``n_boot`` refits from theta on ``log L + resampled log residuals``;
    the finite refits (n x p), or None if none."""
    pred = _step1_loss(theta, X)
    res = logy - np.log(pred)
    boots = []
    for _ in range(n_boot):
        ly = np.log(pred) + res[rng.integers(0, len(res), len(res))]
        tb, ob, _ = _step1_fit_from(theta, X, ly, HUBER_DELTA)
        if np.isfinite(ob) and np.all(np.isfinite(tb)):
            boots.append(tb)
    return np.array(boots) if boots else None


def _step1_params(task, theta, structure, refs) -> list[tuple]:
    """Step 1's parameter rows in raw units (A = exp(la) N_ref**alpha, ...)."""
    if structure == "compute":
        values = (("E", theta[0]), ("A", np.exp(theta[1]) * refs["C_ref"] ** theta[2]), ("alpha", theta[2]))
    else:
        values = (("E", theta[0]), ("A", np.exp(theta[1]) * refs["N_ref"] ** theta[2]), ("alpha", theta[2]),
                  ("B", np.exp(theta[3]) * refs["D_ref"] ** theta[4]), ("beta", theta[4]))
    return [(task, "step1", name, float(v)) for name, v in values]


def _fit_step2(m: _TaskModel, task, q2, feature, L_at_ref, *, n_starts, seed, ideal_point) -> dict:
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
    lo, hi = _sigmoid_bounds(m.chance)
    xr = L_at_ref / L_ref

    def fun(t):
        v, j = _sigmoid_eval(t, xn)
        return v - acc, j

    th, rec = _multistart(
        lambda s: _least_squares_from(fun, s, lo, hi),
        _sigmoid_starts(xn, acc, m.chance, ideal_point, n_starts, _task_rng(seed, task, 2)),
        lambda t: _sigmoid_eval(t, xr)[0],
    )
    r, j = fun(th)
    m.s2_theta, m.s2_cov = th, _delta_cov(j, r, 4)
    return rec
