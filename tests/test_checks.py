"""The Bayesian workflow's checks: prior predictive, posterior predictive plots, LOO by run,
prior sensitivity. Tiny fits (one chain, a few dozen draws): these test the plumbing, not the
statistics."""

import warnings

import numpy as np
import pytest

import ladderfit
from ladderfit.data.preprocess import Preprocessing
from ladderfit.model.simulate import default_truths, simulate_ladder

RAW = Preprocessing(skip_fraction=0.1, smooth_window=1, step1_last_k=1, thin=1)
TINY = dict(chains=1, warmup=80, draws=80, preprocessing=RAW, progress_bar=False)


@pytest.fixture(scope="module")
def sim():
    return simulate_ladder(default_truths(2, seed=1), seed=1, checkpoints=12)


def test_prior_predictive_respects_E_positive_and_has_dims(sim):
    idata = ladderfit.prior_predictive(sim.data, num_samples=200, preprocessing=RAW, targets=["7B-4T"])
    assert {"prior", "prior_predictive", "observed_data", "constant_data"} <= set(idata.groups())
    E = idata.prior["E"]
    assert E.dims == ("chain", "draw", "task") and E.sizes["draw"] == 200
    assert (E.values > 0).all()  # every kept draw
    assert 0 < idata.attrs["acceptance_rate"] <= 1 and idata.attrs["draws_tried"] >= 200
    pp = idata.prior_predictive
    assert pp["acc_obs"].dims == ("chain", "draw", "checkpoint")
    assert pp["loss_obs"].dims == ("chain", "draw", "step1_point")
    assert pp["target_accuracy"].dims == ("chain", "draw", "target", "task")
    assert set(pp["checkpoint_task"].values) == {"task0", "task1"}
    assert pp.sizes["checkpoint"] == idata.observed_data.sizes["checkpoint"]
    assert np.isfinite(pp["acc_obs"].values).all()


def test_prior_predictive_soft_constraint_is_the_models_factor(sim):
    idata = ladderfit.prior_predictive(sim.data, num_samples=100, preprocessing=RAW, constraint="soft", seed=1)
    assert "soft" in idata.attrs["constraint"]
    # the barrier is 2% of the level wide: E may dip below 0 but only a little
    E, L_c = idata.prior["E"].values, idata.prior["L_c"].values
    assert (E / L_c > -0.2).all()
