"""The model's inputs: the tidy table turned into the arrays of :class:`ModelData`.

Step 1 sees one point per (run, task) and step 2 the intermediate checkpoints, as
:mod:`ladderfit.data.preprocess` selects them; per-task constants (chance, item count) come
from :func:`ladderfit.data.tasks.task_value`. Sizes are centred on the ladder (``x = log N -
log N_c``, ``z = log D - log D_c``), which is where the law's parameters are identified.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..data.preprocess import Preprocessing, checkpoint_jitter, step1_points, step2_points
from ..data.schema import check_model_columns
from ..data.targets import flops_per_token_coef
from .geometry import hull_distance
from ..data.tasks import task_value
from ..errors import LadderDataError
from .spec import ModelSpec

__all__ = ["ModelData", "build_model_data", "is_shared_feature", "replicated_configs"]


@dataclass
class ModelData:
    """Arrays the model needs, with the labels that become InferenceData coords."""

    tasks: list[str]
    runs: list[str]
    # per task
    chance: np.ndarray
    n_items: np.ndarray
    loss_scale: np.ndarray  # geometric mean of step-1 losses, m, per step-1 law
    loss_centre: np.ndarray  # mean step-2 loss, \bar L_t
    acc_binomial_sd: np.ndarray  # sqrt(pbar (1 - pbar) / n_items): the scale of one evaluation's noise
    loss_noise: np.ndarray  # sd of one checkpoint's feature around its run's trend (feature units)
    acc_jitter: np.ndarray  # sd of one checkpoint's accuracy around its run's trend
    # ladder centre, and the edge of the ladder (largest log N and log D, centred)
    logN_c: float
    logD_c: float
    # step 1 points
    s1_task: np.ndarray
    s1_run: np.ndarray
    s1_x: np.ndarray
    s1_z: np.ndarray
    s1_loss: np.ndarray
    s1_acc: np.ndarray  # mean accuracy of the same last checkpoints (single-step structure)
    s1_nlast: np.ndarray
    # step 2 points
    s2_task: np.ndarray
    s2_run: np.ndarray
    s2_step: np.ndarray
    s2_loss: np.ndarray
    s2_acc: np.ndarray
    s2_nsmooth: np.ndarray
    spec: ModelSpec = field(default_factory=ModelSpec)
    x_max: float = 0.0  # largest centred log N (log C for the compute structure) of the ladder
    z_max: float = 0.0  # largest centred log D of the ladder
    logC_c: float = 0.0  # compute structure: centre of log C
    flops_coef: tuple = (0.0, 1.0)  # log(flops / D) = c0 + c1 log N, for targets without flops
    law_of_task: np.ndarray = None  # index of each task's step-1 law (all 0 when the feature is shared)
    # per step-1 point: its replicated configuration (several seeds of one (N, D)), -1 if unique
    s1_config: np.ndarray = None

    def __post_init__(self) -> None:
        if self.law_of_task is None:
            self.law_of_task = np.arange(len(self.tasks))
        self.law_of_task = np.asarray(self.law_of_task, dtype=np.int32)
        if self.s1_config is None:
            self.s1_config = np.full(len(self.s1_task), -1)
        self.s1_config = np.asarray(self.s1_config, dtype=np.int32)

    @property
    def n_replicated(self) -> int:
        """Configurations (a law's (N, D)) trained with several seeds."""
        return int(self.s1_config.max()) + 1 if len(self.s1_config) else 0

    @property
    def replicated_task(self) -> np.ndarray:
        """The task (law) of each replicated configuration."""
        out = np.zeros(self.n_replicated, dtype=np.int32)
        keep = self.s1_config >= 0
        out[self.s1_config[keep]] = self.s1_task[keep]
        return out

    ARRAYS = (
        "chance", "n_items", "loss_scale", "loss_centre", "acc_binomial_sd", "loss_noise", "acc_jitter",
        "s1_task", "s1_run", "s1_x", "s1_z", "s1_loss", "s1_acc", "s1_nlast",
        "s2_task", "s2_run", "s2_step", "s2_loss", "s2_acc", "s2_nsmooth", "law_of_task", "s1_config",
    )  # fmt: skip

    @property
    def structure(self) -> str:
        return self.spec.structure

    @property
    def feature(self) -> str:
        """The intermediate feature column (the single step reads none)."""
        return self.spec.feature

    @property
    def n_tasks(self) -> int:
        return len(self.tasks)

    @property
    def n_laws(self) -> int:
        """Step-1 laws: one per task, or one when every task reads the same feature values."""
        return int(self.law_of_task.max()) + 1 if len(self.law_of_task) else 0

    @property
    def shared_feature(self) -> bool:
        return self.n_laws == 1 and self.n_tasks > 1

    @property
    def n_runs(self) -> int:
        return len(self.runs)

    def s1_grid(self) -> tuple[np.ndarray, np.ndarray]:
        """The step-1 points by law (row l: law l's points): see :func:`points_grid`."""
        return points_grid(self.s1_task, self.n_laws)

    def s1_by_law(self, values: np.ndarray, fill: np.ndarray) -> np.ndarray:
        """A per-point step-1 array on the grid of :meth:`s1_grid`; padding takes the law's ``fill``."""
        return on_grid(self.s1_grid()[0], values, fill)

    def s1_ranges(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per step-1 law, the range of its points' centred x and z: (x lo, x hi, z lo, z hi)
        (0 for a law without points)."""
        G, out = self.n_laws, []
        for v in (self.s1_x, self.s1_z):
            out += [self.s1_by_law(v, np.full(G, np.inf)).min(1), self.s1_by_law(v, np.full(G, -np.inf)).max(1)]
        return tuple(np.where(np.isfinite(r), r, 0.0) for r in out)

    def s2_grid(self) -> tuple[np.ndarray, np.ndarray]:
        """The checkpoints by task (row t: task t's checkpoints): see :func:`points_grid`."""
        return points_grid(self.s2_task, self.n_tasks)

    def s2_by_task(self, values: np.ndarray, fill: np.ndarray) -> np.ndarray:
        """A per-checkpoint array on the grid of :meth:`s2_grid`; padding takes the task's ``fill``."""
        return on_grid(self.s2_grid()[0], values, fill)

    def s2_runs_onehot(self) -> np.ndarray:
        """(task, checkpoint, run) on the grid of :meth:`s2_grid`: 1 where the checkpoint is the
        run's, 0 elsewhere and on the padding; sums a run's checkpoints by contraction."""
        index = self.s2_grid()[0]
        run = self.s2_by_task(self.s2_run, np.zeros(self.n_tasks, dtype=int))
        return ((run[..., None] == np.arange(self.n_runs)) & (index >= 0)[..., None]).astype(np.float64)

    def centred(self, N: np.ndarray, D: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """x = log N - log N_c, z = log D - log D_c."""
        return np.log(np.asarray(N, float)) - self.logN_c, np.log(np.asarray(D, float)) - self.logD_c

    def target_xz(self, targets: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Centred step-1 coordinates of targets: (log N, log D), or (log C, 0) for compute."""
        N, D = targets["N"].to_numpy(float), targets["D"].to_numpy(float)
        if self.structure != "compute":
            return self.centred(N, D)
        c0, c1 = self.flops_coef
        flops = np.exp(c0 + c1 * np.log(N)) * D
        if "flops" in targets.columns:
            given = targets["flops"].to_numpy(float)
            flops = np.where(np.isfinite(given), given, flops)
        return np.log(flops) - self.logC_c, np.zeros_like(flops)

    @property
    def one_length(self) -> bool:
        """Every step-1 point at the same D (z = 0): the runs say nothing of a D slope."""
        return bool(np.ptp(self.s1_z) < 1e-9)

    def final_logit_fit(self) -> tuple[np.ndarray, np.ndarray]:
        """Least squares of each task's final logit accuracy, ``logit((acc - c) / (1 - c))``
        (clipped to 1-99%), on (1, x, z) (z left out on a ladder of one length: its coefficient
        and error are then 0 and inf): coefficients and standard errors, each (task, 3). A
        quick look at how well the runs measure each slope (the single step's start and its
        sampler geometry)."""
        T, with_z = self.n_tasks, not self.one_length
        coef, se = np.zeros((T, 3)), np.full((T, 3), np.inf)
        for t in range(T):
            i = self.s1_task == t
            r = np.clip((self.s1_acc[i] - self.chance[t]) / (1 - self.chance[t]), 0.01, 0.99)
            X = np.c_[np.ones(i.sum()), self.s1_x[i], self.s1_z[i]][:, : 3 if with_z else 2]
            y = np.log(r / (1 - r))
            b, *_ = np.linalg.lstsq(X, y, rcond=None)
            dof = i.sum() - X.shape[1]
            if dof > 0:
                s2 = np.sum((y - X @ b) ** 2) / dof
                se[t, : X.shape[1]] = np.sqrt(np.maximum(np.diag(s2 * np.linalg.pinv(X.T @ X)), 0.0))
            coef[t, : X.shape[1]] = b
        return coef, se

    def distance_beyond(self, x, z):
        """Euclidean distance of centred (x, z) from the convex hull of the ladder's runs, in
        (log N, log D) ((log C, 0) for the compute structure); 0 inside (:mod:`.geometry`)."""
        return hull_distance(np.column_stack([self.s1_x, self.s1_z]), x, z)


def points_grid(row: np.ndarray, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Points laid out by row (a law, a task): ``index[r, j]``, row r's j-th point (rows padded
    with -1 to the longest), and ``position[i]``, point i's place in ``index.ravel()``."""
    counts = np.bincount(row, minlength=n_rows)
    order = np.argsort(row, kind="stable")
    col = np.arange(len(order)) - np.repeat(np.cumsum(counts) - counts, counts)
    index = np.full((n_rows, int(counts.max(initial=0))), -1, dtype=np.int64)
    index[row[order], col] = order
    position = np.empty(len(order), dtype=np.int64)
    position[order] = row[order] * index.shape[1] + col
    return index, position


def on_grid(index: np.ndarray, values: np.ndarray, fill: np.ndarray) -> np.ndarray:
    """``values`` (one per point) laid out on ``index`` of :func:`points_grid`; padding takes its
    row's ``fill``."""
    return np.where(index >= 0, np.asarray(values)[np.maximum(index, 0)], np.asarray(fill)[:, None])


def build_model_data(df: pd.DataFrame, spec: ModelSpec | None = None, prep: Preprocessing | None = None) -> ModelData:
    """Turn a validated tidy table into :class:`ModelData` (step-1 and step-2 points).

    The ``compute`` structure puts step 1 in training compute: x = log C (centred), no D term;
    the ``single_step`` structure reads no intermediate feature.
    """
    spec = spec or ModelSpec()
    prep = prep or Preprocessing()
    check_model_columns(df, spec.structure, spec.feature)
    feature = spec.feature
    if not spec.uses_feature:  # the single step reads the runs' final accuracy, no feature
        feature, df = "_final_accuracy", df.assign(_final_accuracy=df["accuracy"])
    tasks, runs = _tasks_and_runs(df)
    p1, p2, shared = _model_points(df, spec, feature, prep, tasks)
    per_run = df.groupby("run").agg(N=("N", "first"), D=("D", "max"))
    logN_c = float(np.mean(np.log(per_run["N"])))
    logD_c = float(np.mean(np.log(per_run["D"])))
    if shared:  # one law for all tasks: step 1 sees each run once (the first task's copy)
        p1 = p1[p1["task"] == tasks[0]].reset_index(drop=True)
    constants = _task_constants(df, p1, p2, spec, feature, prep, tasks, shared)
    inputs = _step1_inputs(df, p1, per_run, spec, logN_c, logD_c)
    return ModelData(
        tasks=tasks,
        runs=list(runs),
        **constants,
        logN_c=logN_c,
        logD_c=logD_c,
        spec=spec,
        **inputs,
        **_point_arrays(p1, p2, feature, tasks, runs),
        law_of_task=np.zeros(len(tasks), np.int32) if shared else np.arange(len(tasks), dtype=np.int32),
        s1_config=replicated_configs(p1),
    )


def _tasks_and_runs(df: pd.DataFrame) -> tuple[list, list]:
    """The tasks (sorted) and the runs (by N, then final D, then name); every run needs every task."""
    tasks = sorted(df["task"].unique())
    first_n = df.drop_duplicates("run").set_index("run")["N"]  # a run's N in its first row
    final_d = df.groupby("run")["D"].max()
    runs = sorted(first_n.index, key=lambda r: (first_n[r], final_d[r], r))
    missing = df.groupby("run")["task"].nunique()
    if (missing < len(tasks)).any():
        run = missing.index[missing < len(tasks)][0]
        have = set(df.loc[df["run"] == run, "task"])
        raise LadderDataError(f"run {run!r} lacks task(s) {sorted(set(tasks) - have)}; every run needs every task")
    return tasks, runs


def _model_points(df: pd.DataFrame, spec: ModelSpec, feature: str, prep: Preprocessing,
                  tasks: list) -> tuple[pd.DataFrame, pd.DataFrame, bool]:
    """Step 1's points (final per run), step 2's (checkpoints, by task, run and step; none for
    the single step), and whether the feature is shared by the tasks (one law)."""
    p1 = step1_points(df, feature, prep)
    shared = spec.uses_feature and len(tasks) > 1 and is_shared_feature(df, feature)
    p2 = step2_points(df, feature, prep) if spec.uses_feature else p1.iloc[0:0].assign(step=0, n_smoothed=0.0)
    # by task, then run and step: the model's (task, checkpoint) grid reads out in this order
    p2 = p2.sort_values(["task", "run", "step"], kind="stable", ignore_index=True)
    n_sizes = p1.groupby("task")["N"].nunique().min()
    if n_sizes < 2 or len(p1) // len(tasks) < 3:
        raise LadderDataError(
            f"step 1 needs at least 2 model sizes and 3 runs per task; got {n_sizes} size(s), "
            f"{len(p1) // len(tasks)} run(s)"
        )
    return p1, p2, shared


def _task_constants(df: pd.DataFrame, p1: pd.DataFrame, p2: pd.DataFrame, spec: ModelSpec, feature: str,
                    prep: Preprocessing, tasks: list, shared: bool) -> dict:
    """Per task: chance, items, the feature's scale and centre, the binomial sd at the mean
    accuracy, and the checkpoint jitters of accuracy and of the feature (in its units)."""
    chance = np.array([task_value(df, t, "chance") for t in tasks])
    n_items = np.array([task_value(df, t, "n_items", default=1000.0) for t in tasks])
    loss_scale = np.exp(p1.groupby("task")[feature].apply(lambda s: np.log(s).mean()).reindex(tasks[:1] if shared else tasks).to_numpy())
    loss_centre = p2.groupby("task")[feature].mean().reindex(tasks).to_numpy()
    if not spec.uses_feature:  # the single step reads no step-2 points: a placeholder, never used
        loss_centre = np.nan_to_num(loss_centre, nan=0.0)
    p_bar = (p2 if spec.uses_feature else p1).groupby("task")["accuracy" if spec.uses_feature else "accuracy_mean"].mean()
    p_bar = np.clip(p_bar.reindex(tasks).to_numpy(), 0.02, 0.98)
    acc_binomial_sd = np.sqrt(p_bar * (1 - p_bar) / n_items)
    loss_noise = np.zeros(len(tasks))
    acc_jitter = np.nan_to_num(checkpoint_jitter(df, "accuracy", prep.skip_fraction).reindex(tasks).to_numpy(), nan=0.0)
    if spec.uses_feature:  # relative jitter of the raw feature, in the feature's units at the centre
        jitter = checkpoint_jitter(df, feature, prep.skip_fraction, log=True).reindex(tasks).to_numpy()
        loss_noise = np.nan_to_num(jitter, nan=0.0) * loss_centre
    return {"chance": chance, "n_items": n_items, "loss_scale": loss_scale, "loss_centre": loss_centre,
            "acc_binomial_sd": acc_binomial_sd, "loss_noise": loss_noise, "acc_jitter": acc_jitter}


def _step1_inputs(df: pd.DataFrame, p1: pd.DataFrame, per_run: pd.DataFrame, spec: ModelSpec, logN_c: float,
                  logD_c: float) -> dict:
    """Step 1's centred inputs (x, z) and the ladder's edge in them; for ``compute``, x = log C
    centred (FLOPs 6 N D where the data have none), no z, and the FLOPs-per-token law."""
    s1_x = np.log(p1["N"].to_numpy(float)) - logN_c
    s1_z = np.log(p1["D"].to_numpy(float)) - logD_c
    x_max = float(np.log(per_run["N"]).max() - logN_c)
    z_max = float(np.log(per_run["D"]).max() - logD_c)
    logC_c, coef = 0.0, (0.0, 1.0)
    if spec.structure == "compute":
        if "flops" not in df.columns:  # training FLOPs so far, 6 N D (Kaplan et al. 2020)
            df = df.assign(flops=6.0 * df["N"] * df["D"])
            p1 = p1.assign(flops=6.0 * p1["N"] * p1["D"])
        flops = df.groupby("run")["flops"].max()
        logC_c = float(np.mean(np.log(flops)))
        s1_x = np.log(p1["flops"].to_numpy(float)) - logC_c
        s1_z = np.zeros_like(s1_x)
        x_max, z_max = float(np.log(flops).max() - logC_c), 0.0
        coef = flops_per_token_coef(df)
    return {"s1_x": s1_x, "s1_z": s1_z, "x_max": x_max, "z_max": z_max, "logC_c": logC_c, "flops_coef": coef}


def _point_arrays(p1: pd.DataFrame, p2: pd.DataFrame, feature: str, tasks: list, runs: list) -> dict:
    """The points' arrays: step 1's (task, run, feature, final accuracy, evaluations averaged)
    and step 2's (task, run, step, feature, accuracy, smoothing count)."""
    t_idx = {t: i for i, t in enumerate(tasks)}
    r_idx = {r: i for i, r in enumerate(runs)}
    return {
        "s1_task": p1["task"].map(t_idx).to_numpy(np.int32),
        "s1_run": p1["run"].map(r_idx).to_numpy(np.int32),
        "s1_loss": p1[feature].to_numpy(float),
        "s1_acc": p1["accuracy_mean"].to_numpy(float),
        "s1_nlast": p1["n_last"].to_numpy(float),
        "s2_task": p2["task"].map(t_idx).to_numpy(np.int32),
        "s2_run": p2["run"].map(r_idx).to_numpy(np.int32),
        "s2_step": p2["step"].to_numpy(np.int64),
        "s2_loss": p2[feature].to_numpy(float),
        "s2_acc": p2["accuracy"].to_numpy(float),
        "s2_nsmooth": p2["n_smoothed"].to_numpy(float),
    }


def replicated_configs(p1: pd.DataFrame) -> np.ndarray:
    """Per step-1 point, the index of its configuration if several runs share it (same task, N
    and final D: seeds of one recipe, like the bundled 1xC reruns), else -1."""
    key = p1["task"].astype(str) + "|" + p1["N"].map("{:.6g}".format) + "|" + p1["D"].map("{:.6g}".format)
    counts = key.map(key.value_counts())
    repeated = sorted(set(key[counts > 1]))
    index = {k: i for i, k in enumerate(repeated)}
    return key.map(lambda k: index.get(k, -1)).to_numpy(np.int32)


def is_shared_feature(df: pd.DataFrame, feature: str) -> bool:
    """True when every task reads the same ``feature`` value at each (run, step): a loss of the
    model on a common corpus (C4, LAMBADA), not of the task's own answers. Its law is fitted once."""
    spread = df.groupby(["run", "step"])[feature].agg(["min", "max"])
    return bool(np.all(np.abs(spread["max"] - spread["min"]) <= 1e-9 * np.abs(spread["max"]).clip(1e-12)))
