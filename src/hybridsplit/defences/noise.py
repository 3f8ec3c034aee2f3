"""Gaussian noise the device adds to the features it sends, at run time.

Not part of any exported graph (the parity gate compares deterministic graphs): the device
runtime / client draws it after dequantizing the features, and evaluation applies the same
std, read from the manifest's `feature.noise`.
"""

from __future__ import annotations

import numpy as np
import torch


def add_noise(features: np.ndarray, std: float, rng: np.random.Generator) -> np.ndarray:
    """features + N(0, std^2), float32; std 0 returns the features unchanged."""
    if std <= 0:
        return features.astype(np.float32, copy=False)
    return (features + rng.normal(0.0, std, size=features.shape)).astype(np.float32)


def add_noise_torch(features: torch.Tensor, std: float, generator: torch.Generator | None = None) -> torch.Tensor:
    if std <= 0:
        return features
    return features + std * torch.randn(features.shape, generator=generator, dtype=features.dtype)
