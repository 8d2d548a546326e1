"""The fit's result: :class:`LeastSquaresFit`, its parameters and start agreement as tables, and
its predictions (task loss with the bootstrap interval, accuracy with the delta-method band).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from ...data.targets import as_targets, fill_flops
from .bootstrap import bootstrap_losses, loss_rows
from .delta_method import acc_rows, delta_sd
from .single_step import single_step_eval

__all__ = ["LeastSquaresFit"]


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
                val, grad = single_step_eval(m.ss_theta, X)
                rows.append(acc_rows(base, val, delta_sd(grad, m.ss_cov), levels, names))
                continue
            L = m.loss(X)
            rows.append(loss_rows(base, L, bootstrap_losses(m, X), levels, names))
            val, grad = m.acc_two_step(L)
            rows.append(acc_rows(base, val, delta_sd(grad, m.s2_cov), levels, names))
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


