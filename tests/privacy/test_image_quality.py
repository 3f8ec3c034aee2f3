"""SSIM and PSNR against their closed forms: identical images, flat images (SSIM reduces to the
luminance term (2ab + C1) / (a² + b² + C1)), and PSNR of a known error."""

from __future__ import annotations

import numpy as np
import pytest

from hybridsplit.privacy.image_quality import K1, psnr, ssim


def test_identical_images_score_one_and_100_db():
    x = np.random.default_rng(0).random((3, 1, 16, 16))
    assert ssim(x, x, 1.0) == pytest.approx(1.0)
    assert psnr(x, x, 1.0) == 100.0


def test_flat_images_reduce_to_the_luminance_term():
    a, b, rng = 0.2, 0.7, 1.0
    x, y = np.full((1, 1, 16, 16), a), np.full((1, 1, 16, 16), b)
    c1 = (K1 * rng) ** 2
    assert ssim(x, y, rng) == pytest.approx((2 * a * b + c1) / (a * a + b * b + c1))


def test_psnr_of_a_known_error():
    x = np.zeros((2, 1, 8, 8))
    y = x + 0.1  # MSE 0.01 over range 1: 20 dB
    assert psnr(y, x, 1.0) == pytest.approx(20.0)


def test_ssim_rejects_non_images():
    with pytest.raises(ValueError, match="N, C, H, W"):
        ssim(np.zeros((2, 8)), np.zeros((2, 8)), 1.0)
