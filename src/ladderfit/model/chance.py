r"""Tasks at chance on a ladder: the ladder cannot show when they will leave it.

A task is *at chance* on a ladder when even its best run's final accuracy (the mean of its
last evaluations, as the fit uses it) lies within :data:`AT_CHANCE_SDS` binomial sds of the
task's chance level c:

.. math::

    \max_r \bar a_r < c + s\,\sqrt{c (1 - c) / n},

with n the task's items and s = :data:`AT_CHANCE_SDS`. On such a ladder the data say only that
the curve is still flat; where it starts to rise they cannot show, so a prediction beyond the
ladder leans on the priors and on the other tasks' slopes, and its interval is not calibrated
for a rise that may or may not come (the calibration guide has what the bundled ladders'
hold-outs measured). ``ladderfit predict`` names such tasks.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .inputs import ModelData

__all__ = ["AT_CHANCE_SDS", "tasks_at_chance"]

#: A task is at chance when its best run lies less than this many binomial sds above chance.
AT_CHANCE_SDS = 3.0


def tasks_at_chance(md: ModelData, sds: float = AT_CHANCE_SDS) -> pd.DataFrame:
    """Per task of a fitted ladder: ``task, chance, n_items, best_accuracy`` (the highest final
    accuracy of its runs), ``sds_above_chance`` (``(best - c) / sqrt(c (1 - c) / n)``) and
    ``at_chance`` (fewer than ``sds`` of them). A task without guessing (chance 0) is at chance
    only while every run scores 0."""
    best = pd.Series(md.s1_acc).groupby(np.asarray(md.s1_task)).max().reindex(range(md.n_tasks)).to_numpy(float)
    chance, n = np.asarray(md.chance, float), np.asarray(md.n_items, float)
    sd = np.sqrt(chance * (1 - chance) / n)  # 0 for a task without guessing (chance 0: LAMBADA)
    z = np.divide(best - chance, sd, out=np.where(best > chance, np.inf, 0.0), where=sd > 0)
    return pd.DataFrame({"task": list(md.tasks), "chance": chance, "n_items": n, "best_accuracy": best,
                         "sds_above_chance": z, "at_chance": z < sds})  # fmt: skip
