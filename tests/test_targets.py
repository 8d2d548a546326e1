"""Targets: paper names, NAME=N,D specs, tuples/dicts/DataFrames, FLOPs estimates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from ladderfit.data.bundled import load_olmo_ladder, paper_targets
from ladderfit.data.readers import OLMO_SIZES
from ladderfit.data.schema import LadderDataError
from ladderfit.data.targets import as_targets, fill_flops, parse_target


def test_parse_paper_name():
    t = parse_target("7B-4T")
    assert t == {"target": "7B-4T", "N": 6_887_575_552.0, "D": 3_945_065_873_408.0,
                 "flops": 49_412_071_424.0 * 3_945_065_873_408.0}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("my-3B=3e9,1.2e12", {"target": "my-3B", "N": 3e9, "D": 1.2e12}),
        ("  a b = 3_000_000_000 , 6e11 ", {"target": "a b", "N": 3e9, "D": 6e11}),
        ("x=1E9,2000000000000", {"target": "x", "N": 1e9, "D": 2e12}),
    ],
)
def test_parse_spec(spec, expected):
    assert parse_target(spec) == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("7B=abc,1e12", r"target '7B=abc,1e12': N 'abc' is not a number \(e.g. 7e9 or 7000000000\)"),
        ("7B=7e9,lots", r"target '7B=7e9,lots': D 'lots' is not a number"),
        ("nonsense", r"target 'nonsense': expected a known name \(7B-4T, 13B-5T\) or NAME=N,D"),
        ("7B-5T", r"target '7B-5T': expected a known name"),
        ("x=1e9,", r"expected a known name"),
        ("x=1e9,1e12,3", r"expected a known name"),
        ("=1e9,1e12", r"expected a known name"),
        ("x=0,1e12", r"target 'x=0,1e12': N must be a finite number > 0, got '0'"),
        ("x=-7e9,1e12", r"N must be a finite number > 0, got '-7e9'"),
        ("x=7e9,-1", r"D must be a finite number > 0, got '-1'"),
        ("x=inf,1e12", r"N must be a finite number > 0, got 'inf'"),
        ("x=nan,1e12", r"N must be a finite number > 0, got 'nan'"),
    ],
)
def test_parse_bad_spec(spec, message):
    with pytest.raises(LadderDataError, match=message):
        parse_target(spec)


def test_as_targets_forms():
    pd.testing.assert_frame_equal(as_targets(), paper_targets())
    mixed = as_targets(["13B-5T", "s=1e9,2e10", ("t", 2e9, 4e10), {"target": "u", "N": "3e9", "D": 6e10}])
    assert mixed["target"].tolist() == ["13B-5T", "s", "t", "u"]
    assert_allclose(mixed["N"], [13_202_396_160, 1e9, 2e9, 3e9])
    assert mixed["flops"].isna().tolist() == [False, True, True, True]  # filled later by fill_flops
    assert as_targets("s=1e9,2e10")["target"].tolist() == ["s"]
    assert as_targets(("t", 2e9, 4e10))["D"].tolist() == [4e10]
    frame = pd.DataFrame({"name": ["a", "b"], "N": [1e9, 2e9], "D": [1e11, 2e11]})
    before = frame.copy()
    out = as_targets(frame)
    assert out["target"].tolist() == ["a", "b"] and out["N"].dtype == float
    pd.testing.assert_frame_equal(frame, before)  # caller's frame untouched
    assert as_targets({"name": "d", "N": 1e9, "D": 1e11})["target"].tolist() == ["d"]


@pytest.mark.parametrize(
    ("targets", "message"),
    [
        ([], r"targets: none given"),
        (pd.DataFrame({"target": ["a"], "N": [1e9]}), r"targets: missing column 'D'; expected columns target, N, D"),
        ({"N": 1e9, "D": 1e11}, r"targets: missing column 'target'"),
        ([{"target": "a", "N": 1e9, "D": 1e11}, {"N": 1e9, "D": 1e11}], r"targets: target 1 has no name"),
        ([("a", 1e9, 1e11), ("a", 2e9, 1e11)], r"targets: duplicate name 'a'"),
        ([("a", 0, 1e11)], r"target 'a': N must be a number > 0, got 0"),
        ([("a", 1e9, "x")], r"target 'a': D must be a number > 0, got 'x'"),
        ([{"target": "a", "N": 1e9, "D": 1e11, "flops": -1.0}], r"target 'a': flops must be a number > 0, got -1.0"),
        ([{"target": "a", "N": 1e9, "D": 1e11}, {"target": "b", "D": 1e11}], r"target 'b': N must be a number > 0, got nan"),
        ([42], r"target 42: expected a name, 'NAME=N,D', \(name, N, D\) or a dict"),
        ([("a", 1e9)], r"target \('a', 1000000000.0\): expected"),
        (["bogus"], r"target 'bogus': expected a known name"),
    ],
)
def test_as_targets_bad(targets, message):
    with pytest.raises(LadderDataError, match=message):
        as_targets(targets)


# ----------------------------------------------------------------------------- fill_flops


def test_fill_flops_from_ladder():
    ladder = load_olmo_ladder()
    targets = as_targets(["7B-4T", ("olmo-760M", OLMO_SIZES["760M"]["N"], 1e11), ("big", 3e10, 1e13)])
    out = fill_flops(targets, ladder)
    assert out.loc[0, "flops"] == paper_targets().loc[0, "flops"]  # given flops are kept
    # at a ladder size the fit gives about that size's FLOPs per token
    assert_allclose(out.loc[1, "flops"] / 1e11, OLMO_SIZES["760M"]["flops_per_token"], rtol=0.05)
    # and it extrapolates sensibly: the paper's 7B has 49.4e9 FLOPs per token
    seven = fill_flops(as_targets(("seven", 6_887_575_552, 1e12)), ladder)
    assert_allclose(seven.loc[0, "flops"] / 1e12, 49_412_071_424, rtol=0.15)
    assert out["flops"].notna().all() and (out.loc[2, "flops"] > out.loc[1, "flops"])
    assert targets["flops"].isna().sum() == 2  # input untouched


def test_fill_flops_exact_power_law():
    """If the ladder's FLOPs are exactly c N^a D, the fit recovers them for any target."""
    rows = [{"run": f"r{n:g}", "N": n, "D": d, "flops": 7.0 * n**1.1 * d}
            for n in (1e8, 3e8, 1e9) for d in (1e10, 2e10)]
    out = fill_flops(as_targets(("t", 5e9, 3e12)), pd.DataFrame(rows))
    assert_allclose(out.loc[0, "flops"], 7.0 * 5e9**1.1 * 3e12, rtol=1e-9)


def test_fill_flops_fallbacks():
    targets = as_targets(("t", 2e9, 5e11))
    no_flops = pd.DataFrame({"run": ["a"], "N": [1e8], "D": [1e10]})
    assert_allclose(fill_flops(targets, no_flops).loc[0, "flops"], 6 * 2e9 * 5e11, rtol=1e-12)
    one_size = pd.DataFrame({"run": ["a", "b"], "N": [1e8, 1e8], "D": [1e10, 2e10], "flops": [8e18, 16e18]})
    # one model size: FLOPs per token taken proportional to N (8 N per token here)
    assert_allclose(fill_flops(targets, one_size).loc[0, "flops"], 8 * 2e9 * 5e11, rtol=1e-9)
    complete = paper_targets()
    pd.testing.assert_frame_equal(fill_flops(complete, no_flops), complete)
    assert np.isfinite(fill_flops(as_targets(("t", 2e9, 5e11)), no_flops)["flops"]).all()
