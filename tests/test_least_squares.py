"""The paper's least-squares method (ladderfit.least_squares)."""

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from ladderfit.data.bundled import load_olmo_ladder
from ladderfit.model.least_squares import LeastSquaresFit, fit_least_squares
from ladderfit.data.preprocess import Preprocessing
from ladderfit.data.schema import LadderDataError

TRUTH = {"E": 0.4, "A": 50.0, "alpha": 0.3, "B": 200.0, "beta": 0.3}
SIG = {  # acc = a / (1 + exp(-k (L - L0))) + b
    "hellaswag": {"a": 0.75, "b": 0.25, "k": -6.0, "L0": 0.9},
    "piqa": {"a": 0.5, "b": 0.5, "k": -5.0, "L0": 0.85},
}
BIG = ("big", 3e9, 6e11)


def true_loss(N, D):
    return TRUTH["E"] + TRUTH["A"] / N ** TRUTH["alpha"] + TRUTH["B"] / D ** TRUTH["beta"]


def true_acc(task, L):
    s = SIG[task]
    return s["a"] * expit(s["k"] * (L - s["L0"])) + s["b"]


def synthetic_ladder(seed=0, loss_noise=3e-4, acc_noise=2e-3, n_ckpt=30):
    """4 sizes x 4 multipliers, n_ckpt checkpoints a run, known laws, small noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for size, N in (("150M", 1.5e8), ("300M", 3e8), ("600M", 6e8), ("1.2B", 1.2e9)):
        for m in (1, 2, 5, 10):
            Dfin = 20 * m * N
            for t in range(1, n_ckpt + 1):
                D = Dfin * t / n_ckpt
                L = true_loss(N, D)
                for task in SIG:
                    rows.append({
                        "run": f"{size}-{m}xC", "size": size, "N": N, "D": D, "step": t, "task": task,
                        "multiplier": float(m), "flops": 6 * N * D,
                        "task_loss": L * (1 + loss_noise * rng.standard_normal()),
                        "accuracy": float(np.clip(true_acc(task, L) + acc_noise * rng.standard_normal(), 0, 1)),
                    })
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def synth():
    return synthetic_ladder()


@pytest.fixture(scope="module")
def synth_fit(synth):
    return fit_least_squares(synth, prep=Preprocessing(step1_last_k=1), n_starts=6, n_boot=30,
                             seed=1, reference_targets=[BIG])


@pytest.fixture(scope="module")
def olmo2():
    return load_olmo_ladder("paper").query("task in ['hellaswag', 'arc_easy']").reset_index(drop=True)


@pytest.fixture(scope="module")
def olmo_fits(olmo2):
    return {v: fit_least_squares(olmo2, structure=v, n_starts=5, n_boot=20, seed=0)
            for v in ("two_step", "compute", "single_step")}


def _param(fit, task, step, name):
    p = fit.params
    return float(p.loc[(p.task == task) & (p.step == step) & (p.parameter == name), "value"].iloc[0])


# (a) recovery ---------------------------------------------------------------------------------


def test_recovery_of_synthetic_laws(synth_fit):
    fit = synth_fit
    assert isinstance(fit, LeastSquaresFit)
    for task in SIG:
        assert _param(fit, task, "step1", "E") == pytest.approx(TRUTH["E"], abs=0.05)
        assert _param(fit, task, "step1", "alpha") == pytest.approx(TRUTH["alpha"], abs=0.05)
        assert _param(fit, task, "step1", "beta") == pytest.approx(TRUTH["beta"], abs=0.05)
        assert _param(fit, task, "step2", "k") == pytest.approx(SIG[task]["k"], rel=0.2)
        assert _param(fit, task, "step2", "L0") == pytest.approx(SIG[task]["L0"], abs=0.05)
        assert _param(fit, task, "step2", "b") == pytest.approx(SIG[task]["b"], abs=0.05)
    pred = fit.predict([BIG]).set_index(["task", "quantity"])
    L_true = true_loss(BIG[1], BIG[2])
    for task in SIG:
        assert pred.loc[(task, "task_loss"), "mean"] == pytest.approx(L_true, rel=0.01)
        assert pred.loc[(task, "accuracy"), "mean"] == pytest.approx(true_acc(task, L_true), abs=0.01)


def test_single_step_and_compute_recover_synthetic_accuracy(synth):
    L_true = true_loss(BIG[1], BIG[2])
    for variant in ("single_step", "compute"):
        fit = fit_least_squares(synth, tasks="hellaswag", structure=variant, prep=Preprocessing(step1_last_k=1),
                                n_starts=4, n_boot=0, reference_targets=[BIG])
        acc = fit.predict([BIG]).query("quantity == 'accuracy'")["mean"].item()
        # the compute form is not the true law (which separates N and D): only roughly right
        tol = 0.02 if variant == "single_step" else 0.06
        assert acc == pytest.approx(true_acc("hellaswag", L_true), abs=tol), variant


# (b) multi-start -------------------------------------------------------------------------------


def test_start_agreement_table(synth_fit, olmo_fits):
    for fit, n in ((synth_fit, 6), (olmo_fits["two_step"], 5), (olmo_fits["single_step"], 5)):
        ag = fit.start_agreement
        steps = ["single_step"] if fit.config["structure"] == "single_step" else ["step1", "step2"]
        assert len(ag) == len(fit.tasks) * len(steps)
        assert set(zip(ag.task, ag.step)) == {(t, s) for t in fit.tasks for s in steps}
        for col in ("n_starts", "n_converged", "frac_best_objective", "agreement", "pred_spread", "best_objective"):
            assert col in ag.columns
        assert (ag.n_starts == n).all()
        assert ((ag.n_converged >= 1) & (ag.n_converged <= n)).all()
        for col in ("frac_best_objective", "agreement"):
            assert ag[col].between(0, 1).all()
        assert (ag.agreement <= ag.frac_best_objective).all()
        assert (ag.pred_spread >= 0).all()
        assert np.isfinite(ag.select_dtypes("number").to_numpy()).all()
    # an easy, nearly noiseless problem: the starts agree
    assert (synth_fit.start_agreement.agreement > 0.5).all()


def test_seeded_and_reproducible(olmo2):
    a = fit_least_squares(olmo2, tasks=["hellaswag"], n_starts=3, n_boot=5, seed=3)
    b = fit_least_squares(olmo2, tasks=["hellaswag"], n_starts=3, n_boot=5, seed=3)
    pd.testing.assert_frame_equal(a.params, b.params)
    pd.testing.assert_frame_equal(a.predict(), b.predict())


# (c) predict() ---------------------------------------------------------------------------------

COLS = ["target", "task", "N", "D", "quantity", "mean", "median", "sd",
        "lower_50", "upper_50", "lower_90", "upper_90", "lower_95", "upper_95"]


@pytest.mark.parametrize("variant", ["two_step", "compute", "single_step"])
def test_predict_table(olmo_fits, variant):
    fit = olmo_fits[variant]
    pred = fit.predict()
    assert list(pred.columns) == COLS
    assert not pred.isna().any().any()
    quantities = {"accuracy"} if variant == "single_step" else {"accuracy", "task_loss"}
    assert set(pred.quantity) == quantities
    assert len(pred) == 2 * 2 * len(quantities)  # targets x tasks x quantities
    assert set(pred.target) == {"7B-4T", "13B-5T"}
    assert (pred["mean"] == pred["median"]).all()
    assert (pred.sd >= 0).all()
    for lv in (50, 90, 95):
        assert (pred[f"lower_{lv}"] <= pred["median"]).all()
        assert (pred["median"] <= pred[f"upper_{lv}"]).all()
    assert (pred.lower_95 <= pred.lower_50).all() and (pred.upper_50 <= pred.upper_95).all()
    acc = pred[pred.quantity == "accuracy"]
    assert acc[["mean", "lower_95", "upper_95"]].stack().between(0, 1).all()
    if variant != "single_step":
        loss = pred[pred.quantity == "task_loss"]
        assert (loss.upper_90 > loss.lower_90).all()  # bootstrap gives a real band


def test_predict_custom_targets_and_levels(olmo_fits):
    fit = olmo_fits["two_step"]
    pred = fit.predict(["mine=3e9,1e12"], levels=(80,))
    assert list(pred.columns) == COLS[:8] + ["lower_80", "upper_80"]
    assert set(pred.target) == {"mine"} and (pred.N == 3e9).all()
    with pytest.raises(ValueError):
        fit.predict(levels=(100,))


def test_n_boot_zero_gives_point_loss_interval(olmo2):
    fit = fit_least_squares(olmo2, tasks=["hellaswag"], n_starts=2, n_boot=0)
    loss = fit.predict().query("quantity == 'task_loss'")
    assert (loss.sd == 0).all() and (loss.lower_90 == loss["mean"]).all() and (loss.upper_90 == loss["mean"]).all()


# (d) variants on the bundled ladder -----------------------------------------------------------


@pytest.mark.parametrize("variant", ["two_step", "compute", "single_step"])
def test_variants_on_bundled_ladder_are_sane(olmo_fits, variant):
    pred = olmo_fits[variant].predict().set_index(["target", "task", "quantity"])
    hs7 = pred.loc[("7B-4T", "hellaswag", "accuracy"), "mean"]
    assert 0.5 < hs7 < 0.95
    ae7 = pred.loc[("7B-4T", "arc_easy", "accuracy"), "mean"]
    assert 0.5 < ae7 < 0.95
    # bigger model, more data: not worse
    assert pred.loc[("13B-5T", "hellaswag", "accuracy"), "mean"] >= hs7 - 1e-9
    if variant != "single_step":
        loss = pred.loc[("7B-4T", "hellaswag", "task_loss"), "mean"]
        assert 0.4 < loss < 0.85  # below the ladder's best final loss (about 0.76)


def test_params_table(olmo_fits):
    p = olmo_fits["two_step"].params
    assert list(p.columns) == ["task", "step", "parameter", "value"]
    assert set(p.parameter[p.step == "step1"]) == {"E", "A", "alpha", "B", "beta"}
    assert set(p.parameter[p.step == "step2"]) == {"a", "b", "k", "L0"}
    assert (p.value[(p.step == "step2") & (p.parameter == "k")] < 0).all()
    assert set(olmo_fits["compute"].params.query("step == 'step1'").parameter) == {"E", "A", "alpha"}
    assert np.isfinite(p.value).all()


def test_other_feature(olmo2):
    fit = fit_least_squares(olmo2, tasks=["hellaswag"], feature="c4_loss", n_starts=3, n_boot=0)
    assert fit.config["feature"] == "c4_loss"
    acc = fit.predict().query("quantity == 'accuracy'")["mean"]
    assert acc.between(0.5, 0.95).all()


# (e) errors -------------------------------------------------------------------------------------


def test_errors(olmo2):
    with pytest.raises(LadderDataError, match="not_a_column"):
        fit_least_squares(olmo2, feature="not_a_column", n_starts=1, n_boot=0)
    with pytest.raises(LadderDataError, match="mmlu"):
        fit_least_squares(olmo2, tasks=["mmlu"], n_starts=1, n_boot=0)
    with pytest.raises(LadderDataError, match="too few runs"):
        few = olmo2[olmo2.run.isin(["190M-1xC", "370M-1xC", "760M-2xC", "1B-5xC", "1B-10xC"])]
        fit_least_squares(few, n_starts=1, n_boot=0)
    with pytest.raises(LadderDataError, match="flops"):
        fit_least_squares(olmo2.drop(columns="flops"), structure="compute", n_starts=1, n_boot=0)
    with pytest.raises(LadderDataError, match="intermediate feature"):
        fit_least_squares(olmo2, feature="accuracy", n_starts=1, n_boot=0)
    with pytest.raises(ValueError, match="structure"):
        fit_least_squares(olmo2, structure="three_step")


def test_fit_method_least_squares_shares_the_data_path():
    import ladderfit

    ls = ladderfit.fit(method="least_squares", tasks=["hellaswag"], n_boot=0)
    pred = ls.predict()
    assert set(pred["task"]) == {"hellaswag"} and set(pred["target"]) == {"7B-4T", "13B-5T"}
    acc = pred[pred["quantity"] == "accuracy"]
    assert acc["median"].between(0.5, 0.95).all()
    with pytest.raises(ValueError, match="method"):
        ladderfit.fit(method="ridge")
