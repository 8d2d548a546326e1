"""The distance of a target from the ladder's convex hull (no fitting)."""

import numpy as np
import pytest

from ladderfit.model.geometry import hull_distance, hull_vertices


def test_hull_of_a_square_with_an_inner_point():
    pts = np.array([[0, 0], [1, 0], [1, 1], [0, 1], [0.5, 0.5], [0.2, 0.9]])
    v = hull_vertices(pts)
    assert len(v) == 4 and {tuple(p) for p in v} == {(0, 0), (1, 0), (1, 1), (0, 1)}
    # counter-clockwise: positive signed area
    area = 0.5 * np.sum(v[:, 0] * np.roll(v[:, 1], -1) - np.roll(v[:, 0], -1) * v[:, 1])
    assert area == pytest.approx(1.0)


@pytest.mark.parametrize("q, want", [((0.5, 0.5), 0.0), ((1.0, 1.0), 0.0), ((2.0, 0.5), 1.0), ((2.0, 2.0), np.sqrt(2)),
                                     ((-3.0, 0.5), 3.0), ((0.5, -0.25), 0.25)])
def test_distance_from_a_square(q, want):
    pts = np.array([[0, 0], [1, 0], [1, 1], [0, 1]])
    assert hull_distance(pts, q[0], q[1]) == pytest.approx(want)


def test_a_parallelogram_ladder_sees_more_tokens_per_parameter_as_beyond():
    """Runs at 1x and 2x tokens per parameter of two sizes: a run of the small size at 4x lies
    inside the box of the largest N and D but outside the hull, at log(2)/sqrt(2) from the 2x edge."""
    logN = np.log([1e8, 1e8, 2e8, 2e8])
    logD = np.log([2e9, 4e9, 4e9, 8e9])
    ladder = np.column_stack([logN, logD])
    d = hull_distance(ladder, np.log(1e8), np.log(8e9))
    assert d == pytest.approx(np.log(2) / np.sqrt(2))
    # beyond the corner (2e8 params at 4x): the Euclidean distance to that corner
    assert hull_distance(ladder, np.log(8e8), np.log(3.2e10)) == pytest.approx(np.hypot(np.log(4), np.log(4)))


def test_collinear_and_single_point_ladders():
    line = np.array([[0, 0], [1, 0], [3, 0]])  # one training length (Pythia): a segment
    assert len(hull_vertices(line)) == 2
    np.testing.assert_allclose(hull_distance(line, [2, 5, -1, 1], [0, 0, 0, 2]), [0, 2, 1, 2])
    assert hull_distance([[1.0, 1.0]], 4.0, 5.0) == pytest.approx(5.0)


def test_broadcasts_over_queries():
    pts = np.array([[0, 0], [1, 0], [0, 1]])
    out = hull_distance(pts, np.zeros((2, 3)) + 2.0, np.zeros((2, 3)))
    assert out.shape == (2, 3) and np.allclose(out, 1.0)
