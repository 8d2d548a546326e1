"""Fits that describe themselves: predictions in the InferenceData, provenance, Monte Carlo
standard errors of predictions, and the progress-bar default."""

from __future__ import annotations

import warnings

import arviz as az
import numpy as np
import pandas as pd
import pytest

import ladderfit
from ladderfit.data.preprocess import Preprocessing
from ladderfit.model.simulate import default_truths, simulate_ladder

RAW = Preprocessing(skip_fraction=0.1, smooth_window=1, step1_last_k=1, thin=1)
TARGETS = pd.DataFrame({"target": ["3B-60B", "7B-150B"], "N": [3e9, 7e9], "D": [6e10, 1.5e11]})


@pytest.fixture(scope="module")
def sim():
    return simulate_ladder(default_truths(2, seed=1), seed=1)


def tiny(data, draws=40, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tiny fits do not converge, by design
        return ladderfit.fit(data, chains=1, warmup=60, draws=draws, seed=0, preprocessing=RAW, **options)


def load_quietly(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ladderfit.ConvergenceWarning)
        return ladderfit.load(path)


@pytest.fixture(scope="module")
def fit(sim):
    return tiny(sim.data)


# ----------------------------------------------------------------------------- predictions group


def test_add_predictions_makes_arviz_groups(fit):
    preds = fit.add_predictions(TARGETS)
    idata = fit.idata
    assert {"predictions", "predictions_constant_data"} <= set(idata.groups())
    assert set(preds.data_vars) == {"accuracy", "accuracy_mean", "task_loss", "task_loss_mean"}
    for name in preds.data_vars:
        assert preds[name].dims == ("chain", "draw", "target", "task")
    assert list(preds["target"].values) == ["3B-60B", "7B-150B"]
    assert list(preds["task"].values) == fit.tasks
    const = idata.predictions_constant_data
    assert np.allclose(const["N"].values, TARGETS["N"]) and np.allclose(const["D"].values, TARGETS["D"])
    assert (const["flops"].values > 0).all()
    table = az.summary(idata, group="predictions")
    assert len(table) == 4 * 2 * len(fit.tasks)
    # the stored draws are predict's draws, chain by chain
    pred = fit.predict(TARGETS, levels=(90,)).query("quantity == 'accuracy'").set_index(["target", "task"])
    med = preds["accuracy"].median(("chain", "draw"))
    for target in TARGETS["target"]:
        for task in fit.tasks:
            assert float(med.sel(target=target, task=task)) == pytest.approx(pred.loc[(target, task), "median"])


def test_predict_store_replaces_the_groups(fit):
    fit.predict(TARGETS.iloc[:1], store=True)
    assert list(fit.idata.predictions["target"].values) == ["3B-60B"]
    assert fit.idata.predictions_constant_data.sizes["target"] == 1


def test_predictions_survive_save_and_load(fit, tmp_path):
    fit.add_predictions(TARGETS)
    back = load_quietly(fit.save(tmp_path / "fit.nc"))
    assert {"predictions", "predictions_constant_data"} <= set(back.idata.groups())
    np.testing.assert_array_equal(back.idata.predictions["accuracy"].values, fit.idata.predictions["accuracy"].values)
    assert list(back.idata.predictions["target"].values) == ["3B-60B", "7B-150B"]
    np.testing.assert_array_equal(back.idata.predictions_constant_data["N"].values, TARGETS["N"].to_numpy())
