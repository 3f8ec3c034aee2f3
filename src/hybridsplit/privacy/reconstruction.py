"""Reconstruction attack: a decoder trained to invert features back to the input window.

An MLP decoder is trained on (features, input) pairs of the training windows and tested on the
test windows. Reported: normalised MSE (MSE / variance of the inputs; 1 = no better than the
mean) and the mean Pearson correlation between each reconstructed and true channel.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def make_decoder(in_features: int, out_shape: tuple[int, ...], hidden: int = 256) -> nn.Module:
    out = int(np.prod(out_shape))
    return nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                         nn.Linear(hidden, out), nn.Unflatten(1, tuple(out_shape)))


def _channel_correlation(pred: np.ndarray, true: np.ndarray) -> float:
    p = pred - pred.mean(-1, keepdims=True)
    t = true - true.mean(-1, keepdims=True)
    den = np.sqrt((p**2).sum(-1) * (t**2).sum(-1))
    ok = den > 1e-12
    return float(((p * t).sum(-1)[ok] / den[ok]).mean()) if ok.any() else 0.0


def reconstruction_attack(train_f: np.ndarray, train_x: np.ndarray, test_f: np.ndarray, test_x: np.ndarray,
                          epochs: int = 15, seed: int = 0, threads: int = 2) -> dict:
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    mu, sd = train_f.mean(0), train_f.std(0) + 1e-6
    ftr = torch.from_numpy(((train_f.reshape(len(train_f), -1) - mu.reshape(-1)) / sd.reshape(-1)).astype(np.float32))
    fte = torch.from_numpy(((test_f.reshape(len(test_f), -1) - mu.reshape(-1)) / sd.reshape(-1)).astype(np.float32))
    xtr = torch.from_numpy(train_x.astype(np.float32))
    dec = make_decoder(ftr.shape[1], tuple(train_x.shape[1:]))
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
    dec.eval()
    with torch.no_grad():
        pred = dec(fte).numpy()
    mse = float(((pred - test_x) ** 2).mean())
    return {"nmse": mse / float(test_x.var()), "correlation": _channel_correlation(pred, test_x), "epochs": epochs}
