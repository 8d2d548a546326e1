"""Simulation-based calibration (:mod:`ladderfit.analysis.sbc`): the table's plumbing (fast) and
the uniformity of the ranks at a small scale (slow)."""

import numpy as np
import pytest

from ladderfit.analysis.sbc import DEFAULT_PARAMS, rank_bins, rank_uniformity, sbc
from ladderfit.data.preprocess import Preprocessing
from ladderfit.model.simulate import default_truths, simulate_ladder

RAW = Preprocessing(skip_fraction=0.1, smooth_window=1, step1_last_k=1, thin=1)


@pytest.fixture(scope="module")
def design():
    # 2 tasks, 8 runs (4 sizes x 1 and 5 x Chinchilla), 12 checkpoints each
    return simulate_ladder(default_truths(2, seed=1), seed=1, checkpoints=12, multipliers=(1, 5)).data


def test_sbc_table_shape_and_rank_range(design):
    opts = dict(chains=1, warmup=40, draws=40, preprocessing=RAW)
    table = sbc(design, 2, fit_options=opts, n_draws=19, seed=3)
    assert list(table.columns) == ["sim", "parameter", "index", "label", "truth", "rank", "n_draws", "divergences",
                                   "sampled_again", "warmed_up_longer"]
    per_sim = 3 + (len(DEFAULT_PARAMS) - 3) * 2  # three pooled scalars, the rest one per task
    assert len(table) == 2 * per_sim and sorted(table["sim"].unique()) == [0, 1]
    assert set(table["parameter"]) == set(DEFAULT_PARAMS)
    assert (table["n_draws"] == 19).all()
    assert table["rank"].between(0, 19).all() and np.isfinite(table["truth"]).all()
    assert set(table.loc[table["parameter"] == "k", "label"]) == {"task0", "task1"}
    assert (table.loc[table["parameter"] == "alpha_mu", "label"] == "").all()
    u = rank_uniformity(table, n_bins=2)
    assert len(u) == per_sim and u["p_value"].between(0, 1).all() and (u["n"] == 2).all()
    pooled = rank_uniformity(table, n_bins=2, by="parameter")
    assert len(pooled) == len(DEFAULT_PARAMS) and (pooled.loc[pooled["parameter"] == "k", "n"] == 4).all()
    assert (pooled.loc[pooled["parameter"] == "k", "label"] == "").all()  # pooled over the tasks

    import matplotlib.pyplot as plt

    from ladderfit.plots import plot_sbc_ranks

    fig = plot_sbc_ranks(table, n_bins=2, params=["k_mu", "k"])
    assert len(fig.axes) == 3
    plt.close(fig)
    with pytest.raises(KeyError, match="unknown parameter"):
        sbc(design, 1, params=("nope",), fit_options=opts)


def test_sbc_samples_as_fit_does_and_records_a_second_run(design, monkeypatch):
    """Each simulation is sampled by fit's own routine (a run with divergent transitions sampled
    again at retry_target_accept), seeded seed + 1 + sim; a kept second run is recorded."""
    import dataclasses

    import ladderfit.analysis.sbc as sbc_module

    calls = []
    real = sbc_module.sample_converging

    def as_if_sampled_again(md, priors, config):
        calls.append(config)
        kept, run = real(md, priors, config)
        return dataclasses.replace(kept, target_accept=config.retry_target_accept, warmup=2 * config.warmup), run

    monkeypatch.setattr(sbc_module, "sample_converging", as_if_sampled_again)
    opts = dict(chains=1, warmup=40, draws=40, preprocessing=RAW, seed=5)
    table = sbc(design, 2, fit_options=opts, n_draws=19, seed=3, params=("k",))
    assert [c.seed for c in calls] == [6, 7] and all(c.draws == 40 and c.warmup == 40 for c in calls)
    assert table["sampled_again"].all() and table["warmed_up_longer"].all() and table["divergences"].ge(0).all()


def test_rank_bins_are_exact_probabilities():
    assert np.allclose(rank_bins(99, 10), 0.1)
    p = rank_bins(49, 8)  # 50 ranks in 8 bins: unequal, exact
    assert np.isclose(p.sum(), 1) and len(p) == 8 and set(np.round(p * 50)) <= {6, 7}


@pytest.mark.slow
def test_sbc_ranks_are_uniform(design):
    """20 simulations, one chain of 200 + 200 each, ranks among 49 thinned draws, 4 bins; every
    (parameter, task) test above the Bonferroni-corrected 0.01."""
    opts = dict(chains=1, warmup=200, draws=200, preprocessing=RAW, seed=0)
    table = sbc(design, 20, fit_options=opts, n_draws=49, seed=0)
    u = rank_uniformity(table, n_bins=4)
    threshold = 0.01 / len(u)
    assert (u["p_value"] > threshold).all(), u.loc[u["p_value"] <= threshold].to_string()
