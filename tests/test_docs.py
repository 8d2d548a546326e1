"""The documentation says what the code and the results files say.

(a) the results-table renderer (``docs/_ext/results_tables.py``) puts the results file's numbers
in its table, rounded as the headers say; a missing file renders as "not yet measured", a
malformed one raises; (b) each table between ``<!-- results:NAME -->`` markers in the README is
exactly the rendering of ``benchmarks/results/NAME.json`` (skipped while that file does not
exist); (c) every public name (``ladderfit.__all__``, and each subpackage's ``__all__``) and
every module is in the API reference's autosummary lists; (d) the architecture page's layer
diagram names every module. Fast: no Sphinx build, no fitting.
"""

from __future__ import annotations

import importlib
import json
import math
import pkgutil
import re
import shutil
import sys
from pathlib import Path

import pytest

import ladderfit

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
EXAMPLE = Path(__file__).resolve().parent / "data" / "calibration_example.json"
sys.path.insert(0, str(DOCS / "_ext"))
results_tables = importlib.import_module("results_tables")


@pytest.fixture
def results_dir(tmp_path):
    shutil.copy(EXAMPLE, tmp_path / "calibration.json")
    return tmp_path


def _number(text: str) -> float:
    return float("nan") if text == "–" else float(text)


def _check_rows(table_rows, records, columns):
    assert len(table_rows) == len(records)
    for row, record in zip(table_rows, records):
        for key, header, scale, decimals in columns:
            shown, value = row[header], record[key]
            if scale is None:
                assert shown == str(value), (header, shown, value)
            elif value is None or (isinstance(value, float) and not math.isfinite(value)):
                assert shown == "–"
            else:
                step = 10.0 ** -decimals if isinstance(decimals, int) else abs(value * scale) * 1e-3
                assert abs(_number(shown) - value * scale) <= step / 2 + 1e-9, (header, shown, value)


def test_renderer_puts_the_files_numbers_in_the_table(results_dir):
    payload = json.loads(EXAMPLE.read_text())
    text = results_tables.render("calibration", results_dir)
    _check_rows(results_tables.parse_table(text), payload["summary"], results_tables.CALIBRATION_COLUMNS)
    # the caption names where the numbers come from
    for key in ("commit", "date", "machine"):
        assert str(payload[key]) in text
    assert "benchmarks/calibration.py" in text


def test_renderer_view_selects_rows_and_keeps_their_numbers(results_dir):
    payload = json.loads(EXAMPLE.read_text())
    name, where, drop = results_tables.VIEWS["calibration_default"]
    records = results_tables.select(payload["summary"], where)
    # OLMo's rows of the shipped (no drift) discrepancy, Pythia's with OLMo's: the union of the filters, in order
    assert records and {(r["ladder"], r["discrepancy"]) for r in records} == {("olmo", "no drift"), ("pythia", "OLMo's")}
    assert [r for r in payload["summary"] if r in records] == records
    assert len(records) < len(payload["summary"])
    columns = [c for c in results_tables.CALIBRATION_COLUMNS if c[0] not in drop]
    rows = results_tables.parse_table(results_tables.render("calibration_default", results_dir))
    _check_rows(rows, records, columns)


def test_view_of_another_key_renders_those_records(tmp_path):
    """A view "FILE#KEY" renders the file's records under KEY (calibration.json's by_task)."""
    row = {"ladder": "olmo", "model": "single_step", "discrepancy": "no drift", "task": "piqa", "pairs": 43,
           "coverage_90": 0.977, "mean_width_90": 6.1, "mae": 0.99, "crps": 0.73, "above_median": 0.49,
           "far_pairs": 8, "far_coverage_90": 1.0, "far_above_median": None}
    other = {**row, "model": "two_step", "coverage_90": 0.5}
    payload = {"commit": "abc", "date": "2026-01-01", "machine": "m", "summary": [{"x": 1}], "by_task": [row, other]}
    (tmp_path / "calibration.json").write_text(json.dumps(payload))
    rows = results_tables.parse_table(results_tables.render("calibration_by_task", tmp_path))
    drop = results_tables.VIEWS["calibration_by_task"][2]
    _check_rows(rows, [row], [c for c in results_tables.CALIBRATION_BY_TASK_COLUMNS if c[0] not in drop])  # the default's rows
    assert rows[0]["far above median (%)"] == "–"
    del payload["by_task"]
    (tmp_path / "calibration.json").write_text(json.dumps(payload))
    with pytest.raises(results_tables.ResultsError, match="by_task"):
        results_tables.render("calibration_by_task", tmp_path)


def test_by_chance_view_renders_the_split_with_yes_and_no(tmp_path):
    """calibration.json's by_chance: the default's rows, at chance as yes or no, numbers as recorded."""
    row = {"ladder": "olmo", "model": "single_step", "discrepancy": "no drift", "at_chance": True, "bin": "far",
           "which": "small_corner:winogrande", "n": 19, "coverage_90": 0.58, "mean_width_90": 9.1, "mae": 5.2,
           "interval_score_90": 30.1, "crps": 3.9, "log_score": 0.8, "above_median": 0.95}  # fmt: skip
    rest = {**row, "at_chance": False, "which": None, "n": 61, "coverage_90": 0.97}
    other = {**row, "model": "two_step"}
    payload = {"commit": "abc", "date": "2026-01-01", "machine": "m", "summary": [{"x": 1}],
               "by_chance": [row, rest, other]}
    (tmp_path / "calibration.json").write_text(json.dumps(payload))
    rows = results_tables.parse_table(results_tables.render("calibration_by_chance", tmp_path))
    assert [r["at chance"] for r in rows] == ["yes", "no"]
    columns = [c for c in results_tables.CALIBRATION_BY_CHANCE_COLUMNS if c[0] != "at_chance"]
    _check_rows(rows, [row, rest], columns)


def test_generic_results_file_is_rendered_as_it_comes(tmp_path):
    payload = {"commit": "abc", "date": "2026-01-01", "machine": "m", "summary": [
        {"task": "piqa", "mae": 1.23456, "n": 4}, {"task": "mmlu", "mae": 0.5, "n": 3}]}
    (tmp_path / "backtest.json").write_text(json.dumps(payload))
    rows = results_tables.parse_table(results_tables.render("backtest", tmp_path))
    assert rows == [{"task": "piqa", "mae": "1.235", "n": "4"}, {"task": "mmlu", "mae": "0.5", "n": "3"}]


def test_view_of_one_record_renders_one_row(tmp_path):
    """A view of a key holding one record (sbc.json's divergences) renders it as a row; a
    summary that is not a list stays an error."""
    counts = {"fits_with_any": 3, "fits": 20, "total": 7, "max": 4, "fits_sampled_again": 2}
    payload = {"commit": "abc", "date": "2026-01-01", "machine": "m", "summary": [{"x": 1}], "divergences": counts}
    (tmp_path / "sbc.json").write_text(json.dumps(payload))
    rows = results_tables.parse_table(results_tables.render("sbc_divergences", tmp_path))
    _check_rows(rows, [counts], results_tables.SBC_DIVERGENCES_COLUMNS)
    (tmp_path / "sbc.json").write_text(json.dumps({**payload, "summary": {"x": 1}}))
    with pytest.raises(results_tables.ResultsError, match="summary"):
        results_tables.render("sbc", tmp_path)


def test_every_note_belongs_to_a_rendered_source():
    """A note is found by the view's source (``name#key`` for another list of the file): one
    keyed otherwise is never shown (the bootstrap table's note was, until this test)."""
    sources = {source for source, _, _ in results_tables.VIEWS.values()}
    assert set(results_tables.NOTES) <= sources, set(results_tables.NOTES) - sources


def test_missing_results_file_says_not_yet_measured(tmp_path):
    text = results_tables.render("calibration", tmp_path)
    assert "not yet measured" in text.lower() and "|" not in text


@pytest.mark.parametrize("content", [
    "{not json",
    json.dumps([1, 2]),
    json.dumps({"commit": "a", "date": "d", "summary": []}),  # no machine
    json.dumps({"commit": "a", "date": "d", "machine": "m", "summary": {"a": 1}}),
    json.dumps({"commit": "a", "date": "d", "machine": "m", "summary": [{"a": 1}, {"b": 2}]}),
    json.dumps({"commit": "a", "date": "d", "machine": "m", "summary": [{"ladder": "olmo"}]}),  # columns missing
])
def test_malformed_results_file_raises(tmp_path, content):
    (tmp_path / "calibration.json").write_text(content)
    with pytest.raises(results_tables.ResultsError):
        results_tables.render("calibration", tmp_path)


def test_readme_markers_round_trip(tmp_path, results_dir):
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- results:calibration -->\nold\n<!-- /results:calibration -->\nend\n")
    assert results_tables.update_readme(readme, results_dir)
    body = results_tables.readme_tables(readme.read_text())["calibration"]
    assert body == results_tables.readme_block("calibration", results_dir)
    assert not results_tables.update_readme(readme, results_dir)  # idempotent
    assert readme.read_text().startswith("intro\n") and readme.read_text().endswith("end\n")


# --- (b) the README's tables are the renderings of the results files -------------------------------

README_TABLES = results_tables.readme_tables((ROOT / "README.md").read_text())


def test_readme_has_the_calibration_markers():
    assert "calibration" in README_TABLES


@pytest.mark.parametrize("name", sorted(README_TABLES))
def test_readme_table_is_the_rendering_of_its_results_file(name):
    view_file = results_tables.VIEWS.get(results_tables.README_VIEWS.get(name, name), (name,))[0]
    path = results_tables.RESULTS / f"{view_file}.json"
    if not path.exists():
        assert "not yet measured" in README_TABLES[name].lower()
        pytest.skip(f"{path.relative_to(ROOT)} does not exist yet")
    assert README_TABLES[name] == results_tables.readme_block(name), (
        f"README table {name} is stale: run python docs/_ext/results_tables.py --readme")


# --- (c) every public name is in the API reference ------------------------------------------------

SUBPACKAGES = ("data", "model", "analysis", "plots", "cli")


def _autosummary_entries() -> set[str]:
    """Fully qualified names listed in the autosummary directives of the API pages."""
    names = set()
    for path in (DOCS / "api").glob("*.rst"):
        current = None
        lines = path.read_text().splitlines()
        for i, line in enumerate(lines):
            if m := re.match(r"\.\. currentmodule:: (\S+)", line):
                current = None if m[1] == "None" else m[1]
            if line.startswith(".. autosummary::"):
                for entry in lines[i + 1:]:
                    if entry.strip() and not entry.startswith("   "):
                        break
                    entry = entry.strip()
                    if not entry or entry.startswith(":"):
                        continue
                    names.add(entry if entry.startswith("ladderfit") or current is None else f"{current}.{entry}")
    return names


def _public_names() -> set[str]:
    names = {f"ladderfit.{n}" for n in ladderfit.__all__}
    for sub in SUBPACKAGES:
        module = importlib.import_module(f"ladderfit.{sub}")
        names |= {f"ladderfit.{sub}.{n}" for n in getattr(module, "__all__", ())}
    return names


def _modules() -> set[str]:
    mods = {"ladderfit.errors", "ladderfit.io"}
    for sub in SUBPACKAGES:
        package = importlib.import_module(f"ladderfit.{sub}")
        mods.add(package.__name__)
        mods |= {f"{package.__name__}.{m.name}" for m in pkgutil.iter_modules(package.__path__)
                 if not m.name.startswith("_")}
    return mods


def test_every_public_name_is_in_the_api_reference():
    missing = sorted(_public_names() - _autosummary_entries())
    assert not missing, f"add to docs/api/index.rst: {missing}"


def test_every_module_is_in_the_api_reference():
    missing = sorted(_modules() - _autosummary_entries())
    assert not missing, f"add to docs/api/modules.rst: {missing}"


def test_api_reference_lists_nothing_that_does_not_exist():
    for name in sorted(_autosummary_entries()):
        module, _, attr = name.rpartition(".")
        try:
            importlib.import_module(name)
            continue
        except ImportError:
            pass
        assert hasattr(importlib.import_module(module), attr), f"{name} is in the API reference but not in the code"


def test_docs_build_settings():
    """The build executes the notebooks in fast mode and fails on a notebook's error."""
    conf = (DOCS / "conf.py").read_text()
    assert 'os.environ["LADDERFIT_FAST"] = "1"' in conf
    assert "nb_execution_raise_on_error = True" in conf
    assert re.search(r'nb_execution_mode = "(cache|force)"', conf)
    listed = re.findall(r"notebooks/(\w+)", (DOCS / "tutorials.md").read_text())
    assert sorted(f"{n}.ipynb" for n in listed) == sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))


def test_readme_figures_exist_and_are_small():
    readme = (ROOT / "README.md").read_text()
    figures = re.findall(r"\]\((docs/figures/[\w.-]+\.png)\)", readme)
    assert figures, "the README shows a figure"
    for fig in figures:
        assert (ROOT / fig).stat().st_size < 150 * 1024, fig


def test_the_architecture_page_names_every_module():
    """The layer diagram of docs/user_guide/architecture.md names every module of every layer
    (a module added without it is drift the page would not show)."""
    text = (DOCS / "user_guide" / "architecture.md").read_text()
    diagram = text.split("```text", 1)[1].split("```", 1)[0]
    words = set(re.findall(r"[a-z_0-9]+", diagram))
    missing = []
    for layer in ("data", "model", "analysis", "plots"):
        for path in (ROOT / "src" / "ladderfit" / layer).rglob("*.py"):
            name = path.parent.name if path.stem == "__init__" else path.stem
            if name not in words and not (path.stem == "__init__" and path.parent.name == layer):
                missing.append(str(path.relative_to(ROOT / "src")))
    assert not missing, f"not in the architecture diagram: {missing}"


def test_calibration_guide_quotes_the_bootstrap_and_slope_prior_files():
    """The calibration guide's figures for the run bootstrap and the tighter slope priors are
    the results files' own (rounded as printed): a rerun that moves them fails here until the
    text follows."""
    text = " ".join((DOCS / "user_guide" / "calibration.md").read_text().split())
    results = ROOT / "benchmarks" / "results"
    boot = json.loads((results / "run_bootstrap.json").read_text())["summary"]
    far = next(r for r in boot if (r["ladder"], r["model"], r["discrepancy"], r["bin"]) == ("olmo", "single_step", "no drift", "far"))
    assert (f"far coverage is {100 * far['coverage_90']:.1f}% (90% interval {100 * far['coverage_90_lo']:.1f}-"
            f"{100 * far['coverage_90_hi']:.0f}%)") in text
    assert f"width {far['mean_width_90']:.2f} points ({far['mean_width_90_lo']:.2f}-{far['mean_width_90_hi']:.2f})" in text
    assert f"CRPS {far['crps']:.2f} ({far['crps_lo']:.2f}-{far['crps_hi']:.2f})" in text
    slopes = {(r["model"], r["bin"]): r for r in json.loads((results / "prior_selection_slopes2.json").read_text())["summary"]
              if r["ladder"] == "olmo"}
    widths = [f"{slopes[(m, 'far')]['mean_width_90']:.2f}" for m in ("shipped", "slope sd 0.125", "slope sd 0.0625")]
    assert f"({widths[0]} to {widths[1]} and {widths[2]} points)" in text
    crps = [f"{slopes[(m, 'far')]['crps']:.2f}" for m in ("shipped", "slope sd 0.125", "slope sd 0.0625")]
    assert f"far CRPS rose from {crps[0]} to {crps[1]} and {crps[2]}" in text
    exps = {(r["ladder"], r["model"], r["bin"]): r
            for r in json.loads((results / "prior_selection_exponents.json").read_text())["summary"]}
    names = ("shipped", "exponent sd 0.15", "exponent sd 0.075")
    w, c = ([f"{exps[('olmo', m, 'far')][k]:.2f}" for m in names] for k in ("mean_width_90", "crps"))
    p = [f"{exps[('pythia', m, 'all')]['crps']:.2f}" for m in names]
    assert f"far width at {w[0]}, {w[1]} and {w[2]} points and its far CRPS at {c[0]}, {c[1]} and {c[2]}" in text
    assert f"all pairs at {p[0]}, {p[1]} and {p[2]}" in text
    means = {(r["ladder"], r["model"], r["bin"]): r
             for r in json.loads((results / "prior_selection_exponent_means.json").read_text())["summary"]}
    s, v, sel = (means[("olmo", m, "far")] for m in ("shipped", "alpha, beta 0.2", "selected"))
    assert (f"from {100 * s['above_median']:.1f}% to {100 * v['above_median']:.1f}% and its far CRPS from "
            f"{s['crps']:.2f} to {v['crps']:.2f}") in text
    assert (f"the far CRPS was {sel['crps']:.2f} and over all pairs {means[('olmo', 'selected', 'all')]['crps']:.2f} "
            f"(shipped: {means[('olmo', 'shipped', 'all')]['crps']:.2f})") in text
    assert (f"Pythia's CRPS rose from {means[('pythia', 'shipped', 'all')]['crps']:.2f} to "
            f"{means[('pythia', 'alpha, beta 0.2', 'all')]['crps']:.2f}") in text
    # the exponents' means with a tighter prior: at median 0.2 (the default since) and at 0.3
    tight = {(r["ladder"], r["model"], r["bin"]): r
             for r in json.loads((results / "prior_selection_exponent_02_sd.json").read_text())["summary"]}
    s, v = (tight[("olmo", m, "all")] for m in ("shipped", "exponent means 0.2 sd 0.3"))
    sf, vf = (tight[("olmo", m, "far")] for m in ("shipped", "exponent means 0.2 sd 0.3"))
    assert (f"on OLMo CRPS {s['crps']:.2f} to {v['crps']:.2f}, the 90% interval score {s['interval_score_90']:.2f} "
            f"to {v['interval_score_90']:.2f}, the log score {s['log_score']:.2f} to {v['log_score']:.2f}; far out "
            f"CRPS {sf['crps']:.2f} to {vf['crps']:.2f}, interval score {sf['interval_score_90']:.2f} to "
            f"{vf['interval_score_90']:.2f}, MAE {sf['mae']:.2f} to {vf['mae']:.2f}, width {sf['mean_width_90']:.2f} to "
            f"{vf['mean_width_90']:.2f} points at the same {100 * vf['coverage_90']:.1f}% coverage") in text
    assert all(v[k] < s[k] for k in ("crps", "interval_score_90")) and v["log_score"] > s["log_score"]
    ps, pv = (tight[("pythia", m, "all")] for m in ("shipped", "exponent means 0.2 sd 0.3"))
    assert (f"on Pythia CRPS {ps['crps']:.2f} to {pv['crps']:.2f}, interval score {ps['interval_score_90']:.2f} to "
            f"{pv['interval_score_90']:.2f}, log score {ps['log_score']:.2f} to {pv['log_score']:.2f}") in text
    only = {(r["ladder"], r["model"], r["bin"]): r
            for r in json.loads((results / "prior_selection_exponent_sd_only.json").read_text())["summary"]}
    of = only[("olmo", "exponent means sd 0.3", "far")]
    assert (f"(width {of['mean_width_90']:.2f} points) and brought their coverage into the window "
            f"({100 * of['coverage_90']:.1f}%, interval score {of['interval_score_90']:.2f})") in text
    assert (f"the CRPS over all OLMo pairs was {only[('olmo', 'selected', 'all')]['crps']:.2f} against "
            f"{only[('olmo', 'shipped', 'all')]['crps']:.2f}") in text


def test_calibration_guide_quotes_the_calibration_file():
    """The calibration guide's figures on the default's bias and on the tasks at chance are
    ``calibration.json``'s (rounded as printed): a rerun that moves them fails here until the
    text follows."""
    text = " ".join((DOCS / "user_guide" / "calibration.md").read_text().split())
    payload = json.loads((ROOT / "benchmarks" / "results" / "calibration.json").read_text())
    summary = {(r["ladder"], r["model"], r["discrepancy"], r["bin"]): r for r in payload["summary"]}
    chance = {(r["ladder"], r["discrepancy"], r["at_chance"], r["bin"]): r
              for r in payload["by_chance"] if r["model"] == "single_step"}

    def pct(x, d=1):
        return f"{100 * x:.{d}f}%"

    olmo, pythia = summary[("olmo", "single_step", "no drift", "all")], summary[("pythia", "single_step", "OLMo's", "all")]
    assert f"({pct(olmo['above_median'])}) lie above the single step's medians, {pct(pythia['above_median'])} on Pythia" in text
    far, far2 = summary[("olmo", "single_step", "no drift", "far")], summary[("olmo", "two_step", "no drift", "far")]
    assert f"({pct(far['above_median'])} above, against {pct(far2['above_median'])} for the two steps)" in text
    at, other = chance[("olmo", "no drift", True, "far")], chance[("olmo", "no drift", False, "far")]
    assert (f"have {round(at['above_median'] * at['n'])} of {at['n']} truths above the median, MAE {at['mae']:.2f} "
            f"points, CRPS {at['crps']:.2f}; the other {other['n']} have {pct(other['above_median'])} of truths above "
            f"the median, MAE {other['mae']:.2f}, CRPS {other['crps']:.2f}") in text
    at, other = chance[("pythia", "OLMo's", True, "all")], chance[("pythia", "OLMo's", False, "all")]
    assert (f"(MAE {at['mae']:.2f} against {other['mae']:.2f}, coverage {pct(at['coverage_90'])} against "
            f"{pct(other['coverage_90'], 0)})") in text
    assert f"but not low: {pct(at['above_median'])} of their truths fell above the median" in text
