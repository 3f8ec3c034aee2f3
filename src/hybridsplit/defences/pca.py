"""PCA (or DCA) of the device-half features, folded into the exported graphs.

Fitted on training features of the (fine-tuned) device half. PCA keeps the directions of most
variance; DCA (discriminant component analysis, Kung, "Compressive privacy", IEEE Signal
Processing Magazine 2017) keeps the directions that separate the primary classes relative to
all the variance — whatever else the features vary with (who the person is) is what it drops.
The deployed device half ends with `Project` (flatten, then one Linear: whitened projection with
the mean folded into the bias); the cloud half starts with `BackProject` (one Linear back to the
feature space, then unflatten; for DCA's non-orthogonal directions a starting point the cloud's
re-training adapts, not an inverse). The device sends `dims` numbers instead of the whole feature map.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from hybridsplit.errors import RecipeError
from hybridsplit.models import SplitModel, StagedNet


@dataclass
class PCAState:
    mean: torch.Tensor
    """(D,) mean of the flattened training features."""
    components: torch.Tensor
    """(k, D) unit-norm directions: PCA's orthonormal principal directions (largest variance first), or
    DCA's discriminant directions (most discriminant first)."""
    std: torch.Tensor
    """(k,) std of each component on the training features (the whitening scale)."""
    feature_shape: tuple[int, ...]
    """Per-sample shape of the features before flattening."""
    pool: bool = False
    """PCA of the features averaged over their trailing (time / space) axes, broadcast back for
    the cloud: exact when the cloud half begins with global average pooling (as imu_cnn's does)."""

    @property
    def pooled_size(self) -> int:
        return int(self.mean.shape[0])

    def _repeat(self) -> int:
        return int(np.prod(self.feature_shape)) // self.pooled_size

    def forward_affine(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(W, b) with z = flatten(f) @ W.T + b: averaging (if pooled), centring, projection, whitening."""
        w = self.components / self.std[:, None]  # (k, C) on pooled (or flat) features
        b = -(w @ self.mean)
        if self.pool:  # flat index c*T + t averages over t
            w = w.repeat_interleave(self._repeat(), dim=1) / self._repeat()
        return w, b

    def backward_affine(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(W, b) with flatten(f') = z @ W.T + b: un-whitening, back-projection, broadcast (if pooled)."""
        w = (self.components * self.std[:, None]).T  # (C, k)
        b = self.mean
        if self.pool:
            w, b = w.repeat_interleave(self._repeat(), dim=0), b.repeat_interleave(self._repeat())
        return w, b

    @property
    def dims(self) -> int:
        return int(self.components.shape[0])

    def to_dict(self) -> dict:
        """Tensors and plain values only, so `torch.load(weights_only=True)` reads it back."""
        return {"mean": self.mean.float().contiguous(), "components": self.components.float().contiguous(),
                "std": self.std.float().contiguous(), "feature_shape": list(self.feature_shape), "pool": self.pool}

    @classmethod
    def from_dict(cls, d: dict) -> PCAState:
        return cls(torch.as_tensor(d["mean"]).float(), torch.as_tensor(d["components"]).float(),
                   torch.as_tensor(d["std"]).float(), tuple(int(v) for v in d["feature_shape"]), bool(d.get("pool", False)))

    def project(self, features: np.ndarray) -> np.ndarray:
        """Whitened projection of (N, *feature_shape) features, in numpy (the reference)."""
        f = pool_features(features) if self.pool else features.reshape(len(features), -1)
        z = (f.astype(np.float64) - self.mean.double().numpy()) @ self.components.double().numpy().T
        return (z / self.std.double().numpy()).astype(np.float32)

    def explained(self, total_variance: float) -> float:
        return float((self.std.double() ** 2).sum() / total_variance) if total_variance > 0 else 0.0


def pool_features(features: np.ndarray) -> np.ndarray:
    """(N, C, ...) -> (N, C): the mean over the trailing (time / space) axes."""
    return features.reshape(len(features), features.shape[1], -1).mean(-1) if features.ndim > 2 else features


def fit_pca(features: np.ndarray, dims: int, pool: bool = False) -> tuple[PCAState, float]:
    """PCA of (N, *shape) features (averaged over trailing axes first if `pool`); returns the
    state and the share of variance kept."""
    n = len(features)
    pool = pool and features.ndim > 2
    flat = pool_features(features) if pool else features.reshape(n, -1)
    f = torch.from_numpy(flat.astype(np.float64))
    d = f.shape[1]
    if dims > min(n, d):
        raise RecipeError(f"defence.pca.dims={dims} exceeds the feature size {d} (or the {n} training samples); "
                          f"choose at most {min(n, d)}")
    mean = f.mean(0)
    _, s, vh = torch.linalg.svd(f - mean, full_matrices=False)
    var = s**2 / max(n - 1, 1)
    std = var[:dims].sqrt().clamp(min=1e-8)
    state = PCAState(mean.float(), vh[:dims].float(), std.float(), tuple(features.shape[1:]), pool)
    return state, float(var[:dims].sum() / var.sum()) if var.sum() > 0 else 0.0


def check_dca_dims(dims: int, num_classes: int) -> None:
    """L classes have at most L - 1 discriminant directions (the between-class scatter's rank)."""
    if dims > num_classes - 1:
        raise RecipeError(f"defence.pca.dims={dims} with method \"dca\": {num_classes} primary classes give at "
                          f"most {num_classes - 1} discriminant directions; choose at most {max(num_classes - 1, 1)}")


def fit_dca(features: np.ndarray, labels: np.ndarray, dims: int, ridge: float = 10.0,
            pool: bool = False) -> tuple[PCAState, float]:
    """DCA of (N, *shape) features with primary `labels`: the `dims` directions w maximising
    w'S_b w / w'(S_t + ρI)w (S_b between-class, S_t total scatter, ρ = `ridge` × the mean eigenvalue of
    S_t), whitened like PCA; returns the state and the share of variance kept. At most L − 1 directions
    separate L classes: more are refused."""
    from scipy.linalg import eigh

    n = len(features)
    pool = pool and features.ndim > 2
    f = (pool_features(features) if pool else features.reshape(n, -1)).astype(np.float64)
    classes = np.unique(labels)
    check_dca_dims(dims, len(classes))
    mean = f.mean(0)
    centred = f - mean
    means = np.stack([centred[labels == c].mean(0) for c in classes])  # (L, D) class means, centred
    counts = np.array([(labels == c).sum() for c in classes], dtype=np.float64)
    between = np.sqrt(counts)[:, None] * means  # S_b = between' between, rank <= L - 1
    d = f.shape[1]
    if d > n:  # D x D is too large: solve in the span of the samples (the discriminant directions lie there)
        basis, _, _ = np.linalg.svd(centred.T, full_matrices=False)  # (D, n) orthonormal
    else:
        basis = np.eye(d)
    c, b = centred @ basis, between @ basis
    total = c.T @ c
    rho = ridge * np.trace(total) / d
    _, vecs = eigh(b.T @ b, total + rho * np.eye(len(total)))
    w = basis @ vecs[:, ::-1][:, :dims]  # (D, dims), most discriminant first
    w /= np.linalg.norm(w, axis=0, keepdims=True)
    z = centred @ w
    std = np.maximum(z.std(0, ddof=1), 1e-8)
    state = PCAState(torch.from_numpy(mean).float(), torch.from_numpy(w.T.copy()).float(),
                     torch.from_numpy(std).float(), tuple(features.shape[1:]), pool)
    total_var = centred.var(0, ddof=1).sum()
    return state, float((std**2).sum() / total_var) if total_var > 0 else 0.0


def fit_projection(features: np.ndarray, labels: np.ndarray, dims: int, method: str, ridge: float,
                   pool: bool = False) -> tuple[PCAState, float]:
    """The recipe's projection (`defence.pca.method`) of the training features."""
    if method == "dca":
        return fit_dca(features, labels, dims, ridge, pool)
    return fit_pca(features, dims, pool)


class Project(nn.Module):
    """Flatten + Linear: z = ((f - mean) @ C^T) / std (with the time/space average folded in if pooled)."""

    def __init__(self, state: PCAState):
        super().__init__()
        w, b = state.forward_affine()
        self.flatten = nn.Flatten()
        self.linear = nn.Linear(w.shape[1], w.shape[0])
        with torch.no_grad():
            self.linear.weight.copy_(w)
            self.linear.bias.copy_(b)
        self.requires_grad_(False)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        return self.linear(self.flatten(f))


class BackProject(nn.Module):
    """Linear + Unflatten: f' = (z * std) @ C + mean (broadcast over time/space if pooled), reshaped."""

    def __init__(self, state: PCAState):
        super().__init__()
        w, b = state.backward_affine()  # (D, k), (D,)
        self.linear = nn.Linear(w.shape[1], w.shape[0])
        with torch.no_grad():
            self.linear.weight.copy_(w)
            self.linear.bias.copy_(b)
        self.unflatten = nn.Unflatten(1, tuple(state.feature_shape))
        self.requires_grad_(False)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.unflatten(self.linear(z))


def fold_pca(split: SplitModel, state: PCAState) -> SplitModel:
    """The deployed split: device' = device -> Project, cloud' = BackProject -> cloud."""
    if tuple(split.feature_shape) != tuple(state.feature_shape):
        raise RecipeError(f"PCA was fitted on features {list(state.feature_shape)} but the cut '{split.cut}' "
                          f"gives {list(split.feature_shape)}; export at the cut the defence was trained at")
    device = nn.Sequential(OrderedDict([("device", split.device), ("pca", Project(state))]))
    cloud = nn.Sequential(OrderedDict([("pca_back", BackProject(state)), ("cloud", split.cloud)]))
    # its one named cut, `device`, is the end of the device half: the graph splitter cuts it there too
    full = StagedNet(OrderedDict([("device", device), ("cloud", cloud)]), split.input_shape)
    full.train(split.full.training)  # new containers default to training mode; keep the split's mode
    return SplitModel(full, device, cloud, split.cut, split.input_shape, (state.dims,))
