"""Each attack must recover a planted sensitive signal from synthetic features (so an attack
that reports chance on defended features is not silently broken), and must not invent one."""

from __future__ import annotations

import numpy as np
import pytest

from hybridsplit.privacy.attacks import DEFAULT_ATTACKS, attribute_inference, chance
from hybridsplit.privacy.rank import rank_measure
from hybridsplit.privacy.reconstruction import reconstruction_attack

K = 5


def planted(n: int, dims: int, signal: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Features whose first two dims carry the class (a nonlinear ring code), the rest noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, K, n)
    angle = 2 * np.pi * y / K
    x = rng.normal(size=(n, dims)).astype(np.float32)
    x[:, 0] += signal * np.cos(angle)
    x[:, 1] += signal * np.sin(angle)
    return x, y


@pytest.mark.parametrize("attack", DEFAULT_ATTACKS)
def test_attack_recovers_planted_signal(attack):
    xtr, ytr = planted(600, 8, 5.0, 0)
    xte, yte = planted(300, 8, 5.0, 1)
    res = attribute_inference(xtr, ytr, xte, yte, attacks=(attack,), seed=0, threads=1)
    assert res["attacks"][attack] > 0.8, res


@pytest.mark.parametrize("attack", DEFAULT_ATTACKS)
def test_attack_reports_chance_without_signal(attack):
    xtr, ytr = planted(600, 12, 0.0, 0)
    xte, yte = planted(300, 12, 0.0, 1)
    res = attribute_inference(xtr, ytr, xte, yte, attacks=(attack,), seed=0, threads=1)
    assert res["attacks"][attack] < 1 / K + 0.12, res


def test_best_and_chance():
    xtr, ytr = planted(400, 6, 3.0, 0)
    xte, yte = planted(200, 6, 3.0, 1)
    res = attribute_inference(xtr, ytr, xte, yte, attacks=("logreg", "knn"), threads=1)
    assert res["best_accuracy"] == max(res["attacks"].values())
    c = chance(ytr, yte, K)
    assert c["uniform"] == pytest.approx(0.2) and 0 < c["majority"] < 0.5


def test_rank_measure_identifies_with_little_noise_and_not_with_much():
    rng = np.random.default_rng(0)
    f = rng.normal(size=(300, 8))
    sharp = rank_measure(f, f + rng.normal(scale=0.01, size=f.shape), max_candidates=300)
    assert sharp["top1"] == 1.0 and sharp["mean_rank_over_n"] == pytest.approx(1 / 300)
    blurred = rank_measure(f, f + rng.normal(scale=30.0, size=f.shape), max_candidates=300)
    assert blurred["top1"] < 0.05 and 0.35 < blurred["mean_rank_over_n"] < 0.65


def test_rank_measure_counts_ties_half():
    f = np.zeros((10, 4))  # every candidate identical: no identification possible
    r = rank_measure(f, f.copy(), max_candidates=10)
    assert r["top1"] == 0.0 and r["mean_rank_over_n"] == pytest.approx(0.55)


def test_reconstruction_inverts_informative_features_only():
    rng = np.random.default_rng(0)
    t = np.linspace(0, 1, 20)
    amp, phase = rng.uniform(0.5, 2, (800, 2, 1)), rng.uniform(0, 6, (800, 2, 1))
    x = (amp * np.sin(6 * t + phase)).astype(np.float32)  # (N, 2, 20) windows
    informative = np.concatenate([amp, np.sin(phase), np.cos(phase)], axis=1)[..., 0].astype(np.float32)
    good = reconstruction_attack(informative[:600], x[:600], informative[600:], x[600:], epochs=40, threads=1)
    junk = rng.normal(size=informative.shape).astype(np.float32)
    bad = reconstruction_attack(junk[:600], x[:600], junk[600:], x[600:], epochs=40, threads=1)
    assert good["correlation"] > 0.8 and good["nmse"] < 0.3, good
    assert bad["nmse"] > 0.8 and abs(bad["correlation"]) < 0.3, bad


def test_reconstruction_survives_a_constant_feature_dim():
    """A dim constant on the training set but not on the test set once blew NMSE up to 1,232."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 2, 10)).astype(np.float32)
    f = np.concatenate([x.reshape(400, -1)[:, :4], np.zeros((400, 1))], axis=1).astype(np.float32)
    f[300:, 4] = 5.0  # constant 0 in training, 5 in test
    f[:300, 3] = 1e-7 * rng.normal(size=300)  # near-constant in training only
    f[300:, 3] = 1.0
    r = reconstruction_attack(f[:300], x[:300], f[300:], x[300:], epochs=5, threads=1)
    assert r["nmse"] < 2.0, r
    assert r["baseline"]["nmse"] == pytest.approx(((x[:300].mean(0) - x[300:]) ** 2).mean() / x[300:].var())


def test_image_reconstruction_reports_ssim_psnr_and_the_mean_image_baseline():
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:12, 0:12] / 12.0
    code = rng.uniform(0, 1, (500, 2)).astype(np.float32)
    imgs = (np.sin(6 * xx[None] * (1 + code[:, :1, None])) * np.cos(4 * yy[None] + 3 * code[:, 1:, None]))
    imgs = imgs[:, None].astype(np.float32)  # (N, 1, 12, 12): one grey channel
    good = reconstruction_attack(code[:400], imgs[:400], code[400:], imgs[400:], epochs=60, threads=1)
    assert {"ssim", "psnr"} <= set(good) and {"ssim", "psnr", "nmse"} <= set(good["baseline"])
    assert good["ssim"] > good["baseline"]["ssim"] + 0.2 and good["psnr"] > good["baseline"]["psnr"], good
