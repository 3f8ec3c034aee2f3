"""Reconstruction attack: a decoder trained to invert features back to the input.

An MLP decoder is trained on (features, input) pairs of the training samples and tested on the
test samples. Reported: normalised MSE (MSE / variance of the inputs) and the mean Pearson
correlation between each reconstructed and true channel, and the same two scores of the
mean-input baseline (the training mean, which knows nothing about the sample: on faces the mean
face alone correlates 0.55, so a score is only a reconstruction where it beats the baseline).
Images add SSIM and PSNR for both. Features are standardised with a floor, constant dims dropped
(`scaling.standardise`).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from hybridsplit.privacy.image_quality import psnr, ssim
from hybridsplit.privacy.scaling import standardise


def make_decoder(in_features: int, out_shape: tuple[int, ...], hidden: int = 256) -> nn.Module:
    out = int(np.prod(out_shape))
    return nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                         nn.Linear(hidden, out), nn.Unflatten(1, tuple(out_shape)))


def _channel_correlation(pred: np.ndarray, true: np.ndarray) -> float:
    """Mean Pearson correlation of each sample's channel (a window's channel, or an image plane)."""
    pred = pred.reshape(*pred.shape[:2], -1)
    true = true.reshape(*true.shape[:2], -1)
    p = pred - pred.mean(-1, keepdims=True)
    t = true - true.mean(-1, keepdims=True)
    den = np.sqrt((p**2).sum(-1) * (t**2).sum(-1))
    ok = den > 1e-12
    return float(((p * t).sum(-1)[ok] / den[ok]).mean()) if ok.any() else 0.0


def scores(pred: np.ndarray, true: np.ndarray, data_range: float | None = None) -> dict:
    """NMSE and correlation; SSIM and PSNR as well for (N, C, H, W) images."""
    out = {"nmse": float(((pred - true) ** 2).mean()) / max(float(true.var()), 1e-12),
           "correlation": _channel_correlation(pred, true)}
    if true.ndim == 4 and min(true.shape[2:]) >= 7:
        rng = data_range if data_range is not None else float(true.max() - true.min())
        out.update(ssim=ssim(pred, true, rng), psnr=psnr(pred, true, rng))
    return out


def _train_decoder(ftr: torch.Tensor, xtr: torch.Tensor, epochs: int, seed: int) -> nn.Module:
    dec = make_decoder(ftr.shape[1], tuple(xtr.shape[1:]))
    opt = torch.optim.Adam(dec.parameters(), lr=1e-3, weight_decay=1e-5)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        perm = torch.randperm(len(ftr), generator=gen)
        for i in range(0, len(perm), 256):
            b = perm[i : i + 256]
            loss = nn.functional.mse_loss(dec(ftr[b]), xtr[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return dec.eval()


def reconstruction_attack(train_f: np.ndarray, train_x: np.ndarray, test_f: np.ndarray, test_x: np.ndarray,
                          epochs: int = 15, seed: int = 0, threads: int = 2) -> dict:
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    tr, te = standardise(train_f, test_f)
    ftr, fte = torch.from_numpy(tr.astype(np.float32)), torch.from_numpy(te.astype(np.float32))
    dec = _train_decoder(ftr, torch.from_numpy(train_x.astype(np.float32)), epochs, seed)
    with torch.no_grad():
        pred = dec(fte).numpy()
    data_range = float(test_x.max() - test_x.min())
    mean_input = np.broadcast_to(train_x.mean(0, keepdims=True), test_x.shape)
    base = scores(mean_input, test_x, data_range)
    return {**scores(pred, test_x, data_range), "epochs": epochs, "decoder": "mlp",
            "baseline": {"name": "mean training input", **base}}
