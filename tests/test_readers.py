"""Readers: OLMo wide logs (bad input), tidy CSV round trip, read_data dispatch."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from ladderfit.data.bundled import load_olmo_ladder
from ladderfit.data.readers import read_data, read_olmo_csv, read_tidy
from ladderfit.data.schema import LadderDataError


@pytest.fixture(scope="module")
def olmo_head(shared_dir) -> pd.DataFrame:
    """The first rows of one real OLMo log (kept in memory / tmp_path, never in the repo)."""
    return pd.read_csv(shared_dir / "olmo-ladder" / "190M-1xC.csv", nrows=4)


def write_log(folder, name, frame) -> str:
    path = folder / name
    frame.to_csv(path, index=False)
    return path


# ----------------------------------------------------------------------------- OLMo reader


def test_olmo_small_log(tmp_path, olmo_head):
    df = read_olmo_csv(write_log(tmp_path, "190M-1xC.csv", olmo_head))
    assert df["run"].unique().tolist() == ["190M-1xC"] and df["step"].nunique() == 4
    assert df["task"].nunique() == 10 and (df["replicate"] == 0).all() and (df["multiplier"] == 1).all()
    rerun = read_olmo_csv(write_log(tmp_path, "190M-1xC-rerun.csv", olmo_head))
    assert (rerun["replicate"] == 1).all()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", r"190M-1xC.csv: the file is empty; expected an OLMo ladder CSV log"),
        ("_step,throughput/total_tokens\n", r"190M-1xC.csv: the file has a header but no rows; expected one row per checkpoint"),
        ("_step,x\n1,2\n3,4,5,6\n", r"190M-1xC.csv: not a readable CSV file \(.*Expected 2 fields"),
        ('_step,x\n1,"2\n', r"190M-1xC.csv: not a readable CSV file \(.*EOF inside string"),
        (b"\xff\xfe\x00\x81garbage", r"190M-1xC.csv: not a readable CSV file"),
        ("step,x\n1,2\n", r"190M-1xC.csv: missing column\(s\) \['_step'\]; expected an OLMo ladder log"),
    ],
)
def test_olmo_bad_files(tmp_path, content, message):
    path = tmp_path / "190M-1xC.csv"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(LadderDataError, match=message):
        read_olmo_csv(path)


def test_olmo_missing_task_column(tmp_path, olmo_head):
    col = "eval/downstream/piqa_val_rc_5shot_len_norm"
    path = write_log(tmp_path, "190M-1xC.csv", olmo_head.drop(columns=col))
    with pytest.raises(LadderDataError, match=rf"190M-1xC.csv: missing column\(s\) \['{col}'\]"):
        read_olmo_csv(path)
    col = "eval/downstream_bpb/mmlu_stem_test_rc_5shot_bpb"
    path = write_log(tmp_path, "190M-1xC.csv", olmo_head.drop(columns=col))
    with pytest.raises(LadderDataError, match=rf"missing column\(s\) \['{col}'\]"):
        read_olmo_csv(path)


@pytest.mark.parametrize("name", ["190M.csv", "run1.csv", "190M-1x.csv", "190M-1xC-rerun2.csv"])
def test_olmo_bad_file_name(tmp_path, olmo_head, name):
    path = write_log(tmp_path, name, olmo_head)
    with pytest.raises(LadderDataError, match=rf"{name}: file name '{name}' does not match '{{SIZE}}-{{MULT}}xC\[-rerun\].csv'"):
        read_olmo_csv(path)


def test_olmo_unknown_size(tmp_path, olmo_head):
    path = write_log(tmp_path, "3B-1xC.csv", olmo_head)
    with pytest.raises(LadderDataError, match=r"3B-1xC.csv: model size '3B' has no parameter count; known sizes \['190M', '1B', '370M', '760M'\]"):
        read_olmo_csv(path)
    df = read_olmo_csv(path, sizes={"3B": {"N": 3e9}})
    assert (df["N"] == 3e9).all() and (df["size"] == "3B").all()


def test_olmo_missing_paths(tmp_path):
    with pytest.raises(LadderDataError, match=r"nowhere: no such file or folder"):
        read_olmo_csv(tmp_path / "nowhere")
    with pytest.raises(LadderDataError, match=r"folder holds no .csv files"):
        read_olmo_csv(tmp_path)
    with pytest.raises(LadderDataError, match=r"gone.csv: no such file"):
        read_olmo_csv([tmp_path / "gone.csv"])
    with pytest.raises(LadderDataError, match=r"no files given"):
        read_olmo_csv([])


# ----------------------------------------------------------------------------- tidy


@pytest.fixture(scope="module")
def small_ladder() -> pd.DataFrame:
    return load_olmo_ladder(["190M-1xC", "370M-1xC"])


def test_tidy_csv_round_trip(tmp_path, small_ladder):
    for name in ("t.csv", "t.csv.gz"):
        path = tmp_path / name
        small_ladder.to_csv(path, index=False)
        back = read_tidy(path)
        pd.testing.assert_frame_equal(back, small_ladder, check_dtype=False, check_exact=False, rtol=1e-12)
    pd.testing.assert_frame_equal(read_tidy(small_ladder), small_ladder)


def test_tidy_bad_files(tmp_path, small_ladder):
    with pytest.raises(LadderDataError, match=r"nope.csv: no such file"):
        read_tidy(tmp_path / "nope.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(LadderDataError, match=r"empty.csv: the file is empty; expected a tidy CSV"):
        read_tidy(tmp_path / "empty.csv")
    (tmp_path / "broken.csv").write_text("run,size\na,b\nc,d,e,f\n")
    with pytest.raises(LadderDataError, match=r"broken.csv: not a readable CSV file"):
        read_tidy(tmp_path / "broken.csv")
    small_ladder.drop(columns="N").to_csv(tmp_path / "noN.csv", index=False)
    with pytest.raises(LadderDataError, match=r"noN.csv: missing required column 'N'"):
        read_tidy(tmp_path / "noN.csv")
    with pytest.raises(LadderDataError, match=r"^mine: missing required column 'N'"):
        read_tidy(small_ladder.drop(columns="N"), source="mine")


# ----------------------------------------------------------------------------- read_data


def test_read_data_dispatch(tmp_path, small_ladder, olmo_head):
    bundled = read_data()
    assert bundled["run"].nunique() == 24
    pd.testing.assert_frame_equal(read_data(small_ladder), small_ladder)
    small_ladder.to_csv(tmp_path / "tidy.csv", index=False)
    assert read_data(tmp_path / "tidy.csv")["run"].nunique() == 2
    logs = tmp_path / "logs"
    logs.mkdir()
    write_log(logs, "190M-1xC.csv", olmo_head)
    write_log(logs, "370M-2xC.csv", olmo_head)
    assert sorted(read_data(logs)["run"].unique()) == ["190M-1xC", "370M-2xC"]
    assert read_data(logs / "370M-2xC.csv")["run"].unique().tolist() == ["370M-2xC"]


def test_read_data_olmo_folder(shared_dir):
    df = read_data(shared_dir / "olmo-ladder")
    pd.testing.assert_frame_equal(df[load_olmo_ladder().columns], load_olmo_ladder(), check_exact=False, rtol=1e-11)


def test_read_data_points_json_to_read_lm_eval(tmp_path):
    with pytest.raises(LadderDataError, match=r"nope: no such file or folder"):
        read_data(tmp_path / "nope")
    (tmp_path / "r.json").write_text(json.dumps({"results": {}}))
    with pytest.raises(LadderDataError, match=r"r.json: lm-evaluation-harness JSON needs N and D; use ladderfit.read_lm_eval"):
        read_data(tmp_path / "r.json")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "r.json").write_text("{}")
    with pytest.raises(LadderDataError, match=r"sub: holds lm-evaluation-harness JSON; read it with ladderfit.read_lm_eval"):
        read_data(tmp_path / "sub")
