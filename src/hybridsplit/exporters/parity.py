"""Numeric parity of an artifact against torch fp32, and accuracy through real runtimes."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from hybridsplit.bundle.manifest import Parity


def measure_parity(reference: np.ndarray, output: np.ndarray, tolerance: float | None = None) -> Parity:
    if reference.shape != output.shape:
        raise RuntimeError(f"parity: shapes differ {reference.shape} vs {output.shape}")
    diff = np.abs(reference.astype(np.float64) - output.astype(np.float64))
    scale = float(np.abs(reference).max()) or 1.0
    return Parity(max_abs=float(diff.max()), mean_abs=float(diff.mean()),
                  rel=float(diff.max()) / scale, tolerance=tolerance)


def split_accuracy(device: Callable[[np.ndarray], np.ndarray], cloud: Callable[[np.ndarray], np.ndarray],
                   x: np.ndarray, labels: np.ndarray) -> float:
    """Primary accuracy of device -> cloud on (x, labels)."""
    features = device(x)
    logits = cloud(features)
    return float((logits.argmax(1) == labels).mean())
