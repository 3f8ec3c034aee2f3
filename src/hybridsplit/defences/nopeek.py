"""NoPeek (Vepakomma et al. 2020): distance correlation between raw input and device features.

Minimising dCor(x, f(x)) makes the features' pairwise geometry unlike the input's, which
hinders reconstruction and re-identification from the features.
"""

from __future__ import annotations

import torch


def _centered_distances(z: torch.Tensor) -> torch.Tensor:
    z = z.flatten(1)
    d = torch.cdist(z, z)
    return d - d.mean(0, keepdim=True) - d.mean(1, keepdim=True) + d.mean()


def distance_correlation(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Sample distance correlation in [0, 1] between two batches (Székely et al.)."""
    a, b = _centered_distances(x), _centered_distances(y)
    dcov_xy = (a * b).mean()
    dcov_xx, dcov_yy = (a * a).mean(), (b * b).mean()
    return (dcov_xy.clamp(min=0) / ((dcov_xx * dcov_yy).sqrt() + 1e-9)).sqrt()


class NoPeekTerm:
    """Feature loss term for `train.fit`: weight * dCor(input, features)."""

    name = "nopeek"

    def __init__(self, weight: float):
        self.weight = weight

    def __call__(self, features: torch.Tensor, x: torch.Tensor, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {self.name: self.weight * distance_correlation(x, features)}
