"""The bundled OLMo ladder equals values computed straight from the raw logs with plain pandas."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from ladderfit.data.bundled import BUNDLED_FILE, PAPER_LADDER_RUNS, load_olmo_ladder, paper_targets

REPO = Path(__file__).resolve().parents[1]
RTOL = 1e-9

# From shared/olmo-ladder/README.md (written out here, independent of ladderfit.readers).
SPLITS = {"hellaswag": "val", "arc_challenge": "test", "arc_easy": "test", "piqa": "val", "csqa": "val",
          "socialiqa": "val", "openbookqa": "test", "winogrande": "val", "boolq": "val"}
MMLU_WEIGHTS = {"stem": 3018, "humanities": 4705, "social_sciences": 3077, "other": 3242}
SIZES_N = {"190M": 190_354_176, "370M": 371_262_464, "760M": 758_220_288, "1B": 1_279_395_840}


@pytest.fixture(scope="module")
def bundled() -> pd.DataFrame:
    return load_olmo_ladder()


@pytest.fixture(scope="module")
def raw(shared_dir) -> dict[str, pd.DataFrame]:
    return {f.stem: pd.read_csv(f) for f in sorted((shared_dir / "olmo-ladder").glob("*.csv"))}


@pytest.fixture(scope="module")
def groups(bundled) -> dict[tuple[str, str], pd.DataFrame]:
    return {k: g.sort_values("step") for k, g in bundled.groupby(["run", "task"])}


def series(groups, run, task, col):
    """One column of one (run, task), in step order."""
    return groups[(run, task)][col].to_numpy()


def test_shape(bundled):
    assert bundled["run"].nunique() == 24
    assert sorted(bundled["size"].unique()) == ["190M", "1B", "370M", "760M"]
    assert sorted(bundled["task"].unique()) == sorted([*SPLITS, "mmlu"])
    assert bundled.groupby("run")["replicate"].first().sum() == 4  # the four 1xC reruns
    paper = load_olmo_ladder("paper")
    assert sorted(paper["run"].unique()) == sorted(PAPER_LADDER_RUNS) and paper["run"].nunique() == 16
    assert load_olmo_ladder(["1B-10xC"])["run"].unique().tolist() == ["1B-10xC"]
    with pytest.raises(KeyError, match=r"runs \['7B-1xC'\] are not in the bundled ladder"):
        load_olmo_ladder(["7B-1xC"])


def test_matches_raw_logs(bundled, groups, raw):
    assert sorted(raw) == sorted(bundled["run"].unique())
    total = sum(MMLU_WEIGHTS.values())
    for run, log in raw.items():
        steps = log["_step"].to_numpy()
        for task in [*SPLITS, "mmlu"]:
            assert_allclose(series(groups, run, task, "step"), steps, rtol=0)
            assert_allclose(series(groups, run, task, "D"), log["throughput/total_tokens"], rtol=RTOL)
            assert_allclose(series(groups, run, task, "flops"), log["throughput/total_training_Gflops"] * 1e9, rtol=RTOL)
            assert_allclose(series(groups, run, task, "c4_loss"), log["eval/c4_en-validation/CrossEntropyLoss"], rtol=RTOL)
            assert_allclose(series(groups, run, task, "N"), SIZES_N[run.split("-")[0]], rtol=0)
        for task, split in SPLITS.items():
            stem = f"{task}_{split}_rc_5shot"
            acc = f"eval/downstream/{stem}_{'acc' if task == 'boolq' else 'len_norm'}"
            assert_allclose(series(groups, run, task, "accuracy"), log[acc], rtol=RTOL, err_msg=f"{run} {task}")
            assert_allclose(series(groups, run, task, "task_loss"), log[f"eval/downstream_bpb/{stem}_bpb"], rtol=RTOL)
            assert_allclose(series(groups, run, task, "task_ce"), -log[f"eval/downstream_soft_log/{stem}_soft_log"], rtol=RTOL)
        for col, kind, folder, sign in (("accuracy", "len_norm", "downstream", 1), ("task_loss", "bpb", "downstream_bpb", 1),
                                        ("task_ce", "soft_log", "downstream_soft_log", -1)):
            mmlu = sum(log[f"eval/{folder}/mmlu_{cat}_test_rc_5shot_{kind}"] * w for cat, w in MMLU_WEIGHTS.items()) / total
            assert_allclose(series(groups, run, "mmlu", col), sign * mmlu, rtol=RTOL, err_msg=f"{run} mmlu {col}")


def test_final_tokens_per_run(bundled, raw):
    final = bundled.groupby("run")["D"].max()
    for run, log in raw.items():
        assert_allclose(final[run], log["throughput/total_tokens"].iloc[-1], rtol=RTOL)
    # about xC * 20 * N tokens
    ratio = final / (20 * bundled.groupby("run")["N"].first() * bundled.groupby("run")["multiplier"].first())
    assert ratio.between(0.9, 1.2).all()


def test_spot_values(bundled, raw):
    log = raw["760M-5xC"]
    row = log[log["_step"] == 20000].iloc[0]
    got = bundled[(bundled["run"] == "760M-5xC") & (bundled["step"] == 20000)].set_index("task")
    assert_allclose(got.loc["hellaswag", "accuracy"], row["eval/downstream/hellaswag_val_rc_5shot_len_norm"], rtol=RTOL)
    assert_allclose(got.loc["boolq", "accuracy"], row["eval/downstream/boolq_val_rc_5shot_acc"], rtol=RTOL)
    assert "eval/downstream/boolq_val_rc_5shot_len_norm" not in log.columns
    assert got.loc["mmlu", "n_items"] == 14042 and got.loc["openbookqa", "n_items"] == 500
    assert got.loc["hellaswag", "D"] == 20000 * 1_310_720


def test_paper_targets():
    t = paper_targets()
    assert t["target"].tolist() == ["7B-4T", "13B-5T"]
    assert_allclose(t["N"], [6_887_575_552, 13_202_396_160], rtol=0)
    assert_allclose(t["D"], [3_945_065_873_408, 5_000_088_518_656], rtol=0)
    assert_allclose(t["flops"], t["D"] * np.array([49_412_071_424, 91_335_915_520]), rtol=1e-15)


def test_regenerate_bundled_file(shared_dir, tmp_path, monkeypatch, capsys):
    out = tmp_path / BUNDLED_FILE
    monkeypatch.setattr(sys, "argv", ["make_bundled_data.py", "--src", str(shared_dir / "olmo-ladder"), "--out", str(out)])
    runpy.run_path(str(REPO / "scripts" / "make_bundled_data.py"), run_name="__main__")
    assert "24 runs, 10 tasks" in capsys.readouterr().out
    fresh = pd.read_csv(out, compression="gzip")
    shipped = pd.read_csv(REPO / "src" / "ladderfit" / "data" / "bundled_data" / BUNDLED_FILE, compression="gzip")
    pd.testing.assert_frame_equal(fresh, shipped, check_exact=True)


def test_checked_tables_are_read_as_validate_returns_them():
    """A bundled file listed in CHECKED_SHA256 is read without its checks: its digest must be the
    shipped file's (regenerated data: update the digest), and validate must pass it without a
    warning and return the same table, types included."""
    import hashlib
    import io
    import warnings
    from importlib import resources

    from ladderfit.data import bundled
    from ladderfit.data.schema import validate

    assert bundled.CHECKED_SHA256, "no checked table"
    for name, digest in bundled.CHECKED_SHA256.items():
        data = resources.files("ladderfit.data").joinpath("bundled_data", name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == digest, f"{name} changed: its digest in CHECKED_SHA256 is stale"
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            checked = validate(pd.read_csv(io.BytesIO(data), compression="gzip"), source=name)
        pd.testing.assert_frame_equal(bundled._read_bundled(name), checked, check_exact=True)


def test_an_edited_bundled_file_is_checked_again(monkeypatch):
    from ladderfit.data import bundled, schema

    calls = []
    monkeypatch.setattr(bundled, "validate", lambda df, **kw: calls.append(kw) or schema.validate(df, **kw))
    bundled.load_olmo_ladder()
    assert calls == []
    monkeypatch.setitem(bundled.CHECKED_SHA256, BUNDLED_FILE, "0" * 64)  # as if its bytes had changed
    assert len(bundled.load_olmo_ladder()) > 0 and len(calls) == 1
