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

Variants (``variant=``)
    ``"two_step"``    the above (default).
    ``"compute"``     step 1 from training compute C (the ``flops`` column):
                      ``L(C) = E + A / C**alpha``; targets without FLOPs get
                      :func:`~ladderfit.targets.fill_flops`.
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
    checkpoints. Fewer raise :class:`~ladderfit.schema.LadderDataError`.
"""

from __future__ import annotations

import contextlib
import zlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import least_squares, minimize
from scipy.special import expit
from scipy.stats import norm
from threadpoolctl import threadpool_limits

from ..data.preprocess import PAPER_PREPROCESSING, Preprocessing, step1_points, step2_points
from ..errors import LadderDataError
from ..data.schema import validate
from ..data.targets import as_targets, fill_flops
from ..data.tasks import task_info
from .spec import as_spec

__all__ = ["fit_least_squares", "LeastSquaresFit", "VARIANTS", "HUBER_DELTA"]

VARIANTS: tuple[str, ...] = ("two_step", "single_step", "compute")
HUBER_DELTA = 1e-3
#: Columns that cannot serve as the intermediate feature.
_NOT_FEATURES = ("run", "size", "N", "D", "step", "task", "accuracy", "multiplier", "replicate",
                 "flops", "n_items", "chance")
_OBJ_RTOL, _OBJ_ATOL, _PRED_RTOL = 1e-6, 1e-12, 0.01
_EXP_MAX = 700.0


@contextlib.contextmanager
def _single_threaded_blas():
    """Run tiny-matrix optimizers with one BLAS thread (SciPy's solvers call BLAS on 5 x 5
    matrices; a multi-threaded BLAS makes them an order of magnitude slower on a busy machine)."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def _exp(z):
    return np.exp(np.minimum(z, _EXP_MAX))


# --------------------------------------------------------------------------------------------
# Step 1: L = E + exp(la - alpha x) [+ exp(lb - beta y)], x = log(N / N_ref), y = log(D / D_ref)
# (normalized units; A = exp(la) * N_ref**alpha in raw units). Huber on log residuals.
# --------------------------------------------------------------------------------------------


def _s1_terms(theta, X):
    """Predicted loss and its Jacobian (n x p) in the normalized parameters."""
    E = theta[0]
    n_terms = (len(theta) - 1) // 2
    pred = np.full(X.shape[0], E, dtype=float)
    jac = np.zeros((X.shape[0], len(theta)))
    jac[:, 0] = 1.0
    for j in range(n_terms):
        la, al = theta[1 + 2 * j], theta[2 + 2 * j]
        t = _exp(la - al * X[:, j])
        pred += t
        jac[:, 1 + 2 * j] = t
        jac[:, 2 + 2 * j] = -X[:, j] * t
    return pred, jac


def _huber(r, delta):
    a = np.abs(r)
    return np.where(a <= delta, 0.5 * r**2, delta * (a - 0.5 * delta))


def _s1_objective(theta, X, logy, delta):
    """Huber loss of log residuals, divided by delta**2 (same minimizer, better scaled)."""
    pred, jac = _s1_terms(theta, X)
    pred = np.maximum(pred, 1e-300)
    r = np.log(pred) - logy
    f = _huber(r, delta).sum() / delta**2
    g = (np.clip(r, -delta, delta) / pred) @ jac / delta**2
    return f, g


def _s1_bounds(n_terms):
    return [(0.0, None)] + [(-50.0, 50.0), (0.0, 10.0)] * n_terms


def _s1_starts(y, n_terms, n_starts, rng):
    ymin, ymean = float(np.min(y)), float(np.mean(y))
    E0 = 0.5 * ymin
    starts = [np.array([E0] + [np.log(max(ymean - E0, 1e-6) / n_terms), 0.3] * n_terms)]
    for _ in range(n_starts - 1):
        th = [rng.uniform(0.0, 0.95 * ymin)]
        for _ in range(n_terms):
            th += [np.log(ymean) + rng.uniform(-4.0, 1.0), rng.uniform(0.0, 1.5)]
        starts.append(np.array(th))
    return starts


def _s1_fit_one(theta0, X, logy, delta):
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        res = minimize(
            _s1_objective, theta0, args=(X, logy, delta), jac=True, method="L-BFGS-B",
            bounds=_s1_bounds((len(theta0) - 1) // 2),
            options={"maxiter": 3000, "ftol": 1e-14, "gtol": 1e-9},
        )
    obj = float(res.fun) * delta**2
    return res.x, obj, bool(res.success) and np.isfinite(obj)


# --------------------------------------------------------------------------------------------
# Step 2: acc = a * expit(kn (xn - L0n)) + b, xn = L / L_ref; k = kn / L_ref, L0 = L0n * L_ref,
# fitted with a = (1 - b) f, f in [0, 1], so that the upper asymptote a + b is at most 1.
# --------------------------------------------------------------------------------------------


def _sig_eval(theta, xn):
    f, b, kn, L0n = theta
    a = (1.0 - b) * f
    s = expit(kn * (xn - L0n))  # = 1 / (1 + exp(-k (L - L0)))
    val = a * s + b
    ds = s * (1.0 - s)
    jac = np.column_stack([(1.0 - b) * s, 1.0 - f * s, a * ds * (xn - L0n), -a * ds * kn])
    return val, jac


def _sig_bounds(chance):
    lo = [0.0, max(0.0, chance - 0.2), -100.0, -2.0]  # f = a / (1 - b), b, k L_ref, L0 / L_ref
    hi = [1.0, min(0.99, chance + 0.2), 0.0, 10.0]
    return lo, hi


def _sig_starts(xn, acc, chance, ideal, n_starts, rng):
    lo, hi = _sig_bounds(chance)
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


def _ls_fit_one(fun, theta0, lo, hi):
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
    var = np.einsum("ij,jk,ik->i", grad, cov, grad)
    sd = np.sqrt(np.clip(var, 0.0, None))
    return np.where(np.isfinite(sd), sd, 0.0)


# --------------------------------------------------------------------------------------------
# Single step: acc = a * expit(u - exp(la - alpha x) - exp(lb - beta y)) + b
# (E = 0, k = -1: u = L0, A = exp(la) N_ref**alpha, B = exp(lb) D_ref**beta).
# --------------------------------------------------------------------------------------------


def _single_eval(theta, X):
    """X: n x 2 normalized log N, log D; rows with inf are the ideal point (L = 0)."""
    u, la, al, lb, be, f, b = theta
    a = (1.0 - b) * f
    ideal = ~np.isfinite(X[:, 0])
    Xf = np.where(ideal[:, None], 0.0, X)
    tA = np.where(ideal, 0.0, _exp(la - al * Xf[:, 0]))
    tB = np.where(ideal, 0.0, _exp(lb - be * Xf[:, 1]))
    s = expit(u - tA - tB)
    ds = a * s * (1.0 - s)
    val = a * s + b
    jac = np.column_stack([ds, -ds * tA, ds * tA * Xf[:, 0], -ds * tB, ds * tB * Xf[:, 1], (1.0 - b) * s, 1.0 - f * s])
    return val, jac


def _single_bounds(chance):
    lo_s, hi_s = _sig_bounds(chance)
    return [-50.0, -50.0, 0.0, -50.0, 0.0, lo_s[0], lo_s[1]], [50.0, 50.0, 10.0, 50.0, 10.0, hi_s[0], hi_s[1]]


def _single_starts(acc, chance, ideal, n_starts, rng):
    lo, hi = _single_bounds(chance)
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


def _multistart(fit_one, starts, predict_ref):
    """Run every start; return best theta and the agreement record."""
    results = [fit_one(s) for s in starts]
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


@dataclass
class _TaskModel:
    variant: str
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
        if self.variant == "compute":
            return np.log(targets["flops"].to_numpy(float) / self.refs["C_ref"])[:, None]
        return np.column_stack([
            np.log(targets["N"].to_numpy(float) / self.refs["N_ref"]),
            np.log(targets["D"].to_numpy(float) / self.refs["D_ref"]),
        ])

    def loss(self, X, theta=None):
        return _s1_terms(self.s1_theta if theta is None else theta, X)[0]

    def acc_two_step(self, L, theta=None):
        return _sig_eval(self.s2_theta if theta is None else theta, np.asarray(L, float) / self.L_ref)


def _chance(df: pd.DataFrame, task: str) -> float:
    if "chance" in df.columns:
        return float(df.loc[df["task"] == task, "chance"].iloc[0])
    return float(task_info(task).chance)


def _task_rng(seed: int, task: str, stage: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), zlib.crc32(task.encode()), stage])


def _check_points(p1: pd.DataFrame, task: str, variant: str) -> None:
    if variant == "compute":
        n = p1["flops"].nunique()
        if n < 4:
            raise LadderDataError(
                f"task {task!r}: too few runs for the compute fit: need at least 4 distinct final FLOPs; got {n}"
            )
        return
    n = len(p1[["N", "D"]].drop_duplicates())
    nN, nD = p1["N"].nunique(), p1["D"].nunique()
    need = 8 if variant == "single_step" else 6
    if n < need or nN < 2 or nD < 2:
        raise LadderDataError(
            f"task {task!r}: too few runs for the {variant} fit: need at least {need} distinct final (N, D) "
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
        if self.config["variant"] == "compute":
            tg = fill_flops(tg, self._ladder)
        names = [f"{lv:g}" for lv in levels]
        rows = []
        for task in self.tasks:
            m = self._models[task]
            base = pd.DataFrame({"target": tg["target"], "task": task, "N": tg["N"], "D": tg["D"]})
            if m.variant == "single_step":
                X = np.column_stack([np.log(tg["N"].to_numpy(float) / m.refs["N_ref"]),
                                     np.log(tg["D"].to_numpy(float) / m.refs["D_ref"])])
                val, grad = _single_eval(m.ss_theta, X)
                rows.append(_acc_rows(base, val, _delta_sd(grad, m.ss_cov), levels, names))
                continue
            X = m.s1_X(tg)
            L = m.loss(X)
            if m.s1_boot is not None and len(m.s1_boot):
                boot = np.vstack([m.loss(X, th) for th in m.s1_boot])  # n_boot x n_targets
                sd = boot.std(axis=0, ddof=1) if len(boot) > 1 else np.zeros_like(L)
            else:
                boot, sd = None, np.zeros_like(L)
            r = base.assign(quantity="task_loss", mean=L, median=L, sd=sd)
            for lv, nm in zip(levels, names):
                if boot is None:
                    lo, hi = L.copy(), L.copy()
                else:
                    lo = np.percentile(boot, 50 - lv / 2, axis=0)
                    hi = np.percentile(boot, 50 + lv / 2, axis=0)
                r[f"lower_{nm}"] = np.minimum(lo, L)
                r[f"upper_{nm}"] = np.maximum(hi, L)
            rows.append(r)
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


def _acc_rows(base, val, sd, levels, names):
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
    data : tidy ladder table (:mod:`ladderfit.schema`).
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
    spec = as_spec(model, structure=structure, feature=feature)
    if spec.run_effects:
        raise LadderDataError(f"model {spec.name!r}: least squares has no run effects")
    with _single_threaded_blas():
        return _fit(data, tasks=tasks, feature=spec.feature, variant=spec.structure, prep=prep, n_starts=n_starts,
                    seed=seed, ideal_point=ideal_point, n_boot=n_boot, reference_targets=reference_targets)


def _fit(data, *, tasks, feature, variant, prep, n_starts, seed, ideal_point, n_boot, reference_targets):
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    if int(n_starts) < 1:
        raise ValueError(f"n_starts must be >= 1, got {n_starts!r}")
    if int(n_boot) < 0:
        raise ValueError(f"n_boot must be >= 0, got {n_boot!r}")
    if not isinstance(data, pd.DataFrame):
        raise LadderDataError(f"data: expected a pandas DataFrame, got {type(data).__name__}")
    if variant != "single_step":
        if feature not in data.columns:
            raise LadderDataError(
                f"intermediate feature column {feature!r} is not in the data "
                f"(columns: {', '.join(map(str, data.columns))})"
            )
        if feature in _NOT_FEATURES:
            raise LadderDataError(f"{feature!r} cannot be the intermediate feature; use a loss column such as task_loss")
    if variant == "compute" and "flops" not in data.columns:
        raise LadderDataError("the compute variant needs a 'flops' column (training FLOPs) in the data")
    require = (feature,) if variant != "single_step" else ()
    df = validate(data, require=require)
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
    if variant != "single_step" and df[feature].isna().any():
        raise LadderDataError(f"column {feature!r} has missing values")

    ref = as_targets(reference_targets)
    if variant == "compute":
        ref = fill_flops(ref, df)

    # The points.
    if variant == "single_step":
        p1 = step1_points(df.assign(_acc=df["accuracy"]), "_acc", prep)
        p1 = p1.drop(columns=["accuracy", "_acc_sd"]).rename(columns={"_acc": "accuracy"})
        p2 = p1.iloc[0:0]
    else:
        p1 = step1_points(df, feature, prep)
        p2 = step2_points(df, feature, prep)

    N_ref = float(np.exp(np.log(p1["N"]).mean()))
    D_ref = float(np.exp(np.log(p1["D"]).mean()))
    C_ref = float(np.exp(np.log(p1["flops"]).mean())) if variant == "compute" else 1.0
    refs = {"N_ref": N_ref, "D_ref": D_ref, "C_ref": C_ref}

    models, param_rows, agree_rows = {}, [], []
    for task in tasks:
        q1 = p1[p1["task"] == task]
        _check_points(q1, task, variant)
        chance = _chance(df, task)
        m = _TaskModel(variant=variant, chance=chance, refs=refs)

        if variant == "single_step":
            X = np.column_stack([np.log(q1["N"].to_numpy(float) / N_ref), np.log(q1["D"].to_numpy(float) / D_ref)])
            y = q1["accuracy"].to_numpy(float)
            if ideal_point:
                X = np.vstack([X, [np.inf, np.inf]])
                y = np.append(y, 1.0)
            lo, hi = _single_bounds(chance)
            Xr = np.column_stack([np.log(ref["N"].to_numpy(float) / N_ref), np.log(ref["D"].to_numpy(float) / D_ref)])

            def fun(t, X=X, y=y):
                v, j = _single_eval(t, X)
                return v - y, j

            th, rec = _multistart(
                lambda s: _ls_fit_one(fun, s, lo, hi),
                _single_starts(y, chance, ideal_point, int(n_starts), _task_rng(seed, task, 3)),
                lambda t: _single_eval(t, Xr)[0],
            )
            r, j = fun(th)
            m.ss_theta, m.ss_cov = th, _delta_cov(j, r, len(th))
            agree_rows.append({"task": task, "step": "single_step", **rec})
            u, la, al, lb, be, f, b = th
            a = (1.0 - b) * f
            for name, val in (("E", 0.0), ("A", np.exp(la) * N_ref**al), ("alpha", al), ("B", np.exp(lb) * D_ref**be),
                              ("beta", be), ("k", -1.0), ("L0", u), ("a", a), ("b", b)):
                param_rows.append((task, "single_step", name, float(val)))
            models[task] = m
            continue

        # Step 1.
        X = m.s1_X(q1)
        y = q1[feature].to_numpy(float)
        logy = np.log(y)
        Xr = m.s1_X(ref)
        n_terms = X.shape[1]
        rng1 = _task_rng(seed, task, 1)
        th1, rec1 = _multistart(
            lambda s: _s1_fit_one(s, X, logy, HUBER_DELTA),
            _s1_starts(y, n_terms, int(n_starts), rng1),
            lambda t: _s1_terms(t, Xr)[0],
        )
        m.s1_theta = th1
        agree_rows.append({"task": task, "step": "step1", **rec1})
        if n_boot:
            pred = _s1_terms(th1, X)[0]
            res = logy - np.log(pred)
            boots = []
            rngb = _task_rng(seed, task, 4)
            for _ in range(int(n_boot)):
                ly = np.log(pred) + res[rngb.integers(0, len(res), len(res))]
                tb, ob, okb = _s1_fit_one(th1, X, ly, HUBER_DELTA)
                if np.isfinite(ob) and np.all(np.isfinite(tb)):
                    boots.append(tb)
            m.s1_boot = np.array(boots) if boots else None
        E = th1[0]
        if variant == "compute":
            names = (("E", E), ("A", np.exp(th1[1]) * C_ref ** th1[2]), ("alpha", th1[2]))
        else:
            names = (("E", E), ("A", np.exp(th1[1]) * N_ref ** th1[2]), ("alpha", th1[2]),
                     ("B", np.exp(th1[3]) * D_ref ** th1[4]), ("beta", th1[4]))
        for name, val in names:
            param_rows.append((task, "step1", name, float(val)))

        # Step 2.
        q2 = p2[p2["task"] == task]
        if len(q2) < 5:
            raise LadderDataError(f"task {task!r}: step 2 needs at least 5 checkpoints after preprocessing; got {len(q2)}")
        L = q2[feature].to_numpy(float)
        acc = q2["accuracy"].to_numpy(float)
        m.L_ref = L_ref = float(np.median(L))
        xn = L / L_ref
        if ideal_point:
            xn = np.append(xn, 0.0)
            acc = np.append(acc, 1.0)
        lo, hi = _sig_bounds(chance)
        xr = _s1_terms(th1, Xr)[0] / L_ref

        def fun2(t, xn=xn, acc=acc):
            v, j = _sig_eval(t, xn)
            return v - acc, j

        th2, rec2 = _multistart(
            lambda s: _ls_fit_one(fun2, s, lo, hi),
            _sig_starts(xn, acc, chance, ideal_point, int(n_starts), _task_rng(seed, task, 2)),
            lambda t: _sig_eval(t, xr)[0],
        )
        r2, j2 = fun2(th2)
        m.s2_theta, m.s2_cov = th2, _delta_cov(j2, r2, 4)
        agree_rows.append({"task": task, "step": "step2", **rec2})
        f, b, kn, L0n = th2
        a = (1.0 - b) * f
        for name, val in (("a", a), ("b", b), ("k", kn / L_ref), ("L0", L0n * L_ref)):
            param_rows.append((task, "step2", name, float(val)))
        models[task] = m

    params = pd.DataFrame(param_rows, columns=["task", "step", "parameter", "value"])
    agreement = pd.DataFrame(agree_rows)
    agreement.insert(2, "reference", ", ".join(ref["target"]))
    config = {
        "method": "least_squares",
        "variant": variant,
        "feature": feature if variant != "single_step" else None,
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
    return LeastSquaresFit(
        params=params, config=config, start_agreement=agreement, tasks=list(tasks),
        step1_data=p1.reset_index(drop=True), step2_data=p2.reset_index(drop=True),
        _models=models, _ladder=df,
    )
