"""Fits that describe themselves: predictions in the InferenceData, provenance, Monte Carlo
standard errors of predictions, and the progress-bar default."""

from __future__ import annotations

import json
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
        return ladderfit.fit(data, **{"model": "two_step", **options}, chains=1, warmup=60, draws=draws, seed=0, preprocessing=RAW)


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


# ----------------------------------------------------------------------------- provenance


def test_provenance_of_a_fresh_fit(fit, sim):
    from ladderfit.model.provenance import data_sha256

    prov = fit.provenance
    assert set(prov["versions"]) == {"ladderfit", "numpyro", "jax", "arviz", "python"}
    assert prov["versions"]["arviz"] == az.__version__
    assert prov["data_sha256"] == data_sha256(sim.data) and len(prov["data_sha256"]) == 64
    assert "sorted by run, task, step" in prov["data_hashed"]
    assert prov["model"] == fit.config.model.to_dict()
    assert prov["sampler"]["chains"] == 1 and prov["sampler"]["draws"] == 40 and prov["sampler"]["warmup"] == 60
    assert prov["convergence"]["converged"] is False and prov["convergence"]["problems"]
    assert prov["format"] == "ladderfit.joint_two_step.v4"


def test_provenance_round_trips(fit, tmp_path):
    path = fit.save(tmp_path / "fit.nc")
    attrs = az.from_netcdf(str(path)).posterior.attrs
    assert attrs["ladderfit_data_sha256"] == fit.data_sha256
    for key in ("ladderfit_versions", "ladderfit_model_spec", "ladderfit_sampler", "ladderfit_convergence"):
        assert key in attrs
    with pytest.warns(ladderfit.ConvergenceWarning, match="did NOT converge"):  # a loaded unconverged fit re-warns
        back = ladderfit.load(path)
    a, b = back.provenance, fit.provenance
    assert a["sampler"].pop("sampling_seconds") == pytest.approx(b["sampler"].pop("sampling_seconds"))
    assert a == b


def test_data_hash_sees_values_not_order(sim):
    from ladderfit.model.provenance import data_sha256

    df = sim.data
    base = data_sha256(df)
    assert data_sha256(df.sample(frac=1.0, random_state=0)[df.columns[::-1]].assign(note="x")) == base
    changed = df.copy()
    changed.loc[changed.index[7], "accuracy"] += 1e-9
    assert data_sha256(changed) != base
    renamed = df.copy()
    renamed.loc[renamed.index[0], "task"] = "other"
    assert data_sha256(renamed) != base


def _with_format(path, out, name):
    idata = az.from_netcdf(str(path))
    for group in idata.groups():
        idata[group].load()
    idata.posterior.attrs["ladderfit_model"] = name
    idata.to_netcdf(str(out))
    return out


def test_newer_and_older_formats_say_what_to_do(fit, tmp_path):
    path = fit.save(tmp_path / "fit.nc")
    newer = _with_format(path, tmp_path / "newer.nc", "ladderfit.joint_two_step.v5")
    with pytest.raises(ladderfit.LadderDataError, match=r"written by a newer ladderfit \(format v5\); upgrade ladderfit"):
        ladderfit.load(newer)
    older = _with_format(path, tmp_path / "older.nc", "ladderfit.joint_two_step.v3")
    with pytest.raises(ladderfit.LadderDataError, match=r"written by an older ladderfit \(format v3\); refit"):
        ladderfit.load(older)
    with pytest.raises(ladderfit.LadderDataError, match="not a ladderfit fit"):
        ladderfit.load(_with_format(path, tmp_path / "other.nc", "somebody.else.v9"))


def test_fit_saved_before_provenance_still_loads(fit, tmp_path):
    path = fit.save(tmp_path / "fit.nc")
    idata = az.from_netcdf(str(path))
    for group in idata.groups():
        idata[group].load()
    for key in ("ladderfit_versions", "ladderfit_data_sha256", "ladderfit_data_hashed", "ladderfit_model_spec",
                "ladderfit_sampler", "ladderfit_convergence", "ladderfit_checksums"):  # older than both
        del idata.posterior.attrs[key]
    idata.to_netcdf(str(tmp_path / "old.nc"))
    with pytest.warns(ladderfit.LadderDataWarning, match="old.nc: saved without checksums"):
        back = load_quietly(tmp_path / "old.nc")
    assert back.provenance["data_sha256"] is None and back.provenance["versions"] == {}


# ----------------------------------------------------------------------------- Monte Carlo standard errors


def _draws(n_draws, n_cells=60, seed=0):
    import xarray as xr

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(1, n_draws, 2, n_cells))
    return xr.Dataset({"accuracy": (("chain", "draw", "target", "task"), 0.5 + 0.05 * x)},
                      coords={"target": ["a", "b"], "task": [f"t{i}" for i in range(n_cells)]})


def test_quantile_mcse_shrinks_with_draws():
    from ladderfit.model.results import quantile_summary

    small = quantile_summary(_draws(40), levels=(50, 90))
    large = quantile_summary(_draws(640), levels=(50, 90))
    assert list(small.columns) == ["target", "task", "quantity", "median", "median_mcse", "lower_50", "lower_50_mcse",
                                   "upper_50", "upper_50_mcse", "lower_90", "lower_90_mcse", "upper_90", "upper_90_mcse"]
    for col in ("median_mcse", "lower_90_mcse", "upper_50_mcse"):
        assert (small[col] > 0).all() and (large[col] > 0).all()
        # 16 times the draws: about a quarter of the error
        assert 0.15 < large[col].mean() / small[col].mean() < 0.45
    # the median of 0.5 + 0.05 N(0, 1): MCSE near 0.05 * 1.25 / sqrt(draws)
    assert large["median_mcse"].mean() == pytest.approx(0.05 * 1.2533 / np.sqrt(640), rel=0.3)


def test_prediction_summary_of_a_fit(fit):
    table = fit.prediction_summary(TARGETS, levels=(90,))
    assert set(table["quantity"]) == {"task_loss", "accuracy"} and len(table) == 2 * 2 * len(fit.tasks)
    mcse = table.filter(like="_mcse")
    assert np.isfinite(mcse.to_numpy()).all() and (mcse.to_numpy() > 0).all()
    assert (table["lower_90"] <= table["median"]).all() and (table["median"] <= table["upper_90"]).all()
    pred = fit.predict(TARGETS, levels=(90,)).set_index(["target", "task", "quantity"])
    t = table.set_index(["target", "task", "quantity"])
    np.testing.assert_allclose(t["median"], pred.loc[t.index, "median"])
    np.testing.assert_allclose(t["upper_90"], pred.loc[t.index, "upper_90"])
    # with stored predictions and no targets: those are summarised
    fit.add_predictions(TARGETS.iloc[:1])
    assert set(fit.prediction_summary()["target"]) == {"3B-60B"}


# ----------------------------------------------------------------------------- progress bar


class _Stream:
    def __init__(self, tty):
        self.tty = tty

    def isatty(self):
        return self.tty


def test_progress_bar_decision():
    from ladderfit.model.config import FitConfig, show_progress_bar

    assert FitConfig().progress_bar == "auto"
    assert show_progress_bar(True, stream=_Stream(False), environ={"CI": "1"}) is True
    assert show_progress_bar(False, stream=_Stream(True), in_notebook=True) is False
    auto = dict(environ={})
    assert show_progress_bar("auto", stream=_Stream(True), in_notebook=False, **auto) is True  # terminal
    assert show_progress_bar("auto", stream=_Stream(False), in_notebook=False, **auto) is False  # pipe
    assert show_progress_bar("auto", stream=_Stream(False), in_notebook=True, **auto) is True  # Jupyter
    assert show_progress_bar("auto", stream=object(), in_notebook=False, **auto) is False  # no isatty
    assert show_progress_bar("auto", stream=_Stream(True), in_notebook=True, environ={"CI": "true"}) is False
    assert show_progress_bar("auto", stream=_Stream(True), environ={"PYTEST_CURRENT_TEST": "x"}) is False
    assert show_progress_bar("auto", stream=_Stream(False), environ={"LADDERFIT_PROGRESS_BAR": "1"}) is True
    assert show_progress_bar("auto", stream=_Stream(True), in_notebook=True,
                             environ={"LADDERFIT_PROGRESS_BAR": "0"}) is False
    # here, under pytest, "auto" is off
    assert show_progress_bar("auto") is False
    with pytest.raises(ValueError, match="progress_bar"):
        FitConfig(progress_bar="yes")
    assert FitConfig.from_json(FitConfig().to_json()).progress_bar == "auto"
    assert FitConfig.from_json(FitConfig(progress_bar=True).to_json()).progress_bar is True


def test_exported():
    from ladderfit.model.provenance import data_sha256

    assert ladderfit.data_sha256 is data_sha256 and "data_sha256" in ladderfit.__all__


def test_single_step_fit_saved_before_pooled_slopes_predicts_the_same(sim, tmp_path):
    """A single-step fit saved before its slopes were pooled (no ``logit_slope_*_mu/tau`` priors or
    draws) still loads, and predicts from its own per-task slopes as before."""
    new = tiny(sim.data, model="single_step")
    path = new.save(tmp_path / "fit.nc")
    assert load_quietly(path).model_data.structure == "single_step"  # the default model's fit reads back as it is
    idata = az.from_netcdf(str(path))
    for group in idata.groups():
        idata[group].load()
    pooled = [f"logit_slope_{x}_{p}" for x in "ND" for p in ("mu", "tau")]
    priors = json.loads(idata.posterior.attrs["ladderfit_priors"])
    assert set(pooled) <= set(priors)
    idata.posterior.attrs["ladderfit_priors"] = json.dumps({k: v for k, v in priors.items() if k not in pooled})
    idata.posterior = idata.posterior.drop_vars(pooled)
    del idata.posterior.attrs["ladderfit_checksums"]  # older than both
    idata.to_netcdf(str(tmp_path / "old.nc"))
    with pytest.warns(ladderfit.LadderDataWarning, match="saved without checksums"):
        old = load_quietly(tmp_path / "old.nc")
    assert set(pooled) <= set(old.priors)
    a = new.predict(TARGETS, seed=3).query("quantity == 'accuracy'")["median"].to_numpy()
    b = old.predict(TARGETS, seed=3).query("quantity == 'accuracy'")["median"].to_numpy()
    # the old fit lacks the population draws, which the prediction then takes from their prior
    # (other random numbers): the same predictive distribution, so the medians of 40 draws agree
    # within their Monte Carlo error (a few tenths of a point here), not to the bit
    assert np.isfinite(b).all() and np.abs(a - b).max() < 0.02, (a, b)


def test_data_hash_is_the_documented_bytes_for_odd_values():
    """The hash follows DATA_HASH_DESCRIPTION value by value: text as ``str(v)``, a missing value
    (None, NaN, pd.NA, NaT) as the empty string, whatever the column's dtype."""
    import hashlib

    from ladderfit.model.provenance import HASHED_COLUMNS, data_sha256

    def by_the_description(df):
        cols = [c for c in HASHED_COLUMNS if c in df.columns]
        table = df[cols].sort_values([c for c in ("run", "task", "step") if c in cols], kind="mergesort")
        h = hashlib.sha256(f"rows={len(table)}\n".encode())
        for col in cols:
            h.update(f"\x1e{col}\x1d".encode())
            values = table[col]
            if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
                arr = values.to_numpy(dtype="<f8", na_value=np.nan)
                h.update((np.where(np.isnan(arr), np.nan, arr) + 0.0).astype("<f8").tobytes())
            else:
                h.update("\x1f".join("" if pd.isna(v) else str(v) for v in values).encode("utf-8"))
        return h.hexdigest()

    odd = pd.DataFrame({
        "run": ["a", None, "c", "d", "e", "f"],
        "task": pd.Categorical(["x", "y", None, "x", "y", "x"]),
        "step": [1, 2, 3, 4, 5, 6],
        "size": pd.array(["1B", pd.NA, "ü", "2B", "3B", "4B"], dtype="string"),
        "N": [1.0, np.nan, -0.0, 2, 3, 4],
    })
    mixed = pd.DataFrame({"run": list("abcdef"), "task": ["t"] * 6, "step": range(6),
                          "size": [None, float("nan"), pd.NA, "x", 3, 2.5]})
    for df in (odd, mixed, ladderfit.load_olmo_ladder()):
        assert data_sha256(df) == by_the_description(df)
