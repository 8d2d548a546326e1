"""The analysis layer: what one does with fits.

:mod:`.backtest` hides runs and scores the predictions; :mod:`.compute_vs_error` grows the
ladder and watches the error; :mod:`.variance` ranks tasks by their noise;
:mod:`.comparison` compares Bayesian models by PSIS-LOO. It reads the data and model layers
and nothing above them.
"""
