"""What a ladder without some columns still gives the model (no sampling)."""

import warnings

import numpy as np
import pytest

import ladderfit
from ladderfit.data.schema import available_feature, check_model_columns
from ladderfit.model.inputs import build_model_data
from ladderfit.model.spec import as_spec


def test_compute_derives_training_flops_as_6ND_without_a_flops_column():
    df = ladderfit.load_olmo_ladder()
    df = df[df["run"].isin(["190M-1xC", "190M-2xC", "370M-1xC", "370M-2xC", "760M-1xC"])]
    md = build_model_data(df.drop(columns="flops"), as_spec("compute"))
    runs = df.groupby("run").agg(N=("N", "first"), D=("D", "max"))
    want = np.log(6 * runs["N"] * runs["D"])
    assert md.logC_c == pytest.approx(want.mean())
    np.testing.assert_allclose(np.sort(np.unique(md.s1_x)), np.sort(want - want.mean()), rtol=1e-10)
    assert md.flops_coef == pytest.approx((np.log(6.0), 1.0), abs=1e-9)  # flops / D = 6 N


def test_a_table_without_task_loss_fits_its_only_loss_column():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pythia = ladderfit.load_pythia_ladder()
    assert "task_loss" not in pythia.columns and available_feature(pythia, "task_loss") == "lambada_loss"
    check_model_columns(pythia, "two_step", "task_loss")  # no error: the one loss column stands in
    two = pythia.assign(c4_loss=pythia["lambada_loss"])  # two loss columns: no guess, the error names them
    assert available_feature(two, "task_loss") == "task_loss"
    with pytest.raises(ladderfit.LadderDataError, match="lambada_loss, c4_loss|c4_loss, lambada_loss"):
        check_model_columns(two, "two_step", "task_loss")
    small = pythia[pythia["task"].isin(["piqa"]) & pythia["run"].isin(pythia["run"].unique()[:4])]
    with pytest.warns(UserWarning, match="only loss column 'lambada_loss'"):
        fit = ladderfit.fit(small, model="two_step", chains=1, warmup=20, draws=10, seed=0)
    assert fit.config.model.feature == "lambada_loss"


def test_runs_are_ordered_by_size_then_final_tokens_whatever_the_row_order():
    from ladderfit.model.inputs import _tasks_and_runs

    df = ladderfit.load_olmo_ladder()
    tasks, runs = _tasks_and_runs(df.sample(frac=1.0, random_state=0))
    keys = [(df.loc[df["run"] == r, "N"].iloc[0], df.loc[df["run"] == r, "D"].max(), r) for r in runs]
    assert keys == sorted(keys) and sorted(runs) == sorted(df["run"].unique())
    assert tasks == sorted(df["task"].unique())
