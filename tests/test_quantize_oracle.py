"""quantize / dequantize against numpy's own rounding (round half to even), on a grid that hits every
tie: floor, ceil, truncation or round-half-up all give different codes somewhere on it."""

from __future__ import annotations

import numpy as np

from hybridsplit.bundle.preprocess import dequantize, quantize


def test_quantize_matches_round_half_even_on_a_grid_of_values():
    """Every multiple of scale/4 in the int8 range and beyond: floor, ceil, truncation or half-up differ."""
    scale, zp = 0.0625, -3  # a power of two: every x / scale below is exact, halves included
    x = (np.arange(-3000, 3001) * (scale / 4)).astype(np.float32)
    want = np.clip(np.rint(x.astype(np.float64) / scale) + zp, -128, 127).astype(np.int8)
    got = quantize(x, scale, zp)
    assert got.dtype == np.int8
    np.testing.assert_array_equal(got, want)
    # round trip: dequantize(quantize(x)) is within half a step of x inside the representable range
    inside = (x >= (-128 - zp) * scale) & (x <= (127 - zp) * scale)
    assert np.abs(dequantize(got, scale, zp)[inside] - x[inside]).max() <= scale / 2 + 1e-6
