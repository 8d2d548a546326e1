"""lm-evaluation-harness JSON reader: real Pythia files, v0.4 format, MMLU weighting, bad input."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from ladderfit.data.lm_eval import MMLU_SUBJECTS, read_lm_eval
from ladderfit.data.bundled import PYTHIA_N, PYTHIA_TOKENS_PER_STEP
from ladderfit.data.readers import read_lm_eval as reexported
from ladderfit.data.schema import LOSS_COLUMNS, LadderDataError, validate

TOKENS_PER_STEP = PYTHIA_TOKENS_PER_STEP
PYTHIA_TASKS = {"arc_easy", "arc_challenge", "piqa", "sciq", "winogrande", "lambada_openai", "logiqa", "wsc", "mmlu"}


def pythia_tokens(run: str, step: int) -> float:
    return step * TOKENS_PER_STEP


def by_folder(path, doc) -> str:
    return path.parent.name


@pytest.fixture(scope="module")
def pythia_dir(shared_dir):
    return shared_dir / "pythia-evals"


@pytest.fixture(scope="module")
def pythia(pythia_dir):
    with pytest.warns(UserWarning, match=r"dropped 5 checkpoint\(s\) with D <= 0"):
        return read_lm_eval(pythia_dir, PYTHIA_N, pythia_tokens, run=by_folder)


def raw(pythia_dir, folder: str, step: int) -> dict:
    prefix = folder.removeprefix("pythia-")
    return json.loads((pythia_dir / folder / f"{prefix}_step{step}.json").read_text())


# ----------------------------------------------------------------------------- real Pythia files


def test_pythia_is_a_valid_tidy_table(pythia):
    pd.testing.assert_frame_equal(validate(pythia), pythia)
    assert set(pythia["run"]) == set(PYTHIA_N)
    assert set(pythia["task"]) == PYTHIA_TASKS  # crows_pairs skipped, hendrycksTest-* -> mmlu
    steps = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000, 3000] + list(range(13000, 143001, 10000))
    for _, g in pythia.groupby(["run", "task"]):
        assert g["step"].tolist() == steps  # step 0 dropped (D = 0)
    assert_allclose(pythia["D"], pythia["step"] * TOKENS_PER_STEP, rtol=0)
    assert_allclose(pythia["N"], pythia["run"].map(PYTHIA_N), rtol=0)
    assert pythia.groupby("run")["size"].first().to_dict() == {
        "pythia-70m": "70m", "pythia-160m": "160m", "pythia-410m": "410m",
        "pythia-1b-deduped": "1b", "pythia-1.4b": "1.4b",
    }
    assert "task_loss" not in pythia.columns
    assert "lambada_loss" in LOSS_COLUMNS
    # lambada_loss is one value per checkpoint, shared by all tasks.
    assert (pythia.groupby(["run", "step"])["lambada_loss"].nunique() == 1).all()


def test_pythia_spot_values(pythia, pythia_dir):
    doc = raw(pythia_dir, "pythia-410m", 33000)
    row = pythia[(pythia["run"] == "pythia-410m") & (pythia["step"] == 33000)].set_index("task")
    for task in ("arc_easy", "arc_challenge", "piqa", "sciq", "winogrande", "lambada_openai", "logiqa", "wsc"):
        assert row.loc[task, "accuracy"] == doc["results"][task]["acc"]
    assert row.loc["piqa", "lambada_loss"] == math.log(doc["results"]["lambada_openai"]["ppl"])
    assert row.loc["arc_easy", "D"] == 33000 * TOKENS_PER_STEP
    expected_items = {"arc_easy": 2376, "arc_challenge": 1172, "piqa": 1838, "sciq": 1000,
                      "winogrande": 1267, "lambada_openai": 5153, "logiqa": 651, "wsc": 104, "mmlu": 14042}
    assert row["n_items"].to_dict() == pytest.approx(expected_items)


def test_pythia_default_run_names(pythia_dir):
    """Without run=, the run is NAME of pretrained=ORG/NAME in config.model_args."""
    files = sorted((pythia_dir / "pythia-160m").glob("160m_step1*.json"))
    df = read_lm_eval(files, {"pythia-v1.1-160m": 85_056_000}, {"pythia-v1.1-160m": lambda s: s * TOKENS_PER_STEP})
    assert df["run"].unique().tolist() == ["pythia-v1.1-160m"]
    assert df["size"].unique().tolist() == ["160m"]
    assert sorted(df["step"].unique()) == sorted(int(f.stem.split("step")[1]) for f in files)


def test_mmlu_is_item_weighted(pythia, pythia_dir):
    doc = raw(pythia_dir, "pythia-1.4b", 143000)["results"]
    subjects = {k: v for k, v in doc.items() if k.startswith("hendrycksTest-")}
    assert len(subjects) == 57
    n = {k: round(v["acc"] * (1 - v["acc"]) / v["acc_stderr"] ** 2 + 1) for k, v in subjects.items()}
    assert n == {f"hendrycksTest-{s}": c for s, c in MMLU_SUBJECTS.items()}
    weighted = sum(v["acc"] * n[k] for k, v in subjects.items()) / sum(n.values())
    plain = np.mean([v["acc"] for v in subjects.values()])
    got = pythia.query("run == 'pythia-1.4b' and step == 143000 and task == 'mmlu'")
    assert_allclose(got["accuracy"], weighted, rtol=1e-12)
    assert got["n_items"].item() == 14042
    assert abs(weighted - plain) > 1e-4  # the weighting matters


def test_acc_norm_falls_back_to_acc(pythia_dir):
    files = [pythia_dir / "pythia-70m" / f"70m_step{s}.json" for s in (133000, 143000)]
    df = read_lm_eval(files, PYTHIA_N, pythia_tokens, run=by_folder, metric="acc_norm").set_index(["step", "task"])
    doc = raw(pythia_dir, "pythia-70m", 143000)["results"]
    assert df.loc[(143000, "arc_easy"), "accuracy"] == doc["arc_easy"]["acc_norm"]
    assert df.loc[(143000, "winogrande"), "accuracy"] == doc["winogrande"]["acc"]  # no acc_norm
    assert df.loc[(143000, "lambada_openai"), "accuracy"] == doc["lambada_openai"]["acc"]
    with pytest.raises(ValueError, match="metric must be 'acc' or 'acc_norm'"):
        read_lm_eval(files, PYTHIA_N, pythia_tokens, run=by_folder, metric="f1")


def test_tasks_selection(pythia_dir):
    files = [pythia_dir / "pythia-70m" / f"70m_step{s}.json" for s in (133000, 143000)]
    df = read_lm_eval(files, PYTHIA_N, pythia_tokens, run=by_folder, tasks=["mmlu", "piqa"])
    assert set(df["task"]) == {"mmlu", "piqa"}
    with pytest.raises(LadderDataError, match=r"task\(s\) \['hellaswag'\] not found in any file; tasks found: .*'piqa'"):
        read_lm_eval(files, PYTHIA_N, pythia_tokens, run=by_folder, tasks=["piqa", "hellaswag"])
    # a task named on purpose must carry the metric
    with pytest.raises(LadderDataError, match=r"70m_step133000.json: results\['crows_pairs_english'\] has no 'acc'"):
        read_lm_eval(files, PYTHIA_N, pythia_tokens, run=by_folder, tasks="crows_pairs_english")


def test_token_and_param_forms(pythia_dir):
    files = [pythia_dir / "pythia-70m" / f"70m_step{s}.json" for s in (133000, 143000)]
    a = read_lm_eval(files, PYTHIA_N, pythia_tokens, run=by_folder)
    b = read_lm_eval(files, lambda r: PYTHIA_N[r], {"pythia-70m": lambda s: s * TOKENS_PER_STEP}, run=by_folder)
    pd.testing.assert_frame_equal(a, b)
    c = read_lm_eval(files, PYTHIA_N, {"pythia-70m": 3e11}, run="pythia-70m")
    assert (c["D"] == 3e11).all() and (c["run"] == "pythia-70m").all()


# ----------------------------------------------------------------------------- v0.4 format


def to_v04(doc: dict) -> dict:
    """Rewrite an old-format results file the way lm-evaluation-harness v0.4 writes it."""
    results, n_samples = {}, {}
    for task, metrics in doc["results"].items():
        name = "mmlu_" + task.removeprefix("hendrycksTest-") if task.startswith("hendrycksTest-") else task
        entry = {"alias": name}
        for key, value in metrics.items():
            key = "perplexity" + key[3:] if key.startswith("ppl") else key
            entry[f"{key},none"] = value
        results[name] = entry
        if metrics.get("acc_stderr"):
            n = round(metrics["acc"] * (1 - metrics["acc"]) / metrics["acc_stderr"] ** 2 + 1)
            n_samples[name] = {"original": n, "effective": n}
    subjects = [k for k in results if k.startswith("mmlu_")]
    # v0.4 also lists the MMLU groups among the results; they must not be counted twice.
    bogus = {"acc,none": 0.99, "acc_stderr,none": "N/A", "alias": "group"}
    for group in ("mmlu", "mmlu_stem", "mmlu_humanities", "mmlu_social_sciences", "mmlu_other"):
        results[group] = dict(bogus)
    return {
        "results": results,
        "groups": {"mmlu": dict(bogus)},
        "group_subtasks": {"mmlu": ["mmlu_stem", "mmlu_humanities", "mmlu_social_sciences", "mmlu_other"],
                           "mmlu_stem": subjects[:5], "arc_easy": []},
        "configs": {k: {"task": k} for k in results},
        "versions": {k: 1.0 for k in results},
        "n-shot": {k: 0 for k in results},
        "n-samples": n_samples,
        "config": {"model": "hf", "model_args": doc["config"]["model_args"].replace("use_accelerate=True,", "")},
    }


def test_v04_format_reads_identically(pythia_dir, tmp_path):
    steps = (133000, 143000)
    old_files = [pythia_dir / "pythia-70m" / f"70m_step{s}.json" for s in steps]
    for i, f in enumerate(old_files):
        folder = tmp_path / "out" / f"EleutherAI__pythia-70m-{i}"
        folder.mkdir(parents=True)
        (folder / f"results_2024-01-0{i + 1}T00-00-00.json").write_text(json.dumps(to_v04(json.loads(f.read_text()))))
    n_params = {"pythia-v1.1-70m": PYTHIA_N["pythia-70m"]}
    old = read_lm_eval(old_files, n_params, pythia_tokens)
    new = read_lm_eval(tmp_path / "out", n_params, pythia_tokens)  # step from revision=, not the name
    assert set(new["task"]) == PYTHIA_TASKS
    pd.testing.assert_frame_equal(new, old, check_exact=False, rtol=1e-12)


def write(path, doc) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return str(path)


def small(acc=0.5, step=10, *, extra=None, model="org/m") -> dict:
    results = {"arc_easy": {"acc,none": acc, "acc_stderr,none": 0.01, "alias": "arc_easy"}}
    results.update(extra or {})
    return {"results": results, "config": {"model_args": f"pretrained={model},revision=step{step}"}}


def test_n_items_from_n_samples_and_mmlu_weights(tmp_path):
    subjects = {
        "mmlu_anatomy": {"acc,none": 0.2, "acc_stderr,none": "N/A"},
        "mmlu_virology": {"acc,none": 0.6, "acc_stderr,none": "N/A"},
    }
    for step in (10, 20):
        doc = small(step=step, extra=subjects)
        doc["n-samples"] = {"arc_easy": {"original": 2376, "effective": 50},
                            "mmlu_anatomy": {"original": 135, "effective": 135},
                            "mmlu_virology": {"original": 166, "effective": 166}}
        write(tmp_path / f"r{step}.json", doc)
    df = read_lm_eval(tmp_path, {"m": 1e8}, lambda r, s: s * 1e6).set_index(["step", "task"])
    assert df.loc[(10, "arc_easy"), "n_items"] == 50  # effective count (a --limit run)
    assert df.loc[(10, "mmlu"), "n_items"] == 135 + 166
    assert_allclose(df.loc[(10, "mmlu"), "accuracy"], (0.2 * 135 + 0.6 * 166) / 301, rtol=1e-12)


def test_n_items_fall_back_to_registry_and_subject_table(tmp_path):
    extra = {"hendrycksTest-anatomy": {"acc": 0.0, "acc_stderr": 0.0},
             "hendrycksTest-virology": {"acc": 1.0, "acc_stderr": 0.0}}
    for step in (10, 20):
        write(tmp_path / f"r{step}.json", small(acc=0.0, step=step, extra=extra))
    # accuracy 0 on ARC-Easy is far below chance: read it without the plausibility checks
    df = read_lm_eval(tmp_path, {"m": 1e8}, lambda r, s: s * 1e6, check_plausibility=False).set_index(["step", "task"])
    assert df.loc[(10, "arc_easy"), "n_items"] == 2376  # p = 0: stderr says nothing
    assert df.loc[(10, "mmlu"), "n_items"] == 135 + 166
    assert_allclose(df.loc[(10, "mmlu"), "accuracy"], 166 / 301, rtol=1e-12)


def test_run_and_step_fallbacks(tmp_path):
    for step in (100, 200):
        write(tmp_path / "my-run" / f"eval_step{step}.json", {"results": {"piqa": {"acc": 0.6, "acc_stderr": 0.01}}})
    df = read_lm_eval(tmp_path, {"my-run": 1e8}, {"my-run": lambda s: s * 1e6})
    assert df["run"].unique().tolist() == ["my-run"] and df["step"].tolist() == [100, 200]
    # a local checkpoint path .../run/stepK names the run one level up and gives the step
    for step in (5, 6):
        write(tmp_path / "local" / f"x{step}.json",
              {"results": {"piqa": {"acc": 0.6}}, "config": {"model_args": {"pretrained": f"/ckpt/other-1B/step{step}"}}})
    df = read_lm_eval(tmp_path / "local", {"other-1B": 1e9}, lambda r, s: s * 1e8)  # D / N >= 0.1
    assert df["run"].unique().tolist() == ["other-1B"] and df["size"].unique().tolist() == ["1B"]
    assert df["step"].tolist() == [5, 6]


def test_checkpoint_split_over_files_and_duplicates(tmp_path):
    for step in (10, 20):
        write(tmp_path / "a" / f"arc{step}.json", small(step=step))
        write(tmp_path / "a" / f"piqa{step}.json",
              {"results": {"piqa": {"acc": 0.7}}, "config": {"model_args": f"pretrained=org/m,revision=step{step}"}})
    df = read_lm_eval(tmp_path / "a", {"m": 1e8}, lambda r, s: s * 1e6)
    assert sorted(df["task"].unique()) == ["arc_easy", "piqa"] and len(df) == 4
    write(tmp_path / "a" / "again.json", small(step=20))
    with pytest.raises(LadderDataError, match=r"arc20.json: run 'm', step 20, task 'arc_easy' is also in .*again.json"):
        read_lm_eval(tmp_path / "a", {"m": 1e8}, lambda r, s: s * 1e6)


def test_lambada_loss_needs_every_checkpoint(tmp_path):
    lam = {"lambada_openai": {"perplexity,none": 20.0, "acc,none": 0.4}}
    write(tmp_path / "a.json", small(step=10, extra=lam))
    write(tmp_path / "b.json", small(step=20))
    with pytest.warns(UserWarning, match="1 checkpoint.* no lambada_openai perplexity.*left out"):
        df = read_lm_eval([tmp_path / "a.json", tmp_path / "b.json"], {"m": 1e8}, lambda r, s: s * 1e6,
                          tasks=["arc_easy"])
    assert "lambada_loss" not in df.columns


def test_unknown_tasks_skipped_silently(tmp_path):
    crows = {"crows_pairs_english": {"pct_stereotype": 0.5}, "my_new_task": {"acc": 0.3}}
    for step in (10, 20):
        write(tmp_path / f"r{step}.json", small(step=step, extra=crows))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        df = read_lm_eval(tmp_path, {"m": 1e8}, lambda r, s: s * 1e6)
    assert df["task"].unique().tolist() == ["arc_easy"]
    # named on purpose, an unregistered task is read; it then needs a chance column
    df = read_lm_eval(tmp_path, {"m": 1e8}, lambda r, s: s * 1e6, tasks=["my_new_task"], validate_output=False)
    assert df["accuracy"].tolist() == [0.3, 0.3]
    validate(df.assign(chance=0.25, n_items=100.0))


def test_reexported_from_readers():
    assert reexported is read_lm_eval


# ----------------------------------------------------------------------------- bad input


def call(paths, **kw):
    return read_lm_eval(paths, kw.pop("n_params", {"m": 1e8}), kw.pop("tokens", lambda r, s: s * 1e6), **kw)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", r"bad.json: the file is empty; expected lm-evaluation-harness results JSON"),
        ("  \n", r"bad.json: the file is empty"),
        ('{"results": {"arc_easy": ', r"bad.json: malformed JSON .*expected lm-evaluation-harness results"),
        ('{"config": {}}', r"bad.json: no 'results' object; expected lm-evaluation-harness output"),
        ("[1, 2]", r"bad.json: no 'results' object"),
        ('{"results": [1]}', r"bad.json: no 'results' object"),
    ],
)
def test_bad_files(tmp_path, content, message):
    write(tmp_path / "good.json", small(step=10))
    path = write(tmp_path / "bad.json", content)
    with pytest.raises(LadderDataError, match=message):
        call([tmp_path / "good.json", path])


def test_non_numeric_metric(tmp_path):
    path = write(tmp_path / "bad.json", small(acc="high"))
    with pytest.raises(LadderDataError, match=r"bad.json: results\['arc_easy'\]\['acc'\] is 'high'; expected a number"):
        call(path)
    path = write(tmp_path / "bad2.json", small(extra={"hendrycksTest-anatomy": {"acc": None, "acc_stderr": 0.03}}))
    with pytest.raises(LadderDataError, match=r"bad2.json: results\['hendrycksTest-anatomy'\]\['acc'\] is None"):
        call(path)


def test_run_missing_from_mappings(tmp_path):
    path = write(tmp_path / "r.json", small(model="EleutherAI/pythia-70m"))
    with pytest.raises(LadderDataError, match=r"r.json: run 'pythia-70m' is not in n_params \(it has \['m'\]\)"):
        call(path)
    with pytest.raises(LadderDataError, match=r"r.json: run 'pythia-70m' is not in tokens \(it has \['other'\]\)"):
        call(path, n_params={"pythia-70m": 1e8}, tokens={"other": 1e9})
    with pytest.raises(LadderDataError, match=r"r.json: tokens for run 'pythia-70m' at step 10 is 'many'"):
        call(path, n_params={"pythia-70m": 1e8}, tokens=lambda r, s: "many")


def test_missing_paths(tmp_path):
    with pytest.raises(LadderDataError, match=r"nope: no such file or folder"):
        call(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(LadderDataError, match=r"empty: folder holds no .json files"):
        call(tmp_path / "empty")
    with pytest.raises(LadderDataError, match=r"no files given"):
        call([])
    with pytest.raises(LadderDataError, match=r"gone.json: no such file"):
        call([tmp_path / "gone.json"])


def test_zero_tokens_dropped_with_warning(tmp_path):
    for step in (0, 10, 20):
        write(tmp_path / f"r{step}.json", small(step=step))
    with pytest.warns(UserWarning, match=r"dropped 1 checkpoint\(s\) with D <= 0 \(e.g. run 'm' step 0"):
        df = call(tmp_path)
    assert df["step"].tolist() == [10, 20]
    with pytest.warns(UserWarning, match="dropped 3 checkpoint"), pytest.raises(LadderDataError, match="no results left"):
        call(tmp_path, tokens=lambda r, s: 0)


def test_too_few_checkpoints_is_a_validation_error(tmp_path):
    path = write(tmp_path / "r.json", small(step=10))
    with pytest.raises(LadderDataError, match=r"run 'm' \(task 'arc_easy'\) has 1 checkpoint"):
        call(path)
    assert len(call(path, validate_output=False)) == 1
