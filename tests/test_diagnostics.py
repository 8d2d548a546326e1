"""R-hat and bulk and tail ESS (ladderfit.model.rank_diagnostics) are ArviZ's numbers, computed
without importing ArviZ: the same as ``az.summary(kind="diagnostics")`` on hard arrays (ties,
constants, NaN, one chain, an odd count of draws) and on a fit's posterior, labels included."""

import warnings

import arviz as az
import numpy as np
import pytest

import ladderfit
from ladderfit.model.diagnostics import PARAMETERS, check_convergence
from ladderfit.model.rank_diagnostics import diagnostics_table, rank_diagnostics


def _arviz(posterior: dict, coords=None, dims=None):
    idata = az.from_dict(posterior=posterior, coords=coords, dims=dims)
    return az.summary(idata, kind="diagnostics", round_to="none")[["r_hat", "ess_bulk", "ess_tail"]]


def _assert_same(ours, theirs):
    assert list(ours.index) == list(theirs.index)
    np.testing.assert_allclose(ours.to_numpy(), theirs.to_numpy(), rtol=1e-12, atol=0, equal_nan=True)


def _hard_draws(chains: int, draws: int, seed: int = 0) -> np.ndarray:
    """Eight columns (chain, draw, 8): slow and fast mixing, ties, a constant, a shifted chain, a
    heavy tail, a coin and a NaN."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(chains, draws, 8))
    x[..., 0] = np.cumsum(x[..., 0], axis=1) * 0.1 + x[..., 1]  # autocorrelated
    x[..., 2] = np.round(x[..., 2], 1)  # ties
    x[..., 3] = 2.5  # constant
    x[0, :, 4] += 0.5  # one chain off
    x[..., 5] = np.exp(2 * x[..., 5])  # heavy right tail
    x[..., 6] = x[..., 6] > 0.8  # mostly ties: a coin
    x[1 % chains, 3 % draws, 7] = np.nan
    return x


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("chains,draws", [(4, 700), (2, 101), (1, 50), (3, 4)])
def test_the_same_numbers_as_arviz(chains, draws):
    x = _hard_draws(chains, draws)
    posterior = {"a": x, "b": x[..., 0] * 3.0}  # a vector and a scalar
    _assert_same(diagnostics_table(posterior), _arviz(posterior))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_labels_follow_dims_and_coords():
    rng = np.random.default_rng(1)
    posterior = {"sigma": rng.normal(size=(2, 60, 3)), "pair": rng.normal(size=(2, 60, 2, 3)), "mu": rng.normal(size=(2, 60))}
    coords = {"task": ["csqa", "piqa", "mmlu"], "law": ["c4", "lambada"]}
    dims = {"sigma": ["task"], "pair": ["law", "task"]}
    ours = diagnostics_table(posterior, coords, dims)
    _assert_same(ours, _arviz(posterior, coords, dims))
    assert "pair[lambada, piqa]" in ours.index and "sigma[mmlu]" in ours.index and "mu" in ours.index


def test_a_draws_shape_outside_arvizs_minimum_gives_nan():
    assert all(np.isnan(rank_diagnostics(np.ones((2, 3)))))
    r_hat, bulk, tail = rank_diagnostics(np.random.default_rng(2).normal(size=(1, 40)))
    assert np.isnan(r_hat) and bulk > 0 and tail > 0


@pytest.fixture(scope="module")
def small_fit():
    with warnings.catch_warnings():  # a short fit: it need not converge to be checked the same way
        warnings.simplefilter("ignore")
        return ladderfit.fit(tasks=["arc_easy", "hellaswag"], chains=2, warmup=150, draws=100, progress_bar=False)


def test_a_fits_report_is_arvizs_summary(small_fit):
    """The fit's own report (from its draws, no ArviZ), check_convergence of its InferenceData and
    ArviZ's summary of the same parameters: one table."""
    fitted = small_fit.diagnostics.table
    post = small_fit.idata.posterior
    names = [v for v in PARAMETERS if v in post]
    theirs = az.summary(small_fit.idata, var_names=names, kind="diagnostics", round_to="none")
    _assert_same(fitted, theirs[["r_hat", "ess_bulk", "ess_tail"]])
    _assert_same(check_convergence(small_fit.idata, warn=False).table, fitted)
