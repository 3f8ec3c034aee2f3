"""What every dataset returns: normalised train/test arrays with their labels."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hybridsplit.bundle.manifest import Normalisation
from hybridsplit.bundle.preprocess import normalise
from hybridsplit.registry import Registry


@dataclass
class Samples:
    """One split. x is (N, *input_shape) float32; labels are int64 of length N."""

    x: np.ndarray
    primary: np.ndarray
    sensitive: np.ndarray
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    """Further sensitive attributes (e.g. `side`)."""
    group: np.ndarray | None = None
    """Source id of each sample (recording or file), so nothing leaks across splits."""
    start: np.ndarray | None = None
    """Recordings: the first sample index of each window within its recording."""

    def __len__(self) -> int:
        return len(self.x)

    def subset(self, idx: np.ndarray) -> Samples:
        return Samples(
            self.x[idx], self.primary[idx], self.sensitive[idx],
            {k: v[idx] for k, v in self.extra.items()},
            None if self.group is None else self.group[idx],
            None if self.start is None else self.start[idx],
        )


def fit_normalisation(x: np.ndarray) -> Normalisation:
    """Per-channel mean and std of a batch (N, C, ...), fitted on the training split only; the very
    record the manifest ships (bundle.manifest.Normalisation), so what is fitted is what devices use."""
    axes = tuple(i for i in range(x.ndim) if i != 1)
    std = x.std(axis=axes)
    std = np.where(std < 1e-8, 1.0, std)
    return Normalisation(mean=x.mean(axis=axes).astype(float).tolist(), std=std.astype(float).tolist(), axis=1)


def apply_normalisation(norm: Normalisation, x: np.ndarray) -> np.ndarray:
    return normalise(x, norm.mean, norm.std, norm.axis)  # the device's own arithmetic (bundle.preprocess)


def calibration_sample(x: np.ndarray, n: int, seed: int) -> np.ndarray:
    """n windows of x (all when fewer), drawn without replacement by the seed, in their original order:
    the int8 calibration set of every export of a run."""
    idx = np.random.default_rng(seed).choice(len(x), size=min(n, len(x)), replace=False)
    return x[np.sort(idx)]


@dataclass
class Dataset:
    name: str
    train: Samples
    test: Samples
    primary_names: list[str]
    sensitive_names: list[str]
    input_layout: str
    """Layout of one batched input, e.g. 'NCW' (IMU) or 'NCHW' (images)."""
    norm: Normalisation
    protocol: str
    info: dict = field(default_factory=dict)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.train.x.shape[1:])

    @property
    def unit(self) -> str:
        """What one sample is called in messages: an image, or an IMU window."""
        return "image" if self.input_layout == "NCHW" else "window"

    def summary(self) -> dict:
        return {
            "dataset": self.name, "protocol": self.protocol,
            "train_samples": len(self.train), "test_samples": len(self.test),
            "input_shape": list(self.input_shape), "input_layout": self.input_layout,
            "primary_classes": len(self.primary_names),
            "sensitive_classes": len(self.sensitive_names), **self.info,
        }


DATASETS: Registry = Registry("dataset", "hybridsplit list datasets")
