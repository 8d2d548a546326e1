"""Which rung next: :func:`design` checks its inputs, scores the candidates (the design
table and ranking), warns where the weights degenerated, and adds the greedy stopping view;
:func:`greedy_design` returns that view alone."""

from __future__ import annotations

import warnings

import pandas as pd

from ...data.targets import as_targets
from ...errors import LadderDataError
from .candidates import as_candidates
from .criterion import DesignContext
from .greedy import greedy_sequence
from .table import LOW_ESS, DesignResult, DesignWarning, design_tables, score_candidates

__all__ = ["design", "greedy_design"]


def _check_inputs(fit, target, tasks):
    if not hasattr(fit, "model_data") or not hasattr(fit, "idata"):
        raise LadderDataError(f"design: expected a Bayesian LadderFit (ladderfit.fit), got {type(fit).__name__}")
    if fit.model_data.spec.run_effects:
        raise LadderDataError(
            f"design: model {fit.model_data.spec.name!r} has run effects, which a new rung would add a "
            "parameter for; expected a fit without run effects (e.g. 'two_step')"
        )
    tg = as_targets(target)
    if len(tg) != 1:
        raise LadderDataError(f"design: one target at a time, got {len(tg)} ({', '.join(tg['target'])})")
    if tasks is not None:
        tasks = [tasks] if isinstance(tasks, str) else list(tasks)
        unknown = [t for t in tasks if t not in fit.tasks]
        if unknown:
            raise LadderDataError(f"design: task(s) {unknown} not in the fit; it has {', '.join(fit.tasks)}")
    return tg, tasks


def design(fit, target="7B-4T", candidates=None, *, tasks=None, data=None, outcomes: int = 64, max_draws: int = 1000,
           level: float = 90, greedy_steps: int | None = 5, seed: int | None = None, psis: bool = True,
           min_reduction: float = 0.02, null: bool = True, weights: str = "task") -> DesignResult:
    """Rank candidate rungs by how much they are expected to narrow the target's interval, per FLOP.

    Parameters
    ----------
    fit : a Bayesian :class:`~ladderfit.model.results.LadderFit` of the current ladder (no run effects).
    target : one target: a paper name (``"7B-4T"``), ``"NAME=N,D"`` or a one-row DataFrame.
    candidates : rungs to score: ``"NAME=N,D"`` strings, ``(name, N, D)`` tuples, dicts or a
        DataFrame ``candidate, N, D`` (:func:`as_candidates`; :func:`candidate_grid` for a grid).
    tasks : tasks to score (default: all of the fit's); the ranking averages over them.
    data : the ladder's tidy table, for its FLOPs per token (``flops`` column); else 6 N D.
    outcomes : simulated outcomes per candidate (J); the expected width's Monte Carlo SE
        shrinks as 1/sqrt(J).
    max_draws : posterior draws used as the importance sample (thinned evenly).
    level : the central interval, in percent (the table's columns keep the name ``width_90``
        for the default; other levels name theirs ``width_L``).
    greedy_steps : rungs of the stopping view (:func:`greedy_design`); ``0`` or ``None`` skips it.
    seed : random seed (default the fit's seed).
    psis : Pareto-smooth the importance weights (default); ``False`` for raw weights.
    min_reduction : a reduction counts (``detectable``) when it exceeds this share of the current
        width (default 2%) and two Monte Carlo SE; candidates without one are ranked after those
        with one (per FLOP, a tiny gain of a tiny run is noise divided by little), and the greedy
        sequence stops when no rung left has one.
    weights : ``"task"`` (default): each task's draws are weighted by that task's observations
        of the rung (and its step-1 law's); ``"joint"``: by all tasks' together, which also
        credits what the rung says about the pooled exponents and slopes, at the cost of far
        fewer effective draws (the weights degenerate T times faster).
    null : correct each outcome's width for the finite effective sample of its weights (default):
        the weighted quantiles of an effective sample of size ESS are narrower than the
        distribution's by themselves; the same weights shuffled over the draws (as degenerate,
        blind to the target) measure that bias, and the expected width is the unweighted width
        minus (shuffled - weighted). ``width_90_expected_raw`` keeps the uncorrected width.

    Returns
    -------
    :class:`DesignResult` (``table``, ``ranking``, ``greedy``). Warns with
    :class:`DesignWarning` where the weights degenerated (median ESS < 20 or Pareto k > 0.7):
    those expected widths are too optimistic.
    """
    tg, tasks = _check_inputs(fit, target, tasks)
    cands = as_candidates(candidates)
    if not 0 < level < 100:
        raise LadderDataError(f"design: level must be in (0, 100), got {level!r}")
    if int(outcomes) < 2 or int(max_draws) < 10:
        raise LadderDataError(f"design: need outcomes >= 2 and max_draws >= 10, got {outcomes!r} and {max_draws!r}")
    seed = fit.config.seed if seed is None else int(seed)
    if weights not in ("task", "joint"):
        raise LadderDataError(f"design: weights must be 'task' or 'joint', got {weights!r}")
    ctx = DesignContext(fit, tg, tasks, data, int(outcomes), int(max_draws), seed, level, psis, bool(null), weights)
    lls, rows, spread = score_candidates(ctx, cands)
    table, ranking, rename = design_tables(rows, spread, float(min_reduction), level)
    bad = ranking.loc[~ranking["reliable"], "candidate"].tolist()
    if bad:
        warnings.warn(
            f"design: the importance weights degenerated (median ESS < {LOW_ESS:g} or Pareto k > 0.7) for "
            f"{', '.join(bad)}: their expected widths are too optimistic; check with a refit or more draws",
            DesignWarning, stacklevel=2,
        )
    result = DesignResult(table=table, ranking=ranking, target=ctx.target, ladder_flops=ctx.ladder_flops, level=level)
    if greedy_steps:
        result.greedy = greedy_sequence(ctx, cands, lls, int(greedy_steps), float(min_reduction))
        result.greedy = result.greedy.rename(columns=rename)
    return result


def greedy_design(fit, target="7B-4T", candidates=None, steps: int = 5, **options) -> pd.DataFrame:
    """The stopping view: the greedy sequence of recommended rungs, and after each the expected
    width at the target (mean over tasks) against the ladder's cumulative compute, as a share
    of the target's (``share_of_target``). Options as :func:`design`."""
    return design(fit, target, candidates, greedy_steps=steps, **options).greedy
