"""The model layer: one specification, two estimators, and what a fit gives back.

:mod:`.spec` says which model (structure, intermediate feature, run effects); :mod:`.curves`
holds the scaling law and the sigmoid, written once; :mod:`.priors` names every prior;
:mod:`.inputs` turns the tidy table into the model's arrays; :mod:`.joint` is the NumPyro
model (the math of the paper as one hierarchical model); :mod:`.bayes` fits it with NUTS and
:mod:`.least_squares` with the paper's least squares (another estimator of the same
specification); :mod:`.results` holds a fit (predictions, save, load) and
:mod:`.diagnostics` its convergence checks (ArviZ's R-hat and ESS, :mod:`.rank_diagnostics`), :mod:`.provenance` the versions and data hash
saved with it; :mod:`.simulate` draws ladders with known
parameters. It reads the data layer and nothing above it. A new model structure is a name
in :data:`.spec.STRUCTURES` and a model function in :mod:`.joint`.
"""
