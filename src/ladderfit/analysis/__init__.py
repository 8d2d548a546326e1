"""The analysis layer: what one does with fits.

:mod:`.holdouts` says which runs to hide, what to train on, the truth and the distance beyond
the ladder; :mod:`.backtest` hides runs and scores the predictions; :mod:`.calibration` repeats
that on nested hold-outs and scores the intervals by distance beyond the ladder;
:mod:`.compute_vs_error` grows the ladder and watches the error; :mod:`.variance` ranks
tasks by their noise; :mod:`.comparison` compares Bayesian models by PSIS-LOO; :mod:`.checks` draws the prior predictive;
:mod:`.sensitivity` refits with wider and narrower priors; :mod:`.sbc` checks the sampler by
simulation-based calibration; :mod:`.design` says which rung to train next (expected width at a
target per FLOP, by importance re-weighting of the posterior). It reads the data and model layers
and nothing above them.
"""
