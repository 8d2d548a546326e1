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


def test_version_names_ladderfit_and_its_sampling_libraries(capsys):
    import importlib.metadata

    import pytest

    import ladderfit

    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith(f"ladderfit {ladderfit.__version__} (")
    assert ladderfit.__version__ == importlib.metadata.version("ladderfit")  # pyproject and the package agree
    assert f"numpyro {importlib.metadata.version('numpyro')}" in out and "jax " in out
