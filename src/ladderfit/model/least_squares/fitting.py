"""The entry point, :func:`fit_least_squares`: check the options, read the points, fit every task
(:mod:`.task_fits`) and assemble the :class:`~ladderfit.model.least_squares.LeastSquaresFit`.
"""

from __future__ import annotations

import pandas as pd
from threadpoolctl import threadpool_limits

from ...data.preprocess import PAPER_PREPROCESSING, Preprocessing
from ...data.targets import as_targets, fill_flops
from ...errors import LadderDataError
from ..spec import as_spec
from .fit_result import LeastSquaresFit
from .points import check_options, fit_points, normalizers, select_data
from .step1 import HUBER_DELTA
from .task_fits import TaskModel, check_points, fit_single_step, fit_two_steps, task_chance

__all__ = ["fit_least_squares"]


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
    check_options(structure, n_starts, n_boot)
    df, tasks = select_data(data, tasks, structure, feature)
    ref = as_targets(reference_targets)
    if structure == "compute":
        ref = fill_flops(ref, df)
    p1, p2 = fit_points(df, structure, feature, prep)
    refs = normalizers(p1, structure)
    models, param_rows, agree_rows = _fit_tasks(df, tasks, p1, p2, structure, feature, ref, refs,
                                                n_starts=int(n_starts), seed=seed, ideal_point=ideal_point,
                                                n_boot=int(n_boot))
    return _assemble_fit(df, tasks, p1, p2, ref, refs, models, param_rows, agree_rows, structure=structure,
                         feature=feature, prep=prep, n_starts=n_starts, seed=seed, ideal_point=ideal_point,
                         n_boot=n_boot)


def _fit_tasks(df, tasks, p1, p2, structure, feature, ref, refs, *, n_starts, seed, ideal_point, n_boot):
    """Fit every task: ({task: TaskModel}, parameter rows, agreement rows)."""
    models, param_rows, agree_rows = {}, [], []
    with threadpool_limits(limits=1, user_api="blas"):  # the solvers' BLAS calls are on tiny matrices
        for task in tasks:
            q1 = p1[p1["task"] == task]
            check_points(q1, task, structure)
            m = TaskModel(structure=structure, chance=task_chance(df, task), refs=refs)
            if structure == "single_step":
                params, agree = fit_single_step(m, task, q1, ref, n_starts=n_starts, seed=seed,
                                                 ideal_point=ideal_point)
            else:
                params, agree = fit_two_steps(m, task, q1, p2[p2["task"] == task], feature, ref, n_starts=n_starts,
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


