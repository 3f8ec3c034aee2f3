"""Gaussian noise the device adds to the features it sends, at run time.

Not part of any exported graph (the parity gate compares deterministic graphs): the device
runtime / client draws it after dequantizing the features, and evaluation applies the same
std, read from the manifest's `feature.noise`. The numpy version the device and the attacks use is
`hybridsplit.bundle.preprocess.add_noise`; this is the torch one training uses.
"""

from __future__ import annotations

import torch


def add_noise_torch(features: torch.Tensor, std: float, generator: torch.Generator | None = None) -> torch.Tensor:
    if std <= 0:
        return features
    return features + std * torch.randn(features.shape, generator=generator, dtype=features.dtype)
