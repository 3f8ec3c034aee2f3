"""The conv decoder attack: trained on one set of people, scored on the others. Features that are the
image itself reconstruct it (SSIM near 1, far above the mean image); noise features learn nothing, and
the decoder stays at the mean-image baseline. Baselines computed here, independently of the attack."""

from __future__ import annotations

import numpy as np
import pytest

from hybridsplit.privacy.conv_decoder import conv_reconstruction_attack, identity_split
from hybridsplit.privacy.image_quality import ssim


def _discs(n: int = 480, size: int = 16, seed: int = 0) -> np.ndarray:
    """Soft discs of random centre, radius and brightness on black: (n, 1, size, size) in [0, 1]."""
    rng = np.random.default_rng(seed)
    t = np.linspace(-1, 1, size)
    gx, gy = np.meshgrid(t, t)
    c, r, v = rng.uniform(-0.5, 0.5, (n, 2)), rng.uniform(0.25, 0.5, n), rng.uniform(0.4, 1, n)
    d = np.hypot(gx - c[:, 0, None, None], gy - c[:, 1, None, None])
    return (v[:, None, None] / (1 + np.exp(-(r[:, None, None] - d) / 0.08)))[:, None]


def test_identity_split_keeps_people_apart():
    ids = np.repeat(np.arange(9), 5)
    att, vic = identity_split(ids, seed=2)
    assert len(att) + len(vic) == len(ids) and not set(ids[att]) & set(ids[vic])
    assert len(np.unique(ids[att])) in (4, 5) and len(np.unique(ids[vic])) in (4, 5)
    a2, _ = identity_split(ids, seed=2)
    assert np.array_equal(att, a2)


def test_decoder_inverts_the_image_itself_and_beats_the_mean_image():
    x = _discs()
    ids = np.repeat(np.arange(24), 20)
    r = conv_reconstruction_attack(x.reshape(len(x), -1), x, ids, epochs=30, seed=0, threads=1)
    att, vic = identity_split(ids, 0)
    mean_ssim = ssim(np.broadcast_to(x[att].mean(0), x[vic].shape), x[vic], 1.0)
    assert r["baseline"]["ssim"] == pytest.approx(mean_ssim)
    assert r["ssim"] > 0.9 and mean_ssim < 0.5
    assert r["psnr"] > r["baseline"]["psnr"] + 10
    assert r["split"] == "disjoint identities" and r["attacker_identities"] == r["victim_identities"] == 12


def test_noise_features_stay_at_the_mean_image_baseline():
    x = _discs(n=240)
    ids = np.repeat(np.arange(12), 20)
    noise = np.random.default_rng(1).normal(size=(len(x), 64))
    r = conv_reconstruction_attack(noise, x, ids, epochs=10, seed=0, threads=1)
    assert abs(r["ssim"] - r["baseline"]["ssim"]) < 0.03
    assert abs(r["psnr"] - r["baseline"]["psnr"]) < 0.5
