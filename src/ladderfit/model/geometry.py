r"""Where a target lies relative to a ladder: its distance from the ladder's convex hull.

The ladder's runs are points (log N, log D) (or (log C, 0) for the compute structure); what a
scaling law fitted on them knows is, at best, their convex hull. A target's distance beyond the
ladder is its Euclidean distance from that hull, in natural-log units:

.. math::

    d(q) = \min_{p \in \mathrm{hull}(\text{ladder})} \lVert q - p \rVert_2 ,

0 inside the hull. Unlike the distance from the box of the largest N and the largest D, it sees
a run with more tokens per parameter than any ladder run of its size (190M at 10x Chinchilla
beside runs of 1-5x) as beyond the ladder. A ladder whose runs lie on a line (one training
length per size, as Pythia) has a segment as its hull; a single point, that point.
"""

from __future__ import annotations

import numpy as np

__all__ = ["hull_vertices", "hull_distance"]


def hull_vertices(points) -> np.ndarray:
    """The convex hull's vertices (k, 2), counter-clockwise; a segment's two ends when the
    points are collinear (k = 2), the point itself when they coincide (k = 1)."""
    pts = np.unique(np.round(np.asarray(points, float).reshape(-1, 2), 12), axis=0)
    if len(pts) <= 2:
        return pts
    centred = pts - pts.mean(0)
    _, sv, vt = np.linalg.svd(centred, full_matrices=False)
    if sv[1] <= 1e-9 * max(sv[0], 1e-300):  # collinear: the two extreme points along the line
        along = centred @ vt[0]
        return pts[[int(np.argmin(along)), int(np.argmax(along))]]
    return _monotone_chain(pts)


def _monotone_chain(pts: np.ndarray) -> np.ndarray:
    """Andrew's monotone chain: the hull of >= 3 non-collinear points, counter-clockwise."""
    order = pts[np.lexsort((pts[:, 1], pts[:, 0]))]

    def half(seq):
        out: list = []
        for p in seq:
            while len(out) >= 2 and _cross(out[-2], out[-1], p) <= 0:
                out.pop()
            out.append(p)
        return out[:-1]

    return np.array(half(order) + half(order[::-1]))


def _cross(o, a, b) -> float:
    return float((a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]))


def hull_distance(points, x, z) -> np.ndarray:
    """Distance of each query (x, z) from the convex hull of ``points`` (n, 2); 0 inside."""
    v = hull_vertices(points)
    q = np.stack(np.broadcast_arrays(np.asarray(x, float), np.asarray(z, float)), axis=-1)
    shape = q.shape[:-1]
    q = q.reshape(-1, 2)
    if len(v) == 1:
        return np.hypot(*(q - v[0]).T).reshape(shape)
    a, b = (v, np.roll(v, -1, axis=0)) if len(v) > 2 else (v[:1], v[1:])
    ab = b - a  # edges (k, 2)
    aq = q[:, None, :] - a[None]  # (m, k, 2)
    t = np.clip((aq * ab).sum(-1) / (ab * ab).sum(-1), 0.0, 1.0)
    d = np.hypot(*(aq - t[..., None] * ab).transpose(2, 0, 1)).min(axis=1)
    if len(v) > 2:  # inside a counter-clockwise polygon: left of (or on) every edge
        inside = (ab[None, :, 0] * aq[..., 1] - ab[None, :, 1] * aq[..., 0] >= -1e-12).all(axis=1)
        d = np.where(inside, 0.0, d)
    return d.reshape(shape)
