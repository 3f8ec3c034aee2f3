"""The one Pareto front: used by the sweep (every measured column) and the report (cost vs utility)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def pareto_mask(points: np.ndarray) -> np.ndarray:
    """True where no other point is <= in every column and < in one (all columns minimised)."""
    points = np.asarray(points, dtype=float)
    mask = np.ones(len(points), dtype=bool)
    for i in range(len(points)):
        others = np.delete(points, i, axis=0)
        mask[i] = not np.any(np.all(others <= points[i], axis=1) & np.any(others < points[i], axis=1))
    return mask


def pareto_front(xs: Sequence[float], ys: Sequence[float]) -> list[int]:
    """Indices of the points no other beats on a cost `x` (lower is better) and a utility `y` (higher
    is better), sorted by x."""
    if not len(xs):
        return []
    mask = pareto_mask(np.column_stack([np.asarray(xs, float), -np.asarray(ys, float)]))
    return sorted((int(i) for i in np.flatnonzero(mask)), key=lambda i: (xs[i], -ys[i]))
