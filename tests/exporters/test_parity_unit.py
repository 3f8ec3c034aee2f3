"""measure_parity on arrays whose differences are worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from hybridsplit.exporters.parity import measure_parity, split_accuracy


def test_parity_numbers_by_hand():
    ref = np.array([[1.0, -4.0], [2.0, 0.5]], np.float32)
    out = np.array([[1.5, -4.0], [1.0, 0.5]], np.float32)  # |diff| = 0.5, 0, 1, 0
    p = measure_parity(ref, out, tolerance=0.3)
    assert p.max_abs == 1.0 and p.mean_abs == 0.375
    assert p.rel == 0.25  # 1 / max|reference|
    assert p.tolerance == 0.3 and p.reference == "torch_fp32"
    # relative to the reference, not to the output
    assert measure_parity(np.array([2.0]), np.array([8.0])).rel == 3.0


def test_an_all_zero_reference_uses_absolute_error_and_shapes_must_match():
    assert measure_parity(np.zeros(3), np.array([0.0, 0.25, -0.5])).rel == 0.5
    with pytest.raises(RuntimeError, match=r"shapes differ \(2,\) vs \(3,\)"):
        measure_parity(np.zeros(2), np.zeros(3))


def test_split_accuracy_is_the_share_of_right_argmaxes():
    x = np.arange(4, dtype=np.float32)[:, None]
    logits = np.array([[1, 0], [0, 1], [1, 0], [0, 1]], np.float32)
    acc = split_accuracy(lambda v: v * 2, lambda f: logits[(f[:, 0] / 2).astype(int)], x, np.array([0, 1, 1, 1]))
    assert acc == 0.75
