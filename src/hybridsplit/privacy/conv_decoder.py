"""Image reconstruction by a convolutional decoder trained on other people's images.

The attacker holds public data: images of people who are not the victims, run through the same
device half. Identities (the sensitive label: on faces, the person) are split by the seed into the
attacker's people and the victims (`identity_split`); no person is on both sides. A decoder (a
linear layer to a small feature map, three transposed-conv upsamplings, a 3x3 conv) learns
features -> image on the attacker's people (starting from their mean image; the epoch kept is
the one that reconstructs a held-out fifth of the attacker's people best) and reconstructs the
victims' images from their features. Scored by SSIM and PSNR on the pixel scale [0, 1] (`image_quality`), NMSE and
correlation, beside the mean-image baseline: the mean image of the attacker's people, which knows
nothing of the victim (on generated faces the mean face alone scores SSIM ~0.3). A reconstruction
is only one where it beats that baseline.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch
from torch import nn

from hybridsplit.privacy.reconstruction import scores
from hybridsplit.privacy.scaling import standardise

UPSAMPLINGS = 3
ATTACKER_SHARE = 0.5
"""Share of the identities given to the attacker (its public data); the rest are the victims."""
VALIDATION_SHARE = 0.2
"""Share of the attacker's identities it holds out to pick the decoder's epoch."""


def identity_split(ids: np.ndarray, seed: int, share: float = ATTACKER_SHARE) -> tuple[np.ndarray, np.ndarray]:
    """Index arrays (attacker, victims): the identities split by the seed, none on both sides."""
    people = np.unique(ids)
    if len(people) < 2:
        raise ValueError(f"identity_split: need at least 2 identities, got {len(people)}")
    perm = np.random.default_rng(seed).permutation(people)
    n = min(len(people) - 1, max(1, int(round(share * len(people)))))
    mine = np.isin(ids, perm[:n])
    return np.flatnonzero(mine), np.flatnonzero(~mine)


class ConvDecoder(nn.Module):
    """features (N, F) -> images (N, C, H, W): the mean image plus Linear to (width, h0, w0), 3 x (ConvTranspose
    2x, BN, ReLU), conv. The last conv starts at zero, so an untrained decoder is the mean-image baseline."""

    def __init__(self, in_features: int, mean_image: np.ndarray, width: int = 64):
        super().__init__()
        c, h, w = mean_image.shape
        f = 2**UPSAMPLINGS
        self.register_buffer("mean", torch.from_numpy(mean_image.astype(np.float32))[None])
        self.start = (width, math.ceil(h / f), math.ceil(w / f))
        self.fc = nn.Linear(in_features, int(np.prod(self.start)))
        layers: list[nn.Module] = []
        ch = width
        for _ in range(UPSAMPLINGS):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, stride=2, padding=1), nn.BatchNorm2d(ch // 2), nn.ReLU()]
            ch //= 2
        last = nn.Conv2d(ch, c, 3, padding=1)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.up = nn.Sequential(*layers, last)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        y = self.up(torch.relu(self.fc(f)).view(len(f), *self.start))
        return self.mean + y[:, :, : self.mean.shape[2], : self.mean.shape[3]]


def _mse(dec: nn.Module, f: torch.Tensor, x: torch.Tensor) -> float:
    dec.eval()
    with torch.no_grad():
        return float(nn.functional.mse_loss(dec(f), x))


def train_conv_decoder(f: np.ndarray, x: np.ndarray, ids: np.ndarray, epochs: int, seed: int, batch: int = 32,
                       lr: float = 2e-3) -> tuple[ConvDecoder, int]:
    """Fit on most of the attacker's people; keep the epoch (0 = the mean image) that reconstructs its held-out
    people best, so a decoder that only memorises its training faces falls back towards the mean."""
    torch.manual_seed(seed)
    if len(np.unique(ids)) >= 4:
        val, fit = identity_split(ids, seed + 1, VALIDATION_SHARE)
    else:  # too few people to hold any out: pick the epoch on the fitted images themselves
        val = fit = np.arange(len(f))
    ft, xt = torch.from_numpy(f.astype(np.float32)), torch.from_numpy(x.astype(np.float32))
    dec = ConvDecoder(ft.shape[1], x[fit].mean(0))
    opt = torch.optim.Adam(dec.parameters(), lr=lr, weight_decay=1e-5)
    gen = torch.Generator().manual_seed(seed)
    fit_t = torch.from_numpy(fit)
    best, best_epoch, best_state = _mse(dec, ft[val], xt[val]), 0, copy.deepcopy(dec.state_dict())
    for epoch in range(1, epochs + 1):
        dec.train()
        perm = fit_t[torch.randperm(len(fit_t), generator=gen)]
        for i in range(0, len(perm), batch):
            b = perm[i : i + batch]
            if len(b) < 2:  # BatchNorm needs two samples
                continue
            loss = nn.functional.mse_loss(dec(ft[b]), xt[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
        err = _mse(dec, ft[val], xt[val])
        if err < best:
            best, best_epoch, best_state = err, epoch, copy.deepcopy(dec.state_dict())
    dec.load_state_dict(best_state)
    return dec.eval(), best_epoch


def conv_reconstruction_attack(features: np.ndarray, images: np.ndarray, ids: np.ndarray, epochs: int = 15,
                               seed: int = 0, threads: int = 2) -> dict:
    """Decoder trained on the attacker's people, scored on the victims; images (N, C, H, W) in [0, 1]."""
    if images.ndim != 4:
        raise ValueError(f"conv_reconstruction_attack: images must be (N, C, H, W), got shape {images.shape}")
    torch.set_num_threads(threads)
    att, vic = identity_split(ids, seed)
    ftr, fte = standardise(features[att], features[vic])
    dec, best_epoch = train_conv_decoder(ftr, images[att], ids[att], epochs, seed)
    with torch.no_grad():
        pred = np.clip(dec(torch.from_numpy(fte.astype(np.float32))).numpy(), 0.0, 1.0)
    mean_image = np.broadcast_to(images[att].mean(0, keepdims=True), images[vic].shape)
    return {**scores(pred, images[vic], 1.0), "epochs": epochs, "best_epoch": best_epoch, "decoder": "conv",
            "split": "disjoint identities", "attacker_identities": int(len(np.unique(ids[att]))),
            "victim_identities": int(len(np.unique(ids[vic]))), "attacker_images": int(len(att)),
            "victim_images": int(len(vic)),
            "baseline": {"name": "mean image of the attacker's people", **scores(mean_image, images[vic], 1.0)}}
