"""Hostile input: every command fails clearly, before the work, and never leaves a broken file.

Each failing case asserts the exit status, that the message names the culprit, that no
traceback is printed, and that no input or previous output changed. One tiny fit (piqa,
1 chain) is shared by the module; the expensive model-structure matrix is marked slow except
for the single-step fit on an lm-evaluation-harness ladder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import ladderfit
from ladderfit.cli import main
from ladderfit.errors import LadderDataError, LadderDataWarning

SRC = str(Path(ladderfit.__file__).resolve().parents[1])


# ----------------------------------------------------------------------------- helpers


def env_for(**extra) -> dict:
    env = {**os.environ, "PYTHONPATH": SRC}
    for k, v in extra.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return env


def cli(*args, timeout=120, **env):
    """The command in a fresh process: (exit status, stdout, stderr)."""
    p = subprocess.run([sys.executable, "-m", "ladderfit.cli", *map(str, args)], env=env_for(**env),
                       capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def run(capsys, *args):
    """The command in this process: (exit status, stdout, stderr)."""
    try:
        code = main([str(a) for a in args])
    except SystemExit as e:  # argparse
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def snapshot(*paths) -> dict:
    return {str(p): (Path(p).read_bytes(), Path(p).stat().st_mtime_ns) if Path(p).exists() else None for p in paths}


def assert_failed(result, *culprits, status=2):
    code, _out, err = result
    assert code == status, f"exit {code}, stderr: {err}"
    assert "Traceback" not in err, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("ladderfit: error:")]
    assert len(errors) == 1, err
    for word in culprits:
        assert word in errors[0], f"{word!r} not in {errors[0]!r}"
    return errors[0]


def tidy_ladder(sizes=(1e8, 2e8, 4e8, 8e8), mults=(1, 2, 4), tasks=("piqa", "arc_easy"), n_ckpt=6, seed=0):
    """A small synthetic tidy ladder that validates."""
    rng = np.random.default_rng(seed)
    rows = []
    for N in sizes:
        label = f"{N / 1e6:g}M"
        for m in mults:
            run = f"{label}-{m}xC"
            total = 20 * N * m
            for k in range(1, n_ckpt + 1):
                D = total * k / n_ckpt
                for task in tasks:
                    loss = 0.8 + 30 / N**0.2 + 40 / D**0.15 + rng.normal(0, 0.005)
                    acc = float(np.clip(0.5 + 0.4 / (1 + np.exp(4 * (loss - 1.2))) + rng.normal(0, 0.01), 0.01, 0.99))
                    rows.append({"run": run, "size": label, "N": N, "D": D, "step": 100 * k, "task": task,
                                 "accuracy": acc, "task_loss": loss, "flops": 6 * N * D})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def tiny_fit():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tiny fits do not converge, by design
        return ladderfit.fit(model="two_step", tasks=["piqa"], chains=1, warmup=20, draws=20, max_tree_depth=4, seed=0)


@pytest.fixture(scope="module")
def fit_path(tiny_fit, tmp_path_factory):
    return tiny_fit.save(tmp_path_factory.mktemp("fit") / "tiny.nc")


@pytest.fixture
def tidy_csv(tmp_path):
    path = tmp_path / "ladder.csv"
    tidy_ladder().to_csv(path, index=False)
    return path


@pytest.fixture
def fake_fit(monkeypatch, tiny_fit):
    """predict without sampling: ladderfit.model.bayes.fit returns the shared tiny fit."""
    import ladderfit.model.bayes as bayes

    calls = []

    def fake(*args, **kwargs):
        calls.append(kwargs)
        return tiny_fit

    monkeypatch.setattr(bayes, "fit", fake)
    return calls


# ----------------------------------------------------------------------------- the cases: lost work


def test_predict_checks_output_folder_before_sampling(tmp_path, capsys, fake_fit):
    save = tmp_path / "fit.nc"
    r = run(capsys, "predict", "--tasks", "piqa", "--out", tmp_path / "missing_dir" / "p.csv", "--save", save)
    assert_failed(r, "missing_dir", "does not exist")
    assert not fake_fit, "sampled before checking the outputs"
    assert not save.exists()


def test_predict_saves_the_fit_before_a_failing_table_write(tmp_path, capsys, fake_fit, monkeypatch):
    save, out = tmp_path / "fit.nc", tmp_path / "p.csv"
    out.write_text("previous table\n")
    before = snapshot(out)

    def disk_full(self, *a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", disk_full)
    assert_failed(run(capsys, "predict", "--tasks", "piqa", "--out", out, "--save", save), "p.csv", "No space left")
    assert save.exists() and ladderfit.load(save).tasks == ["piqa"]  # the fit is kept
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fit.nc", "p.csv"]  # no temporary files left


def test_variance_refuses_to_overwrite_its_input(tmp_path, capsys):
    data = tmp_path / "v.csv"
    tidy_ladder().to_csv(data, index=False)
    before = snapshot(data)
    assert_failed(run(capsys, "variance", "--data", data, "--out", data), "v.csv", "input")
    assert snapshot(data) == before


@pytest.mark.parametrize(
    "command", [["predict", "--tasks", "piqa"], ["backtest", "--method", "least_squares"], ["calibrate", "--tasks", "piqa"]]
)
def test_fitting_commands_refuse_to_overwrite_their_input(tmp_path, capsys, fake_fit, command):
    data = tmp_path / "v.csv"
    tidy_ladder().to_csv(data, index=False)
    before = snapshot(data)
    assert_failed(run(capsys, *command, "--data", data, "--out", data), "input")
    assert snapshot(data) == before


def test_output_through_a_symlink_to_the_input_is_refused(tmp_path, capsys):
    data = tmp_path / "v.csv"
    tidy_ladder().to_csv(data, index=False)
    link = tmp_path / "link.csv"
    link.symlink_to(data)
    before = snapshot(data)
    assert_failed(run(capsys, "variance", "--data", data, "--out", link), "input")
    assert snapshot(data) == before


_FAILED_WRITES = r"""
import contextlib, io, json, os, resource, signal, sys, warnings
from pathlib import Path

fit_path, work = sys.argv[1], Path(sys.argv[2])
res = {"env_x64": os.environ.get("JAX_ENABLE_X64")}
import ladderfit

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    fit = ladderfit.load(fit_path)
res["warned"] = any(issubclass(w.category, ladderfit.ConvergenceWarning) for w in caught)
res["dtype"] = str(fit.predictive_draws(["7B-4T"])["accuracy"].dtype)

from ladderfit.cli import main

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
for name in ("prev.nc", "prev.csv", "prev.png"):
    (work / name).write_bytes(b"previous " + name.encode())
resource.setrlimit(resource.RLIMIT_FSIZE, (1000, resource.RLIM_INFINITY))
try:
    fit.save(work / "prev.nc")
    res["save"] = "ok"
except OSError as err:
    res["save"] = str(err)
try:
    fit.save(work / "new.nc")
    res["save_new"] = "ok"
except OSError as err:
    res["save_new"] = str(err)
for name, argv in (("csv", ["variance", "--out", str(work / "prev.csv")]),
                   ("png", ["plot", "step2", "--fit", fit_path, "--out", str(work / "prev.png"), "--dpi", "30"])):
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        rc = main(argv)
    res[name] = [rc, err.getvalue()]
res["left"] = sorted(p.name for p in work.iterdir())
print("RESULT" + json.dumps(res))
"""


@pytest.fixture(scope="module")
def failed_writes(fit_path, tmp_path_factory):
    """One fresh process (no JAX_ENABLE_X64): load the fit, then fill the 'disk' while writing."""
    work = tmp_path_factory.mktemp("disk_full")
    script = work.parent / "failed_writes.py"
    script.write_text(_FAILED_WRITES)
    p = subprocess.run([sys.executable, str(script), str(fit_path), str(work)], env=env_for(JAX_ENABLE_X64=None),
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    line = [ln for ln in p.stdout.splitlines() if ln.startswith("RESULT")][0]
    return json.loads(line[len("RESULT"):]), work


def test_failed_save_leaves_the_previous_fit(failed_writes):
    res, work = failed_writes
    assert "writing failed" in res["save"] and "previous file is unchanged" in res["save"]
    assert (work / "prev.nc").read_bytes() == b"previous prev.nc"
    assert "no file was written" in res["save_new"] and not (work / "new.nc").exists()


@pytest.mark.parametrize("name", ["csv", "png"])
def test_failed_write_leaves_the_previous_output(failed_writes, name):
    res, work = failed_writes
    rc, err = res[name]
    assert rc == 2 and "Traceback" not in err
    assert f"prev.{name}" in err and "writing failed" in err and "previous file is unchanged" in err
    assert (work / f"prev.{name}").read_bytes() == f"previous prev.{name}".encode()


def test_failed_writes_leave_no_temporary_files(failed_writes):
    res, _ = failed_writes
    assert res["left"] == ["prev.csv", "prev.nc", "prev.png"]


def test_load_in_a_fresh_process_uses_float64_and_warns_again(failed_writes):
    res, _ = failed_writes
    assert res["env_x64"] is None
    assert res["dtype"] == "float64"
    assert res["warned"], "a loaded fit that had not converged must warn again"


# ----------------------------------------------------------------------------- the cases: tracebacks


@pytest.mark.parametrize(
    "args, culprit",
    [
        (["predict", "--chains", "0"], "--chains"),
        (["predict", "--draws", "-1"], "--draws"),
        (["--host-devices", "-3", "data", "summary"], "--host-devices"),
        (["variance", "--last-n", "0"], "--last-n"),
        (["variance", "--last-n", "1"], "--last-n"),
        (["predict", "--warmup", "0"], "--warmup"),
        (["predict", "--warmup", "many"], "--warmup"),
        (["predict", "--seed", "-1"], "--seed"),
        (["predict", "--chains", "1.5"], "--chains"),
        (["plot", "step2", "--dpi", "0"], "--dpi"),
        (["plot", "variance", "--last-n", "-2"], "--last-n"),
        (["backtest", "--draws", "0"], "--draws"),
        (["calibrate", "--draws", "0"], "--draws"),
        (["calibrate", "--holdout", "biggest"], "biggest"),
        (["plot", "bogus"], "bogus"),
        (["backtest", "--method", "magic"], "magic"),
        (["predict", "--structure", "three_step"], "three_step"),
        (["frobnicate"], "frobnicate"),
    ],
)
def test_bad_options_are_one_line(capsys, args, culprit):
    line = assert_failed(run(capsys, *args), culprit)
    assert "expected" in line or "invalid choice" in line


def test_bad_option_in_a_fresh_process_prints_one_line():
    code, out, err = cli("predict", "--chains", "0")
    assert code == 2 and "Traceback" not in err
    assert err.strip() == "ladderfit: error: argument --chains: expected a whole number >= 1, got '0' (see 'ladderfit predict --help')"


def test_platform_gpu_without_a_gpu():
    code, _, err = cli("--platform", "gpu", "data", "summary", JAX_PLATFORMS=None)
    try:
        import jax

        has_gpu = any(d.platform == "gpu" for d in jax.devices("gpu"))
    except Exception:  # noqa: BLE001
        has_gpu = False
    if has_gpu:
        pytest.skip("this machine has a GPU")
    assert_failed((code, "", err), "--platform gpu", "GPU")


def test_variance_sort_by_unknown_column(capsys, tmp_path):
    out = tmp_path / "v.csv"
    assert_failed(run(capsys, "variance", "--sort-by", "bogus", "--out", out), "bogus", "choose from")
    assert not out.exists()


def test_plot_task_not_in_the_fit(capsys, fit_path, tmp_path):
    out = tmp_path / "s2.png"
    assert_failed(run(capsys, "plot", "step2", "--fit", fit_path, "--tasks", "mmlu", "--out", out), "mmlu", "piqa")
    assert not out.exists()


@pytest.mark.parametrize("command", [["plot", "step2", "--out", "x.png"], ["variance"]])
def test_missing_fit_file(capsys, tmp_path, command, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert_failed(run(capsys, *command, "--fit", tmp_path / "missing.nc"), "missing.nc", "no such file")
    assert list(tmp_path.iterdir()) == []


def _broken_fits(fit_path: Path, folder: Path) -> dict[str, Path]:
    import arviz as az
    import xarray as xr

    raw = fit_path.read_bytes()
    files = {
        "truncated": raw[: len(raw) // 2],
        "empty": b"",
        "text": b"run,size\n1,2\n",
    }
    out = {}
    for name, content in files.items():
        (folder / f"{name}.nc").write_bytes(content)
        out[name] = folder / f"{name}.nc"
    xr.Dataset({"x": ("d", np.arange(3.0))}).to_netcdf(folder / "foreign.nc")
    out["foreign"] = folder / "foreign.nc"
    idata = az.from_netcdf(str(fit_path))
    idata.posterior.load()
    idata.constant_data.load()
    edits = {
        "bad_json": {"ladderfit_model_data": "{not json"},
        "wrong_tasks": {"ladderfit_model_data": json.dumps(
            {**json.loads(idata.posterior.attrs["ladderfit_model_data"]), "tasks": ["piqa", "mmlu", "boolq"]})},
        "no_config": {"ladderfit_config": None},
        "other_model": {"ladderfit_model": "ladderfit.joint_two_step.v1"},
        "bad_config": {"ladderfit_config": json.dumps({"chains": 0})},
    }
    for name, change in edits.items():
        edited = idata.copy()
        attrs = dict(idata.posterior.attrs)
        for k, v in change.items():
            if v is None:
                attrs.pop(k)
            else:
                attrs[k] = v
        edited.posterior.attrs = attrs
        edited.to_netcdf(str(folder / f"{name}.nc"))
        out[name] = folder / f"{name}.nc"
    return out


@pytest.fixture(scope="module")
def broken_fits(fit_path, tmp_path_factory):
    return _broken_fits(Path(fit_path), tmp_path_factory.mktemp("broken"))


BROKEN = ["truncated", "empty", "text", "foreign", "bad_json", "wrong_tasks", "no_config", "other_model", "bad_config"]


@pytest.mark.parametrize("name", BROKEN)
def test_broken_saved_fit_is_one_line(capsys, broken_fits, tmp_path, name):
    path = broken_fits[name]
    before = snapshot(path)
    out = tmp_path / "x.png"
    line = assert_failed(run(capsys, "plot", "step2", "--fit", path, "--out", out), f"{name}.nc")
    assert "expected" in line or "refit" in line
    assert not out.exists() and snapshot(path) == before


@pytest.mark.parametrize("name", ["truncated", "bad_json", "wrong_tasks"])
def test_broken_saved_fit_from_python_raises_ladder_data_error(broken_fits, name):
    with pytest.raises(LadderDataError, match=f"{name}.nc"):
        ladderfit.load(broken_fits[name])


def test_fit_folder_is_not_a_fit(capsys, tmp_path):
    assert_failed(run(capsys, "variance", "--fit", tmp_path), "folder")


def test_out_into_a_read_only_folder(capsys, tmp_path, fit_path, monkeypatch):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    if os.geteuid() == 0:  # root writes anywhere: make the check see what a user would
        import ladderfit.io as lio

        real = lio.os.access
        monkeypatch.setattr(lio.os, "access", lambda p, mode: False if Path(p) == folder else real(p, mode))
    try:
        assert_failed(run(capsys, "plot", "step2", "--fit", fit_path, "--out", folder / "s.png"), "ro", "not writable")
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o755)


@pytest.mark.parametrize("name", ["fig.bmp", "fig.txt", "fig", "fig.csv", "fig.nc"])
def test_plot_unknown_image_extension(capsys, tmp_path, fit_path, name):
    line = assert_failed(run(capsys, "plot", "step2", "--fit", fit_path, "--out", tmp_path / name), name)
    assert ".png" in line and ".pdf" in line and ".svg" in line
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "option, name, expected",
    [("--out", "p.txt", ".csv"), ("--out", "p.nc", ".csv"), ("--save", "fit.csv", ".nc"), ("--save", "fit.pkl", ".nc")],
)
def test_predict_output_extensions(capsys, tmp_path, fake_fit, option, name, expected):
    assert_failed(run(capsys, "predict", "--tasks", "piqa", option, tmp_path / name), name, expected)
    assert not fake_fit and list(tmp_path.iterdir()) == []


def test_output_that_is_a_folder(capsys, tmp_path, fake_fit):
    (tmp_path / "p.csv").mkdir()
    assert_failed(run(capsys, "predict", "--tasks", "piqa", "--out", tmp_path / "p.csv"), "p.csv", "folder")
    assert not fake_fit


def test_backtest_out_missing_folder_fails_before_fitting(capsys, tmp_path):
    out = tmp_path / "nope" / "bt.csv"
    assert_failed(run(capsys, "backtest", "--method", "least_squares", "--tasks", "piqa", "--out", out), "nope")


def test_unexpected_error_writes_the_traceback_to_a_file(capsys, monkeypatch):
    import ladderfit.data.summary as summary

    def boom(*a, **k):
        raise RuntimeError("planted bug")

    monkeypatch.setattr(summary, "data_summary", boom)
    code, _, err = run(capsys, "data", "summary")
    assert code == 1 and "Traceback" not in err
    assert "internal error: RuntimeError: planted bug" in err
    path = err.split("the full traceback is in ")[1].split(";")[0]
    text = Path(path).read_text()
    assert "Traceback" in text and "planted bug" in text
    Path(path).unlink()
    with pytest.raises(RuntimeError, match="planted bug"):
        main(["--debug", "data", "summary"])


def test_debug_reraises_expected_errors(tmp_path):
    with pytest.raises(LadderDataError, match="nope.csv"):
        main(["--debug", "data", "summary", "--data", str(tmp_path / "nope.csv")])


# ----------------------------------------------------------------------------- the cases: silently wrong


def test_duplicated_accuracy_header(tmp_path, capsys):
    path = tmp_path / "dup.csv"
    df = tidy_ladder()
    df.insert(len(df.columns), "accuracy_again", df["accuracy"])
    df.to_csv(path, index=False)
    path.write_text(path.read_text().replace("accuracy_again", "accuracy", 1))
    before = snapshot(path)
    assert_failed(run(capsys, "data", "summary", "--data", path), "accuracy", "more than once")
    assert snapshot(path) == before
    with pytest.raises(LadderDataError, match="accuracy"):
        ladderfit.validate(pd.DataFrame([[1, 2]], columns=["accuracy", "accuracy"]))


def test_d_must_rise_with_the_step(tmp_path, capsys):
    df = tidy_ladder()
    run_name = df["run"].iloc[0]
    mask = df["run"] == run_name
    df.loc[mask, "D"] = df.loc[mask, "D"].max() * 2 - df.loc[mask, "D"]  # falls as the step rises
    path = tmp_path / "d.csv"
    df.to_csv(path, index=False)
    assert_failed(run(capsys, "data", "summary", "--data", path), run_name, "rise with the step")


def test_constant_d_within_a_run_warns():
    df = tidy_ladder()
    run_name = df["run"].iloc[0]
    df.loc[df["run"] == run_name, "D"] = df.loc[df["run"] == run_name, "D"].max()  # the run's total at every step
    with pytest.warns(UserWarning, match=f"does not rise with the step.*{run_name}"):
        ladderfit.validate(df)


def test_d_one_value_per_checkpoint():
    df = tidy_ladder()
    df.loc[0, "D"] *= 1.5
    with pytest.raises(LadderDataError, match="one value per checkpoint"):
        ladderfit.validate(df)


def test_boolean_accuracy_rejected(tmp_path, capsys):
    df = tidy_ladder()
    df["accuracy"] = df["accuracy"] > 0.6
    path = tmp_path / "b.csv"
    df.to_csv(path, index=False)
    assert_failed(run(capsys, "data", "summary", "--data", path), "accuracy", "True/False")
    with pytest.raises(LadderDataError, match="True/False"):
        ladderfit.validate(df)


@pytest.mark.parametrize("value", [1.0, 0.0])
def test_task_with_constant_accuracy_fails_before_sampling(tmp_path, capsys, fake_fit, value):
    df = tidy_ladder()
    df.loc[df["task"] == "arc_easy", "accuracy"] = value
    path = tmp_path / "c.csv"
    df.to_csv(path, index=False)
    assert_failed(run(capsys, "predict", "--data", path), "arc_easy", "every row")
    assert not fake_fit


@pytest.mark.parametrize(
    "target, culprit",
    [
        ("tiny=1e-300,1e-300", "sane range"),
        ("zero=0,1e12", "> 0"),
        ("neg=7e9,-1", "> 0"),
        ("inf=inf,1e12", "finite"),
        ("nan=nan,1e12", "finite"),
        ("small=100,1e12", "sane range"),
        ("huge=7e9,1e30", "sane range"),
        ("words=seven,1e12", "not a number"),
        ("halfspec=7e9", "NAME=N,D"),
        ("8B-2T", "NAME=N,D"),
    ],
)
def test_bad_targets_fail_before_sampling(capsys, fake_fit, target, culprit):
    assert_failed(run(capsys, "predict", "--tasks", "piqa", "--target", target), target.split("=")[0], culprit)
    assert not fake_fit


def test_target_range_from_python():
    with pytest.raises(LadderDataError, match="sane range"):
        ladderfit.as_targets([("t", 1e-300, 1e-300)])
    with pytest.raises(LadderDataError, match="sane range"):
        ladderfit.as_targets(pd.DataFrame({"target": ["t"], "N": [7e9], "D": [1e2]}))


def test_one_chain_says_rhat_is_undefined(capsys, fake_fit):
    code, out, err = run(capsys, "predict", "--tasks", "piqa", "--quiet")
    assert code in (0, 3) and "Traceback" not in err
    assert "R-hat n/a (1 chain)" in out and "max R-hat" not in out


def test_variance_with_a_name_n_d_target(capsys, fit_path, tmp_path):
    out = tmp_path / "v.csv"
    code, stdout, err = run(capsys, "variance", "--fit", fit_path, "--target", "my-3B=3e9,1.2e12", "--out", out)
    assert code == 0, err
    assert "pred_acc_width90" in pd.read_csv(out).columns


def test_plot_with_a_name_n_d_target(capsys, fit_path, tmp_path):
    out = tmp_path / "f.svg"
    code, _, err = run(capsys, "plot", "forest", "--fit", fit_path, "--target", "my-3B=3e9,1.2e12", "--out", out)
    assert code == 0, err
    assert out.read_bytes().lstrip().startswith(b"<?xml")


def test_semicolon_separated_csv(tmp_path, capsys):
    path = tmp_path / "semi.csv"
    tidy_ladder().to_csv(path, index=False, sep=";")
    assert_failed(run(capsys, "data", "summary", "--data", path), "semi.csv", "';'")


def test_tab_separated_csv(tmp_path, capsys):
    path = tmp_path / "tab.csv"
    tidy_ladder().to_csv(path, index=False, sep="\t")
    assert_failed(run(capsys, "data", "summary", "--data", path), "tabs")


def test_one_n_for_all_size_labels(tmp_path, capsys):
    df = tidy_ladder()
    df["N"] = 1e8
    path = tmp_path / "oneN.csv"
    df.to_csv(path, index=False)
    assert_failed(run(capsys, "data", "summary", "--data", path), "same N", "parameter count")


def test_one_training_length_per_size_warns():
    df = tidy_ladder(mults=(1,))
    with pytest.warns(UserWarning, match="single training length.*prior-only"):
        ladderfit.validate(df)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ladderfit.validate(tidy_ladder())  # several lengths: no warning


# ----------------------------------------------------------------------------- model structures x ladders

PYTHIA_N = {"pythia-70m": 18_915_328, "pythia-160m": 85_056_000, "pythia-410m": 302_311_424,
            "pythia-1b-deduped": 805_736_448, "pythia-1.4b": 1_208_602_624}


@pytest.fixture(scope="module")
def pythia(shared_dir):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ladderfit.read_lm_eval(shared_dir / "pythia-evals", PYTHIA_N, lambda r, s: s * 2_097_152.0,
                                      run=lambda path, js: path.parent.name, tasks=["piqa"])


def _ladder(kind, pythia_df=None):
    if kind == "olmo":
        return ladderfit.load_olmo_ladder()
    if kind == "tidy":
        return tidy_ladder()
    return pythia_df


def _tiny(data, model):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = ladderfit.fit(data, tasks=["piqa"], model=model, chains=1, warmup=10, draws=10, max_tree_depth=3)
    pred = fit.predict(["my-3B=3e9,1.2e12"])
    acc = pred[pred["quantity"] == "accuracy"]
    assert len(acc) == 1 and np.isfinite(acc[["median", "lower_90", "upper_90"]].to_numpy()).all()
    return fit


def test_single_step_fits_an_lm_eval_ladder(pythia):
    assert "task_loss" not in pythia.columns
    fit = _tiny(pythia, "single_step")
    assert fit.model_data.structure == "single_step"


@pytest.mark.slow
@pytest.mark.parametrize(
    "kind, model",
    [("olmo", "two_step"), ("olmo", "compute"), ("olmo", "single_step"),
     ("tidy", "two_step"), ("tidy", "compute"), ("tidy", "single_step"),
     ("lm_eval", "two_step/lambada_loss")],
)
def test_every_structure_fits_every_ladder(pythia, kind, model):
    _tiny(_ladder(kind, pythia), model)


@pytest.mark.parametrize("model, culprit", [("two_step", "task_loss"), ("compute", "task_loss")])
def test_structures_that_cannot_fit_an_lm_eval_ladder(pythia, tmp_path, capsys, fake_fit, model, culprit):
    path = tmp_path / "pythia.csv"
    pythia.drop(columns=[c for c in ("lambada_loss",) if c in pythia.columns]).to_csv(path, index=False)
    line = assert_failed(run(capsys, "predict", "--data", path, "--model", model), culprit)
    assert "single_step" in line
    assert not fake_fit


def test_two_step_names_the_feature_columns_there_are(tmp_path, capsys, fake_fit):
    path = tmp_path / "t.csv"
    # two loss columns and no task_loss: no guess (with one, that one is fitted, and said)
    tidy_ladder().drop(columns=["task_loss"]).assign(c4_loss=3.0, lambada_loss=2.0).to_csv(path, index=False)
    assert_failed(run(capsys, "predict", "--data", path, "--model", "two_step"), "task_loss", "c4_loss", "lambada_loss")
    assert not fake_fit


def test_structure_errors_from_python(pythia):
    with pytest.raises(LadderDataError, match="task_loss"):
        ladderfit.fit(pythia.drop(columns=["lambada_loss"], errors="ignore"), model="two_step", chains=1)
    with pytest.raises(LadderDataError, match="task_loss"):  # FLOPs are 6 N D without a flops column
        ladderfit.fit(pythia.drop(columns=["lambada_loss"], errors="ignore"), model="compute", chains=1)


# ----------------------------------------------------------------------------- more bad data files


@pytest.mark.parametrize(
    "content, culprit",
    [
        (b"", "empty"),
        (b"run,size,N,D,step,task,accuracy\n", "empty"),
        (b"\x00\x01\x02\xff\xfe garbage", "bad.csv"),
        (b"a,b\n1,2\n", "missing required column"),
        (b"run,size,N,D,step,task,accuracy\nr,1B,1e9,1e9,1,piqa,55\n", "fraction"),
        (b"run,size,N,D,step,task,accuracy\nr,1B,1e9,1e9,1,piqa,nan\n", "finite"),
        (b"run,size,N,D,step,task,accuracy\nr,1B,-1e9,1e9,1,piqa,0.5\n", "> 0"),
        (b"run,size,N,D,step,task,accuracy\nr,1B,1e9,1e9,1.5,piqa,0.5\n", "step"),
        (b"run,size,N,D,step,task,accuracy\nr,1B,1e9,1e9,1,chess,0.5\n", "chess"),
        (b"run,size,N,D,step,task,accuracy\nr,1B,1e9,1e9,1,piqa,0.5\n", "checkpoint"),
        (b"run,size,N,D,step,task,accuracy\nr,1B,1e9,1e9,1,piqa,0.5\nr,1B,1e9,1e9,1,piqa,0.6\n", "duplicate"),
        (b"run,size,N,D,step,task,accuracy\nr,1B,1e9,1e9,1,piqa,0.5\nr,1B,2e9,2e9,2,piqa,0.6\n", "one value per run"),
        (b"run,size,N,D,step,task,accuracy\nr,1B,1e9,1e9,1,piqa,high\n", "numeric"),
        (b'run,size,N,D,step,task,accuracy\nr,1B,1e9,1e9,1,piqa,"0.5\n', "bad.csv"),
    ],
)
def test_bad_tidy_files(tmp_path, capsys, content, culprit):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    before = snapshot(path)
    assert_failed(run(capsys, "data", "summary", "--data", path), culprit)
    assert snapshot(path) == before


@pytest.mark.parametrize(
    "content, culprit",
    [
        (b"run,params,tokens,piqa\nr1,1e8,1e9,61.5\nr2,2e8,1e9,70\n", "looks like percent"),
        (b"run,params,piqa\nr1,1e8,0.6\nr2,2e8,0.7\n", "no D for the runs"),
        (b"run,params,tokens,piqa\nr1,1e8,1e9,0.6\nr2,2e8,1e9,high\n", "'piqa' must be numeric"),
        (b"run,params,tokens,piqa\nr1,1e8,1e9,0.6\nr1,1e8,2e9,0.7\n", "no step column"),
        (b"a,b\n1,2\n", "no run column 'run'"),
        (b"", "empty"),
    ],
)
def test_bad_results_tables(tmp_path, capsys, content, culprit):
    path = tmp_path / "runs.csv"
    path.write_bytes(content)
    before = snapshot(path)
    assert_failed(run(capsys, "data", "summary", "--data", path, "--form", "wide"), "runs.csv", culprit)
    assert snapshot(path) == before


@pytest.mark.parametrize("where", ["file", "folder"])
def test_lm_eval_json_needs_the_reader(tmp_path, capsys, where):
    (tmp_path / "r.json").write_text(json.dumps({"results": {"piqa": {"acc": 0.6}}}))
    path = tmp_path / "r.json" if where == "file" else tmp_path
    assert_failed(run(capsys, "data", "summary", "--data", path), "read_lm_eval")


@pytest.mark.parametrize(
    "content, culprit",
    [("{\"results\": {", "malformed JSON"), ("[1, 2]", "results"), ("{\"results\": 3}", "results")],
)
def test_bad_lm_eval_json(tmp_path, content, culprit):
    path = tmp_path / "r.json"
    path.write_text(content)
    with pytest.raises(LadderDataError, match=culprit):
        ladderfit.read_lm_eval(path, {"m": 1e8}, lambda r, s: s * 1e6, run="m")


def test_missing_data_path(tmp_path, capsys, fake_fit):
    assert_failed(run(capsys, "predict", "--data", tmp_path / "nope.csv"), "nope.csv", "no such file")
    assert not fake_fit


def test_unknown_task_fails_before_sampling(capsys, monkeypatch):
    import ladderfit.model.bayes as bayes

    monkeypatch.setattr(bayes, "MCMC", lambda *a, **k: pytest.fail("sampled"))  # the real fit: select() fails first
    assert_failed(run(capsys, "predict", "--tasks", "chess", "--quiet"), "chess")


def test_unknown_model_name(capsys, fake_fit):
    assert_failed(run(capsys, "predict", "--model", "three_step"), "three_step")
    assert not fake_fit


def test_backtest_unknown_holdout_run(capsys):
    assert_failed(run(capsys, "backtest", "--method", "least_squares", "--holdout", "nope", "--tasks", "piqa"), "nope")


def test_variance_unknown_run(capsys):
    assert_failed(run(capsys, "variance", "--run", "9B-1xC"), "9B-1xC")


# ----------------------------------------------------------------------------- silently wrong: options resolved silently

#: The commands that fit, each with what it needs to run up to its fit (design: a candidate).
FITTING = {
    "predict": ["predict"],
    "plot": ["plot", "step2"],
    "design": ["design", "--candidate", "c=1e9,2e10"],
    "calibrate": ["calibrate", "--holdout", "largest_size"],
}


@pytest.fixture
def no_sampling(monkeypatch, fake_fit):
    """Neither the fit nor NUTS may run: a case must fail before either."""
    import ladderfit.model.bayes as bayes

    monkeypatch.setattr(bayes, "MCMC", lambda *a, **k: pytest.fail("sampled"))
    return fake_fit


@pytest.mark.parametrize("command", list(FITTING))
@pytest.mark.parametrize(
    "options, culprits",
    [
        (["--model", "two_step", "--structure", "single_step"], ["--model two_step", "--structure single_step"]),
        (["--model", "two_step/c4_loss", "--feature", "task_loss"], ["--model two_step/c4_loss", "--feature task_loss"]),
        (["--structure", "single_step", "--feature", "c4_loss"], ["--feature c4_loss", "--structure single_step"]),
        (["--model", "c4_loss", "--structure", "single_step"], ["--model c4_loss", "--structure single_step"]),
    ],
)
def test_model_options_that_disagree(tmp_path, capsys, no_sampling, tidy_csv, command, options, culprits):
    out = tmp_path / ("o.png" if command == "plot" else "o.csv")
    before = snapshot(tidy_csv)
    assert_failed(run(capsys, *FITTING[command], "--data", tidy_csv, *options, "--out", out), *culprits, "disagree")
    assert not no_sampling and not out.exists() and snapshot(tidy_csv) == before


def test_model_options_that_agree_or_refine():
    from ladderfit.cli import build_parser
    from ladderfit.cli.common import model_from_args

    def spec(*options):
        return model_from_args(build_parser().parse_args(["predict", *options]))

    assert spec("--model", "two_step/c4_loss", "--feature", "c4_loss").name == "two_step/c4_loss"
    assert spec("--model", "two_step", "--structure", "two_step").name == "two_step"
    assert spec("--model", "two_step", "--feature", "c4_loss").name == "two_step/c4_loss"  # the name left it open
    assert spec("--model", "c4_loss", "--structure", "compute").name == "compute/c4_loss"
    assert spec("--model", "two_step", "--run-effects").name == "two_step+run_effects"


@pytest.mark.parametrize("command", ["predict", "plot", "design", "calibrate", "backtest"])
@pytest.mark.parametrize("value", ["", ",", "piqa,,arc_easy", "piqa,"])
def test_empty_task_names_are_an_error(tmp_path, capsys, no_sampling, command, value):
    argv = FITTING.get(command, ["backtest", "--method", "least_squares"])
    out = tmp_path / ("o.png" if command == "plot" else "o.csv")
    line = assert_failed(run(capsys, *argv, "--tasks", value, "--out", out), "--tasks", repr(value))
    assert "none empty" in line and not no_sampling and not out.exists()


@pytest.mark.parametrize("command", ["predict", "plot", "design", "calibrate", "backtest"])
def test_repeated_tasks_accumulate_in_every_command(command):
    from ladderfit.cli import build_parser

    argv = FITTING.get(command, ["backtest"])
    args = build_parser().parse_args([*argv, "--tasks", "piqa", "--tasks", "arc_easy,piqa", "--tasks", " csqa "])
    assert args.tasks == ["piqa", "arc_easy", "csqa"]


def test_plot_keeps_the_space_separated_form():
    from ladderfit.cli import build_parser

    args = build_parser().parse_args(["plot", "step2", "--tasks", "piqa", "arc_easy,csqa", "--tasks", "hellaswag"])
    assert args.tasks == ["piqa", "arc_easy", "csqa", "hellaswag"]


def test_predict_fits_every_repeated_task(capsys, fake_fit):
    code, _, err = run(capsys, "predict", "--tasks", "piqa", "--tasks", "arc_easy", "--quiet")
    assert code in (0, 3), err
    assert fake_fit[0]["tasks"] == ["piqa", "arc_easy"]


@pytest.mark.parametrize("feature", ["accuracy", "run", "N", "step", "label"])
def test_feature_that_is_not_a_loss_column(tmp_path, capsys, no_sampling, feature):
    path = tmp_path / "t.csv"
    tidy_ladder().assign(c4_loss=3.0, label="x").to_csv(path, index=False)
    before = snapshot(path)
    line = assert_failed(run(capsys, "predict", "--data", path, "--feature", feature), repr(feature), "not a loss column")
    assert "task_loss, c4_loss" in line
    assert not no_sampling and snapshot(path) == before


@pytest.mark.parametrize("feature", ["accuracy", "N"])
def test_feature_that_is_not_a_loss_column_from_python(monkeypatch, feature):
    import ladderfit.model.bayes as bayes

    monkeypatch.setattr(bayes, "MCMC", lambda *a, **k: pytest.fail("sampled"))
    with pytest.raises(LadderDataError, match=f"'{feature}' is not a loss column.*task_loss"):
        ladderfit.fit(tidy_ladder(), feature=feature, chains=1)


def test_predict_names_what_it_fitted(capsys, fake_fit, tidy_csv):
    code, out, err = run(capsys, "predict", "--data", tidy_csv, "--quiet")
    assert code in (0, 3), err
    header = out.splitlines()[0]
    assert header.startswith(f"ladder {tidy_csv} (") and "model two_step (feature task_loss)" in header
    assert header.endswith("1 task(s): piqa")


def test_predict_names_the_tasks_at_chance(capsys, monkeypatch, fake_fit, tidy_csv, tiny_fit):
    code, out, _ = run(capsys, "predict", "--data", tidy_csv, "--quiet")
    assert "at chance" not in out  # the fake fit, piqa on the bundled 16 runs: far above chance
    table = tiny_fit.tasks_at_chance().assign(best_accuracy=0.52, sds_above_chance=0.9, at_chance=True)
    monkeypatch.setattr(type(tiny_fit), "tasks_at_chance", lambda self, sds=None: table)
    code, out, err = run(capsys, "predict", "--data", tidy_csv, "--quiet")
    assert code in (0, 3), err
    line = next(x for x in out.splitlines() if "at chance" in x)
    assert line.strip().startswith("piqa: at chance on this ladder (best run 52.0%, chance 50.0%: 0.9 binomial sds above it")
    assert "not calibrated" in line


def test_plot_names_the_fit_it_draws(capsys, fit_path, tmp_path):
    code, out, err = run(capsys, "plot", "step2", "--fit", fit_path, "--out", tmp_path / "s.png", "--dpi", "20")
    assert code == 0, err
    assert f"saved fit {fit_path}" in out and "model two_step (feature task_loss)" in out and "piqa" in out


@pytest.mark.parametrize(
    "command, options",
    [(["plot", "step2"], ["--chains", "2"]), (["plot", "forest"], ["--model", "compute"]),
     (["design", "--candidate", "c=1e9,2e10"], ["--seed", "3"]), (["design", "--candidate", "c=1e9,2e10"], ["--run-effects"])],
)
def test_fit_options_with_a_saved_fit(capsys, fit_path, tmp_path, command, options):
    out = tmp_path / ("o.png" if command[0] == "plot" else "o.csv")
    assert_failed(run(capsys, *command, "--fit", fit_path, *options, "--out", out), "--fit", options[0])
    assert not out.exists()


# ----------------------------------------------------------------------------- silently wrong: bounds and types


@pytest.mark.parametrize(
    "args, culprit",
    [
        (["predict", "--seed", str(2**32)], "--seed"),
        (["predict", "--seed", str(2**70)], "--seed"),
        (["predict", "--seed", "1.5"], "--seed"),
        (["predict", "--seed", "seven"], "--seed"),
        (["plot", "step2", "--seed", str(2**32)], "--seed"),
        (["design", "--design-seed", str(2**32)], "--design-seed"),
        (["predict", "--draws", "1"], "--draws"),
        (["backtest", "--draws", "49"], "--draws"),
        (["plot", "step2", "--dpi", "100000"], "--dpi"),
        (["plot", "step2", "--dpi", "5"], "--dpi"),
        (["calibrate", "--discrepancy", "inf"], "--discrepancy"),
        (["calibrate", "--discrepancy", "nan"], "--discrepancy"),
        (["calibrate", "--discrepancy", "-1"], "--discrepancy"),
        (["calibrate", "--discrepancy", "wide"], "--discrepancy"),
    ],
)
def test_out_of_bounds_options(capsys, no_sampling, args, culprit):
    line = assert_failed(run(capsys, *args), culprit, repr(args[-1]))
    assert "expected" in line and not no_sampling


@pytest.mark.parametrize("seed", [2**32, -1, 1.5, True, "0"])
def test_seed_bounds_from_python(seed):
    with pytest.raises(ValueError, match="seed"):
        ladderfit.FitConfig(seed=seed)


def test_seed_bounds_accept_numpy_integers():
    assert ladderfit.FitConfig(seed=np.int64(2**32 - 1)).seed == 2**32 - 1


@pytest.mark.parametrize("value", [-1, -0.5, float("inf"), float("nan"), "wide", True])
def test_discrepancy_bounds_from_python(tiny_fit, value):
    with pytest.raises(ValueError, match="discrepancy"):
        tiny_fit.predict(["7B-4T"], discrepancy=value)


def test_a_task_name_is_one_task_not_its_letters(monkeypatch):
    import ladderfit.model.bayes as bayes

    assert ladderfit.FitConfig(tasks="piqa").tasks == ["piqa"]
    assert ladderfit.FitConfig(runs="1B-5xC").runs == ["1B-5xC"]
    monkeypatch.setattr(bayes, "MCMC", lambda *a, **k: pytest.fail("sampled"))
    with pytest.raises(LadderDataError, match=r"\['chess'\]"):
        ladderfit.fit(tasks="chess", chains=1)


@pytest.mark.parametrize("tasks", [[], "", [""], ["piqa", None]])
def test_empty_task_names_from_python(tasks):
    with pytest.raises(ValueError, match="tasks"):
        ladderfit.FitConfig(tasks=tasks)


def _bad_column(tmp_path, col, value):
    df = tidy_ladder()
    df[col] = df[col].astype(float) if col in df else 0.0
    run_name = df["run"].iloc[7]
    df.loc[df["run"] == run_name, col] = value
    path = tmp_path / "bad.csv"
    df.to_csv(path, index=False)
    return df, path, run_name


@pytest.mark.parametrize("col, value", [("replicate", 0.5), ("replicate", -1), ("step", 1e20), ("step", 2.0**53)])
def test_step_and_replicate_are_whole_numbers(tmp_path, capsys, no_sampling, col, value):
    df, path, run_name = _bad_column(tmp_path, col, value)
    before = snapshot(path)
    for command in (["data", "summary"], ["predict"]):
        assert_failed(run(capsys, *command, "--data", path), f"column '{col}'", "whole numbers", run_name)
    assert not no_sampling and snapshot(path) == before
    with pytest.raises(LadderDataError, match=f"'{col}' must hold whole numbers.*{run_name}"):
        ladderfit.read_data(df)


def test_a_huge_step_is_not_blamed_on_d(tmp_path, capsys):
    _, path, _ = _bad_column(tmp_path, "step", 1e20)
    line = assert_failed(run(capsys, "data", "summary", "--data", path), "step")
    assert "'D'" not in line


# ----------------------------------------------------------------------------- atomic writes


def test_atomic_write_keeps_the_previous_file_when_the_writer_fails(tmp_path):
    from ladderfit.io import atomic_write

    path = tmp_path / "t.csv"
    path.write_text("old\n")

    def half(tmp):
        Path(tmp).write_text("half a ta")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="previous file is unchanged"):
        atomic_write(path, half)
    assert path.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["t.csv"]


def test_atomic_write_survives_an_interrupt(tmp_path):
    from ladderfit.io import atomic_write

    path = tmp_path / "t.csv"
    path.write_text("old\n")

    def interrupted(tmp):
        Path(tmp).write_text("new")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, interrupted)
    assert path.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["t.csv"]


def test_atomic_write_keeps_the_mode_of_an_existing_file(tmp_path):
    from ladderfit.io import atomic_write

    path = tmp_path / "t.csv"
    path.write_text("old\n")
    path.chmod(0o640)
    atomic_write(path, lambda tmp: Path(tmp).write_text("new\n"))
    assert path.read_text() == "new\n" and (path.stat().st_mode & 0o777) == 0o640
    fresh = tmp_path / "n.csv"
    atomic_write(fresh, lambda tmp: Path(tmp).write_text("x"))
    assert fresh.stat().st_mode & 0o044  # readable as a normal file, not mkstemp's 0600


def test_save_replaces_an_existing_fit(tiny_fit, tmp_path):
    path = tmp_path / "f.nc"
    path.write_bytes(b"old")
    tiny_fit.save(path)
    assert ladderfit.load(path).tasks == ["piqa"]
    assert [p.name for p in tmp_path.iterdir()] == ["f.nc"]


def test_interrupted_save_leaves_the_previous_fit(tiny_fit, tmp_path, monkeypatch):
    import xarray as xr

    path = tmp_path / "f.nc"
    path.write_bytes(b"previous")
    real = xr.Dataset.to_netcdf
    calls = []

    def interrupted(self, *a, **k):
        calls.append(1)
        if len(calls) == 3:  # the third group
            raise KeyboardInterrupt
        return real(self, *a, **k)

    monkeypatch.setattr(xr.Dataset, "to_netcdf", interrupted)
    with pytest.raises(KeyboardInterrupt):
        tiny_fit.save(path)
    assert path.read_bytes() == b"previous" and [p.name for p in tmp_path.iterdir()] == ["f.nc"]


def test_variance_output_written_and_rewritten(capsys, tmp_path):
    out = tmp_path / "v.csv"
    out.write_text("old\n")
    code, _, err = run(capsys, "variance", "--out", out)
    assert code == 0, err
    assert "acc_sd" in pd.read_csv(out).columns and [p.name for p in tmp_path.iterdir()] == ["v.csv"]


def test_module_entry_point_runs():
    code, out, err = cli("data", "summary", "--data", "/nonexistent/x.csv")
    assert code == 2 and "Traceback" not in err and "x.csv" in err


def test_source_tree_is_the_one_under_test():
    assert Path(SRC, "ladderfit", "io.py").exists()


def test_output_cut_by_the_reader_is_not_an_error():
    """``ladderfit data summary | head -2``: the closed pipe ends the command quietly."""
    import subprocess
    import sys

    src = str(Path(ladderfit.__file__).parents[1])
    cmd = f"{sys.executable} -m ladderfit.cli data summary | head -2"
    out = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": src}, timeout=120)
    assert out.stdout.count("\n") == 2
    assert "error" not in out.stderr and "Traceback" not in out.stderr
    assert out.returncode == 0


def test_the_command_exits_at_once_with_all_its_output_and_its_status(capsys, tmp_path):
    """``ladderfit`` (``cli.run``) skips the interpreter's teardown: its whole output still arrives
    (to a file, where Python buffers it), the same as ``main``'s in this process, with its status."""
    in_process = run(capsys, "data", "summary")
    out_file = tmp_path / "out.txt"
    with open(out_file, "w") as f:
        p = subprocess.run([sys.executable, "-m", "ladderfit.cli", "data", "summary"], env=env_for(), stdout=f,
                           stderr=subprocess.PIPE, text=True, timeout=120)
    assert (p.returncode, out_file.read_text()) == (0, in_process[1])
    assert cli("data", "summary", "--data", tmp_path / "missing.csv")[0] == 2


# ----------------------------------------------------------------------------- silently wrong: units nobody checks


@pytest.fixture
def no_fit(monkeypatch):
    """Any fit fails the test: the plausibility checks must stop the command before sampling."""
    import ladderfit.model.bayes as bayes

    def fitted(*args, **kwargs):
        raise AssertionError("sampled before checking the data's plausibility")

    monkeypatch.setattr(bayes, "fit", fitted)


def _with_multiplier(df):
    return df.assign(multiplier=df["run"].str.extract(r"-(\d+)xC")[0].astype(float))


def _falling(df):
    order = {r: i for i, r in enumerate(sorted(df["run"].unique(), key=lambda r: df.loc[df["run"] == r, "flops"].max()))}
    return df.assign(accuracy=0.9 - 0.03 * df["run"].map(order))


def _swap_sizes(df):
    df = df.copy()
    df.loc[df["size"] == "100M", "N"], df.loc[df["size"] == "800M", "N"] = 8e8, 1e8
    return df


def _scale_runs(df, col, factor, runs=("200M-2xC", "400M-4xC")):
    df = df.copy()
    df.loc[df["run"].isin(runs), col] *= factor
    return df


IMPLAUSIBLE = {
    "N in millions": (lambda d: d.assign(N=d["N"] / 1e6), ["N = 100", "'100M-1xC'", "looks like millions"]),
    "D in billions": (lambda d: d.assign(D=d["D"] / 1e9), ["D = ", "'100M-1xC'", "looks like billions"]),
    "N = 1.3e299": (lambda d: d.assign(N=np.where(d["size"] == "800M", 1.3e299, d["N"])), ["N = 1.3e+299", "'800M-1xC'"]),
    "N swapped between sizes": (_swap_sizes, ["sizes '100M' and '200M'", "N = 8e+08"]),
    "D 10x against the multiplier": (lambda d: _scale_runs(_with_multiplier(d), "D", 10),
                                     ["'200M-2xC'", "'400M-4xC'", "multiplier 2 but D / (20 N) = 20"]),
    "accuracy divided by 100": (lambda d: d.assign(accuracy=d["accuracy"] / 100), ["task 'arc_easy'", "divided by 100"]),
}


@pytest.mark.parametrize("case", list(IMPLAUSIBLE))
def test_implausible_data_fails_data_summary(tmp_path, capsys, case):
    make, culprits = IMPLAUSIBLE[case]
    path = tmp_path / "ladder.csv"
    make(tidy_ladder()).to_csv(path, index=False)
    line = assert_failed(run(capsys, "data", "summary", "--data", path), *culprits)
    assert "--no-plausibility-check" in line


@pytest.mark.parametrize("case", list(IMPLAUSIBLE))
def test_implausible_data_fails_before_sampling(tmp_path, capsys, no_fit, case):
    make, culprits = IMPLAUSIBLE[case]
    path = tmp_path / "ladder.csv"
    make(tidy_ladder()).to_csv(path, index=False)
    assert_failed(run(capsys, "predict", "--data", path, "--tasks", "piqa", "--chains", "1"), *culprits)


def test_n_and_d_swapped_in_a_results_table(tmp_path, capsys):
    path = tmp_path / "runs.csv"
    pd.DataFrame({"run": ["small", "medium", "large", "xl"], "params": [2e9, 4e9, 8e9, 1.6e10],
                  "tokens": [1e8, 2e8, 4e8, 8e8], "piqa": [0.6, 0.63, 0.66, 0.7]}).to_csv(path, index=False)
    assert_failed(run(capsys, "data", "summary", "--data", path, "--form", "wide"),
                  "tokens per parameter", "'small'", "D/N = 0.05")


def test_params_in_millions_in_a_results_table(tmp_path, capsys):
    path = tmp_path / "runs.csv"
    pd.DataFrame({"run": ["190M-1xC", "370M-1xC", "760M-1xC"], "params": [190.4, 371.3, 758.2],
                  "tokens": [3.8e9, 7.4e9, 1.5e10], "piqa": [0.6, 0.63, 0.66]}).to_csv(path, index=False)
    assert_failed(run(capsys, "data", "summary", "--data", path, "--form", "wide"),
                  "N = 190.4 for run '190M-1xC'", "looks like millions", "e.g. 1.9e+08")


def test_accuracy_falling_with_compute_warns_naming_the_task(tmp_path, capsys):
    path = tmp_path / "falling.csv"
    _falling(tidy_ladder()).to_csv(path, index=False)
    with pytest.warns(LadderDataWarning, match="task 'piqa': the final accuracy falls with training compute"):
        code, out, err = run(capsys, "data", "summary", "--data", path)
    assert code == 0 and "Traceback" not in err


def test_no_plausibility_check_option(tmp_path, capsys):
    path = tmp_path / "millions.csv"
    tidy_ladder().assign(N=lambda d: d["N"] / 1e6).to_csv(path, index=False)
    code, out, err = run(capsys, "data", "summary", "--data", path, "--no-plausibility-check")
    assert code == 0, err
    assert "12 runs" in out
    assert_failed(run(capsys, "data", "summary", "--data", path), "looks like millions")  # off for that command only


def test_plausibility_error_in_a_fresh_process(tmp_path):
    path = tmp_path / "huge.csv"
    tidy_ladder().assign(N=lambda d: np.where(d["size"] == "800M", 1.3e299, d["N"])).to_csv(path, index=False)
    assert_failed(cli("data", "summary", "--data", path, timeout=60), "N = 1.3e+299", "sane range")


# ----------------------------------------------------------------------------- interrupts and pipes


def _interrupt_case(tmp_path):
    out, save = tmp_path / "p.csv", tmp_path / "fit.nc"
    out.write_text("previous table\n")
    save.write_bytes(b"previous fit")
    return out, save, snapshot(out, save)


def test_interrupt_during_the_fit_keeps_every_file(tmp_path, capsys, monkeypatch):
    import signal

    import ladderfit.model.bayes as bayes

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(bayes, "fit", interrupted)
    out, save, before = _interrupt_case(tmp_path)
    handler = signal.getsignal(signal.SIGINT)  # Python's own, or SIG_IGN under a shell's background job
    code, _, err = run(capsys, "predict", "--tasks", "piqa", "--out", out, "--save", save)
    assert code == 130 and "Traceback" not in err
    assert err.splitlines()[-1] == "ladderfit: interrupted; every existing file was left as it was"
    assert snapshot(out, save) == before and sorted(p.name for p in tmp_path.iterdir()) == ["fit.nc", "p.csv"]
    assert signal.getsignal(signal.SIGINT) is handler  # the handler from before the command is back


def test_interrupt_swallowed_by_a_callback_still_stops_the_command(tmp_path, capsys, monkeypatch, tiny_fit):
    """A Ctrl-C raised inside a callback that swallows it (as XLA's do) stops the command all the same."""
    import signal

    import ladderfit.model.bayes as bayes

    def swallowed(*a, **k):
        try:
            signal.raise_signal(signal.SIGINT)
        except KeyboardInterrupt:
            pass  # what a C++ callback does with it
        return tiny_fit

    monkeypatch.setattr(bayes, "fit", swallowed)
    out, save, before = _interrupt_case(tmp_path)
    code, _, err = run(capsys, "predict", "--tasks", "piqa", "--out", out, "--save", save)
    assert code == 130 and "interrupted" in err and "Traceback" not in err
    assert snapshot(out, save) == before and sorted(p.name for p in tmp_path.iterdir()) == ["fit.nc", "p.csv"]
    from ladderfit.io import atomic_write

    atomic_write(out, lambda tmp: Path(tmp).write_text("new\n"))  # the interrupt is forgotten after the command
    assert out.read_text() == "new\n"


def _closed_stdout(argv, tmp_path, script=""):
    """Run the command with its standard output a pipe nobody reads (``| head -1`` that left)."""
    code = script + f"\nimport sys\nfrom ladderfit.cli import main\nsys.exit(main({[str(a) for a in argv]!r}))\n"
    p = subprocess.Popen([sys.executable, "-c", code], env=env_for(PYTHONUNBUFFERED="1"), cwd=tmp_path,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    p.stdout.close()  # the reader is gone before the first line
    err = p.stderr.read()
    return p.wait(timeout=120), err


def test_closed_stdout_does_not_stop_the_table_being_written(tmp_path):
    out = tmp_path / "v.csv"
    code, err = _closed_stdout(["variance", "--out", out], tmp_path)
    assert code == 0 and "Traceback" not in err and "Exception ignored" not in err, err
    assert "acc_sd" in pd.read_csv(out).columns


def test_predict_with_a_closed_stdout_writes_its_files(tmp_path, fit_path):
    out, save = tmp_path / "p.csv", tmp_path / "f.nc"
    fake = (f"import ladderfit, ladderfit.model.bayes as b\n"
            f"b.fit = lambda *a, **k: ladderfit.load({str(fit_path)!r})\n")
    code, err = _closed_stdout(["predict", "--tasks", "piqa", "--out", out, "--save", save], tmp_path, fake)
    assert code == 3, err  # the tiny fit did not converge: the command's own status, not the pipe's
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert set(pd.read_csv(out)["task"]) == {"piqa"} and ladderfit.load(save).tasks == ["piqa"]


# ----------------------------------------------------------------------------- damaged saved fits


def _edited_fit(fit_path, out, change, checksums=True):
    """A copy of the saved fit with ``change(idata)`` applied; ``checksums``: keep the old ones
    (an edit after saving) or write fresh ones (a fit saved with those contents)."""
    import arviz as az

    from ladderfit.model.results import CHECKSUM_ATTR, content_checksums

    idata = az.from_netcdf(str(fit_path))
    for group in idata.groups():
        idata[group].load()
    change(idata)
    if checksums == "fresh":
        idata.posterior.attrs[CHECKSUM_ATTR] = json.dumps(content_checksums(idata))
    elif not checksums:
        del idata.posterior.attrs[CHECKSUM_ATTR]
    idata.to_netcdf(str(out))
    return out


def _shift(group, name, by=0.1):
    def change(idata):
        ds = getattr(idata, group)
        ds[name] = ds[name].copy(data=ds[name].values + by)
    return change


def _set_attr(idata):
    priors = json.loads(idata.posterior.attrs["ladderfit_priors"])
    priors["alpha_mu"][1][0] += 1.0
    idata.posterior.attrs["ladderfit_priors"] = json.dumps(priors)


@pytest.mark.parametrize("change, culprit", [
    (_shift("posterior", "alpha"), "posterior/alpha"),
    (_shift("constant_data", "md_s1_loss"), "constant_data/md_s1_loss"),
    (_set_attr, "attribute ladderfit_priors"),
])
def test_fit_edited_after_saving_is_refused_by_name(capsys, fit_path, tmp_path, change, culprit):
    path = _edited_fit(fit_path, tmp_path / "edited.nc", change)
    before = snapshot(path)
    out = tmp_path / "s.png"
    assert_failed(run(capsys, "plot", "step2", "--fit", path, "--out", out), "edited.nc", "changed after it was saved",
                  culprit)
    with pytest.raises(LadderDataError, match=f"edited.nc: the file was changed after it was saved.*{culprit}"):
        ladderfit.load(path)
    assert not out.exists() and snapshot(path) == before


def test_nan_in_the_posterior_is_refused_naming_the_variable(capsys, fit_path, tmp_path):
    def nan(idata):
        k = idata.posterior["k"].values.copy()
        k[0, 3, 0] = np.nan
        idata.posterior["k"] = idata.posterior["k"].copy(data=k)

    path = _edited_fit(fit_path, tmp_path / "nan.nc", nan, checksums="fresh")  # as if saved so
    out = tmp_path / "d.csv"
    code, stdout, err = run(capsys, "design", "--fit", path, "--candidate", "c=1e9,2e10", "--out", out)
    assert_failed((code, stdout, err), "nan.nc", "posterior variable 'k'", "NaN")
    assert "nan" not in stdout.lower() and not out.exists()
    with pytest.raises(LadderDataError, match="posterior variable 'k' holds 1 NaN"):
        ladderfit.load(path)


def test_fit_saved_without_checksums_loads_with_a_note(fit_path, tmp_path):
    path = _edited_fit(fit_path, tmp_path / "old.nc", lambda idata: None, checksums=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = ladderfit.load(path)
    notes = [w for w in caught if issubclass(w.category, LadderDataWarning)]
    assert len(notes) == 1 and "old.nc: saved without checksums" in str(notes[0].message)
    assert fit.tasks == ["piqa"]


def test_saved_fit_carries_checksums_of_every_group(fit_path):
    import arviz as az

    from ladderfit.model.results import CHECKSUM_ATTR

    idata = az.from_netcdf(str(fit_path))
    sums = json.loads(idata.posterior.attrs[CHECKSUM_ATTR])
    assert {k.split("/")[0] for k in sums if "/" in k} == set(idata.groups())
    assert "attribute ladderfit_config" in sums and "posterior/alpha" in sums


# ----------------------------------------------------------------------------- messages that state the cause


@pytest.fixture
def never_blocks():
    """A read that blocks (a FIFO without a writer) fails the test after 20 s instead of hanging."""
    import signal

    def stuck(*a):
        raise AssertionError("blocked reading")

    previous = signal.signal(signal.SIGALRM, stuck)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("name, content, culprit", [
    ("ladder.csv", "gzip", "is gzip-compressed, not text CSV"),
    ("ladder.csv", b"PK\x03\x04\x14\x00\x06\x00 xl/workbook.xml", "is an Excel (.xlsx) or zip file, not text CSV"),
    ("ladder.csv", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1 old excel", "is an Excel (.xls) file"),
])
def test_binary_file_named_csv_says_what_it_is(tmp_path, capsys, name, content, culprit):
    import gzip

    path = tmp_path / name
    path.write_bytes(gzip.compress(tidy_ladder().to_csv(index=False).encode()) if content == "gzip" else content)
    before = snapshot(path)
    line = assert_failed(run(capsys, "data", "summary", "--data", path), "ladder.csv", culprit)
    assert "utf-8" not in line.lower() and snapshot(path) == before


def test_gzip_named_csv_gz_is_read(tmp_path, capsys):
    import gzip

    path = tmp_path / "ladder.csv.gz"
    path.write_bytes(gzip.compress(tidy_ladder().to_csv(index=False).encode()))
    code, out, err = run(capsys, "data", "summary", "--data", path)
    assert code == 0 and "12 runs" in out, err


@pytest.mark.parametrize("command", [["data", "summary", "--data"], ["variance", "--fit"], ["plot", "step2", "--fit"]])
def test_symlink_loop_is_named_so(tmp_path, capsys, command):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.symlink_to(b)
    b.symlink_to(a)
    assert_failed(run(capsys, *command, a), "a.csv", "symlink loop")


def test_dangling_symlink_names_its_target(tmp_path, capsys):
    link = tmp_path / "link.csv"
    link.symlink_to(tmp_path / "gone.csv")
    assert_failed(run(capsys, "data", "summary", "--data", link), "link.csv", "gone.csv", "does not exist")


@pytest.mark.parametrize("command", [
    ["data", "summary", "--data", "{fifo}"],
    ["variance", "--fit", "{fifo}"],
    ["variance", "--backtest", "{fifo}"],
    ["predict", "--tasks", "piqa", "--calibration", "{fifo}"],
    ["plot", "chained", "--actual", "{fifo}"],
])
def test_named_pipe_is_refused_at_once(tmp_path, capsys, never_blocks, no_sampling, command):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    argv = [str(fifo) if a == "{fifo}" else a for a in command]
    out = [] if command[0] == "data" else ["--out", tmp_path / ("o.png" if command[0] == "plot" else "o.csv")]
    assert_failed(run(capsys, *argv, *out), "pipe.csv", "named pipe (FIFO)")
    assert not no_sampling


@pytest.mark.parametrize("as_list", [False, True])
def test_named_pipe_is_refused_by_read_lm_eval(tmp_path, never_blocks, as_list):
    fifo = tmp_path / "results.json"
    os.mkfifo(fifo)
    with pytest.raises(LadderDataError, match=r"results\.json: is a named pipe \(FIFO\)"):
        ladderfit.read_lm_eval([fifo] if as_list else fifo, n_params=1e9, tokens=2e10)


@pytest.mark.parametrize("content, culprit", [
    (b"", "the file is empty"),
    (b"target,task,accuracy\n", "no rows"),
    (b"who,task,score\n7B-4T,piqa,0.8\n", "missing column"),
    (b"target,task,accuracy\n70B-15T,piqa,0.8\n", "'70B-15T'"),
])
def test_bad_actual_file_is_named_before_fitting(tmp_path, capsys, no_sampling, content, culprit):
    actual = tmp_path / "actual.csv"
    actual.write_bytes(content)
    out = tmp_path / "c.png"
    assert_failed(run(capsys, "plot", "chained", "--actual", actual, "--out", out), "--actual" if content else "actual.csv",
                  "actual.csv", culprit)
    assert not no_sampling and not out.exists()


# ----------------------------------------------------------------------------- checks before the fit


@pytest.mark.parametrize("target, culprit", [("8B-2T", "NAME=N,D"), ("small=100,1e12", "sane range")])
@pytest.mark.parametrize("kind", ["step2", "chained", "forest"])
def test_plot_checks_targets_before_fitting(tmp_path, capsys, no_sampling, kind, target, culprit):
    out = tmp_path / "f.png"
    assert_failed(run(capsys, "plot", kind, "--target", target, "--out", out), target.split("=")[0], culprit)
    assert not no_sampling and not out.exists()


@pytest.mark.parametrize("kind", ["trace", "rank", "parameters"])
def test_plot_checks_var_names_before_fitting(tmp_path, capsys, no_sampling, kind):
    out = tmp_path / "f.png"
    assert_failed(run(capsys, "plot", kind, "--var-names", "alpha", "alhpa", "--out", out), "'alhpa'", "expected",
                  "alpha")
    assert not no_sampling and not out.exists()


def test_plot_var_names_of_another_model_name_the_fit(tmp_path, capsys, fit_path):
    out = tmp_path / "f.png"
    assert_failed(run(capsys, "plot", "trace", "--fit", fit_path, "--var-names", "run_z", "--out", out),
                  "'run_z'", "model two_step")
    assert not out.exists()


@pytest.mark.parametrize("option", ["--out", "--save"])
def test_output_folder_that_cannot_hold_files_fails_before_sampling(tmp_path, capsys, no_sampling, monkeypatch,
                                                                     option):
    import ladderfit.io as lio

    folder = tmp_path / "mounted"
    folder.mkdir()
    real = lio.tempfile.mkstemp

    def read_only(*a, dir=None, **k):
        if Path(dir) == folder:
            raise OSError(30, "Read-only file system")
        return real(*a, dir=dir, **k)

    monkeypatch.setattr(lio.tempfile, "mkstemp", read_only)
    name = "p.csv" if option == "--out" else "f.nc"
    assert_failed(run(capsys, "predict", "--tasks", "piqa", option, folder / name), name, "cannot hold files",
                  "Read-only file system")
    assert not no_sampling and list(folder.iterdir()) == []


def test_output_under_proc_fails_before_sampling(capsys, no_sampling):
    assert_failed(run(capsys, "predict", "--tasks", "piqa", "--out", "/proc/p.csv"), "/proc/p.csv", "'/proc'")
    assert not no_sampling and not Path("/proc/p.csv").exists()


def test_calibrate_with_one_holdout_fails_before_fitting(capsys, no_sampling):
    assert_failed(run(capsys, "calibrate", "--holdout", "largest_size", "--tasks", "piqa"),
                  "only largest_size applies", "at least 2")
    assert not no_sampling


def test_calibrate_with_one_usable_holdout_fails_before_fitting(tmp_path, capsys, no_sampling):
    path = tmp_path / "one_mult.csv"
    tidy_ladder(mults=(1,), tasks=("piqa",)).to_csv(path, index=False)
    assert_failed(run(capsys, "calibrate", "--data", path, "--holdout", "largest_size", "largest_multiplier"),
                  "only largest_size applies", "largest_multiplier is skipped", "'multiplier' column")
    assert not no_sampling


def test_cli_shows_a_warning_as_one_line(tmp_path):
    """On the command line (a new process: not under pytest's recorder) a data warning reads
    ``ladderfit: warning: ...``, without the file and source line of the code that raised it."""
    df = tidy_ladder()
    run_name = df["run"].iloc[0]
    df.loc[df["run"] == run_name, "D"] = df.loc[df["run"] == run_name, "D"].max()  # constant D: a warning
    path = tmp_path / "flat_d.csv"
    df.to_csv(path, index=False)
    code, _out, err = cli("data", "summary", "--data", path, timeout=60)
    assert code == 0, err
    lines = [ln for ln in err.splitlines() if "does not rise with the step" in ln]
    assert lines and all(ln.startswith("ladderfit: warning: ") for ln in lines), err
    assert "UserWarning" not in err and ".py:" not in err, err
    code, _out, err = cli("--debug", "data", "summary", "--data", path, timeout=60)
    assert code == 0 and "UserWarning: " in err and "does not rise with the step" in err, err  # Python's format


def test_predict_names_the_data_in_a_fit_warning():
    """predict's fit validates the table read from --data as a DataFrame: its warnings name the
    --data given (a new process: pytest records warnings in this one)."""
    code = ("import warnings\n"
            "from ladderfit.cli import _warnings_as_lines\n"
            "from ladderfit.cli.predict import _show_warnings\n"
            "w = warnings.WarningMessage('DataFrame: each model size has a single training length', UserWarning, 'x.py', 1)\n"
            "with _warnings_as_lines():\n"
            "    _show_warnings([w, w], 'bundled:pythia')\n")
    p = subprocess.run([sys.executable, "-c", code], env=env_for(), capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stderr == "ladderfit: warning: bundled:pythia: each model size has a single training length\n", p.stderr


# ----------------------------------------------------------------------------- predict from a saved fit


def test_predict_from_a_saved_fit_samples_nothing(tmp_path, capsys, fit_path, tiny_fit, fake_fit):
    """``predict --fit FILE``: the saved posterior's predictions, the same as LadderFit.predict of
    the loaded fit, without a new fit."""
    out = tmp_path / "p.csv"
    code, stdout, err = run(capsys, "predict", "--fit", fit_path, "--target", "7B-4T", "--out", out)
    assert code in (0, 3), err
    assert not fake_fit, "sampled although --fit was given"
    assert f"of the saved fit {fit_path}" in stdout
    expected = ladderfit.load(fit_path).predict(["7B-4T"])
    pd.testing.assert_frame_equal(pd.read_csv(out), expected.reset_index(drop=True), check_dtype=False, atol=1e-9)


@pytest.mark.parametrize("option", [["--chains", "2"], ["--seed", "3"], ["--tasks", "piqa"], ["--model", "two_step"],
                                    ["--data", "bundled:pythia"]])
def test_predict_from_a_saved_fit_refuses_the_options_of_a_new_fit(capsys, fit_path, fake_fit, option):
    assert_failed(run(capsys, "predict", "--fit", fit_path, *option), "--fit", option[0])
    assert not fake_fit
