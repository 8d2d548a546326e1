from ladderfit.cli import main


def test_data_summary_bundled(capsys):
    assert main(["data", "summary"]) == 0
    out = capsys.readouterr().out
    assert "24 runs, 4 sizes, 10 tasks" in out
    for run in ("190M-0.5xC", "1B-10xC", "760M-1xC-rerun"):
        assert run in out


def test_data_summary_bad_path(capsys, tmp_path):
    assert main(["data", "summary", "--data", str(tmp_path / "nope.csv")]) == 2
    assert "nope.csv: no such file" in capsys.readouterr().err
