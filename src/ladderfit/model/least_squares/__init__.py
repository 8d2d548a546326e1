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

from .fit_result import LeastSquaresFit
from .fitting import fit_least_squares
from .step1 import HUBER_DELTA

__all__ = ["fit_least_squares", "LeastSquaresFit", "HUBER_DELTA"]
