"""What a device does around its half of the network, built from the manifest alone:
raw window -> normalise -> quantize (the input tensor device.tflite takes) ... device half ...
features -> run-time noise -> wire message.

One implementation for every reader: the Python client, the demos' samples (the reference the
Android and web demos match bit for bit), the privacy attacks and bench. Arithmetic is float32,
rounding half to even, as numpy does and as the demos reproduce.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hybridsplit.bundle.manifest import Manifest
from hybridsplit.errors import BundleError


def quantize(x: np.ndarray, scale: float, zero_point: int, dtype=np.int8) -> np.ndarray:
    """clip(round_half_even(x / scale) + zero_point) in the integer dtype's range."""
    info = np.iinfo(dtype)
    return np.clip(np.round(x / scale) + zero_point, info.min, info.max).astype(dtype)


def dequantize(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    return ((q.astype(np.float32) - zero_point) * scale).astype(np.float32)


def channel_stats(mean: list[float], std: list[float], axis: int, ndim: int) -> tuple[np.ndarray, np.ndarray]:
    """mean and std as float32 arrays broadcasting along `axis` of an ndim-d batch."""
    shape = [1] * ndim
    shape[axis] = -1
    return np.asarray(mean, np.float32).reshape(shape), np.asarray(std, np.float32).reshape(shape)


def normalise(x: np.ndarray, mean: list[float], std: list[float], axis: int = 1) -> np.ndarray:
    """(x - mean[c]) / std[c] along the channel axis of a batch, in float32."""
    if not len(mean) == len(std) == x.shape[axis]:
        raise BundleError(f"normalisation has {len(mean)} means and {len(std)} stds for {x.shape[axis]} channels "
                          f"(axis {axis} of {list(x.shape)}); re-export the bundle")
    m, s = channel_stats(mean, std, axis, x.ndim)
    return ((x.astype(np.float32) - m) / s).astype(np.float32)


def add_noise(features: np.ndarray, std: float, rng: np.random.Generator) -> np.ndarray:
    """features + N(0, std^2), float32; std 0 returns the features unchanged."""
    if std <= 0:
        return features.astype(np.float32, copy=False)
    return (features + rng.normal(0.0, std, size=features.shape)).astype(np.float32)


@dataclass(frozen=True)
class Preprocessor:
    """The device-side arithmetic of one bundle, read from its manifest."""

    manifest: Manifest

    @property
    def input_ndim(self) -> int:
        return len(self.manifest.input.shape)

    def batched(self, x: np.ndarray) -> np.ndarray:
        """One window (C, T) or a batch (N, C, T) -> a batch."""
        return x[None] if x.ndim == self.input_ndim - 1 else x

    def normalise(self, raw: np.ndarray) -> np.ndarray:
        """Raw sensor window(s) in the manifest's input layout -> normalised float32, same layout."""
        n = self.manifest.input.normalisation
        return normalise(self.batched(raw), n.mean, n.std, n.axis)

    def denormalise(self, x: np.ndarray) -> np.ndarray:
        """Normalised window(s) back to raw sensor units (the demos' samples are raw)."""
        n = self.manifest.input.normalisation
        x = self.batched(x)
        m, s = channel_stats(n.mean, n.std, n.axis, x.ndim)
        return (x * s + m).astype(np.float32)

    def input_tensor(self, raw: np.ndarray) -> np.ndarray:
        """Raw window(s) -> exactly the tensor device.tflite takes: normalised, then int8 with the
        manifest's input (scale, zero_point) when the device half has integer input."""
        n = self.normalise(raw)
        q = self.manifest.input.quantization
        return n if q is None else quantize(n, q.scale, q.zero_point)

    @property
    def feature_quant(self) -> tuple[float, int] | None:
        f = self.manifest.feature
        return (f.scale, f.zero_point) if f.dtype == "int8" and f.scale is not None else None

    def noisy(self, features: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The manifest's run-time noise added to features in the device half's own dtype: int8
        features are dequantized, noised in feature space and re-quantized, as the device does."""
        std = float(self.manifest.feature.noise)
        if std <= 0:
            return features
        q = self.feature_quant if features.dtype == np.int8 else None  # a float artifact's features: no qparams
        if q is None:
            return add_noise(features, std, rng).astype(features.dtype)
        return quantize(add_noise(dequantize(features, *q), std, rng), *q)
