"""Image-reconstruction scores the image papers report: SSIM (Wang et al. 2004, Gaussian window
σ = 1.5, K1 = 0.01, K2 = 0.03) and PSNR, per image and channel, averaged. Inputs are (N, C, H, W)
on one scale; `data_range` is that scale's range (max - min of the true images)."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

SIGMA = 1.5
K1, K2 = 0.01, 0.03


def _blur(a: np.ndarray) -> np.ndarray:
    # 11 x 11 window (radius 5 = truncate 3.5 σ), over the two spatial axes only
    return gaussian_filter(a, sigma=(0, 0, SIGMA, SIGMA), truncate=3.5, mode="reflect")


def ssim(pred: np.ndarray, true: np.ndarray, data_range: float) -> float:
    """Mean structural similarity of pred against true, both (N, C, H, W)."""
    if pred.shape != true.shape or pred.ndim != 4:
        raise ValueError(f"ssim: expected two (N, C, H, W) arrays of one shape, got {pred.shape} and {true.shape}")
    x, y = pred.astype(np.float64), true.astype(np.float64)
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    mx, my = _blur(x), _blur(y)
    vx, vy, cxy = _blur(x * x) - mx**2, _blur(y * y) - my**2, _blur(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    return float(s.mean())


def psnr(pred: np.ndarray, true: np.ndarray, data_range: float) -> float:
    """Mean over images of 10 log10(range² / MSE); an exact image counts as 100 dB."""
    err = ((pred.astype(np.float64) - true) ** 2).reshape(len(true), -1).mean(1)
    db = np.where(err > 0, 10 * np.log10(data_range**2 / np.maximum(err, 1e-300)), 100.0)
    return float(np.minimum(db, 100.0).mean())
