r"""Which rung to train next: the expected width of a target's interval if a candidate run were added.

A preposterior analysis by importance re-weighting of the fit's posterior draws. For a
candidate run c at (N_c, D_c) and the target (N*, D*):

1. **Outcomes.** J posterior draws theta_j (``outcomes``) each simulate what the run would
   show, from the joint model itself (NumPyro ``Predictive`` with ``observe=False``): its step-1
   point (log of the final feature, with the run's scatter ``sigma_loss``) and its step-2
   checkpoints, which copy a ladder run's (the one with the nearest tokens-per-parameter):
   as many points, the same smoothing counts, and the same shape of the feature along the
   run (checkpoint feature / final feature), scaled to the simulated final feature. Each
   checkpoint's accuracy is then drawn with the model's evaluation noise.
2. **Weights.** Every posterior draw s scores outcome j: ``log w_sj = log p(y_j | theta_s)``
   (NumPyro ``log_likelihood``), per task t from task t's own observations (and its step-1
   law's), so that the weights of one task are not degraded by the nine others' (tasks share
   only the population priors of the exponents and slopes). The draw that simulated y_j is
   left out of its own weights. The weights are Pareto-smoothed (PSIS,
   :func:`arviz.psislw`): ``ess`` and ``pareto_k`` say how far to trust them.
3. **The would-be interval.** The target's predictive accuracy draws (those of
   :meth:`~ladderfit.model.results.LadderFit.predictive_draws`: both steps, the target run's
   deviation, one evaluation's noise, and the calibrated discrepancy ``gamma d^p``) are
   re-weighted; the discrepancy's distance d beyond the ladder is recomputed with the candidate
   in the ladder (a rung beyond the largest N or D moves the ladder's edge: a large part of
   why far rungs help). The weighted 5% and 95% quantiles give the width, corrected for the
   weights' finite effective sample (a weighted quantile of ESS effective draws is narrower than
   the distribution by itself): the same weights shuffled over the draws, as degenerate but blind
   to the target, measure that bias, and the width is the unweighted one minus (shuffled -
   weighted). Averaging over the J outcomes gives the expectation (``width_90_expected``, with
   its Monte Carlo SE; ``width_90_expected_raw`` without the correction).

Candidates are ranked by the expected reduction of the width, averaged over tasks, per
training FLOP (``reduction_per_eflop``: accuracy as a fraction, per 1e18 FLOPs).
FLOPs are those of the ladder's fitted FLOPs-per-token law (``log(flops / D) = c0 + c1 log N``,
:func:`~ladderfit.data.targets.flops_per_token_coef`) when the data hold ``flops``, else 6 N D.

:func:`greedy_design` repeats the choice: the rungs chosen so far are conditioned on jointly
(their outcomes drawn from the same theta_j), which gives the *stopping view*: expected width
against the ladder's cumulative compute as a share of the target's.

Why importance re-weighting: it costs two ``Predictive`` passes and one ``log_likelihood``
per candidate (about 3 s for 6 tasks on 2 CPU cores), against a NUTS refit per simulated
outcome (about 16 s each, times J), and it
uses the fit's own likelihood, noise model and discrepancy, nothing re-derived. It breaks
where the candidate is very informative relative to the posterior (a rung far beyond a small
ladder, with dozens of precise checkpoints): the weights degenerate on few draws (small
``ess``, ``pareto_k`` > 0.7) and the expected width is then too optimistic; and where a real
run moves a broad posterior (a near-chance task whose curve the ladder barely shows) beyond the
region its draws cover, which no re-weighting of those draws can follow. It also treats
the candidate as a new configuration: a seed rerun of an existing rung (which the model fits
as a replicate, sharing the rung's deviation from the law, with a seed-share parameter) is
scored as if it were a new rung. ``benchmarks/design_backtest.py`` checks the ranking against real
refits on the bundled ladder.
"""

from __future__ import annotations

from .candidates import as_candidates, candidate_grid, parse_candidate
from .next_rung import design, greedy_design
from .table import LOW_ESS, DesignResult, DesignWarning  # LOW_ESS: read by plots.design
from .weights import weighted_quantile

__all__ = ["design", "greedy_design", "as_candidates", "parse_candidate", "candidate_grid", "DesignResult", "DesignWarning",
           "weighted_quantile"]
