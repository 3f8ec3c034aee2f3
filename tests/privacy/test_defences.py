"""Each defence lowers its own loss on a small batch; PCA folded into the graph equals the
torch projection; noise is added only at run time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from hybridsplit.bundle.preprocess import add_noise
from hybridsplit.defences import apply_defences, feature_defence_info
from hybridsplit.defences.adversarial import AdversarialTerm, grad_reverse
from hybridsplit.defences.nopeek import NoPeekTerm, distance_correlation
from hybridsplit.defences.pca import PCAState, fit_dca, fit_pca
from hybridsplit.defences.siamese import SiameseTerm, contrastive_loss
from hybridsplit.errors import RecipeError
from hybridsplit.models import create_backbone, split_model
from hybridsplit.recipe import load_recipe

RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "watch.toml"


def small_batch(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(32, 6, 40, generator=g)
    primary = torch.arange(32) % 4
    sensitive = (torch.arange(32) // 4) % 3
    x[:, 0] += primary[:, None].float()  # both labels are visible in the input
    x[:, 1] += sensitive[:, None].float()
    return x, {"primary": primary, "sensitive": sensitive}


def encoder() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv1d(6, 8, 5, padding=2), nn.ReLU(), nn.AdaptiveAvgPool1d(4))


def run_steps(enc: nn.Module, term, x, batch, steps: int = 30, lr: float = 1e-2, extra=()) -> list[float]:
    params = list(enc.parameters()) + [p for m in extra for p in m.parameters()]
    opt = torch.optim.Adam(params, lr=lr)
    values = []
    for _ in range(steps):
        loss = sum(term(enc(x), x, batch).values())
        values.append(float(loss.detach()))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return values


def test_siamese_loss_decreases():
    x, batch = small_batch()
    values = run_steps(encoder(), SiameseTerm(1.0, margin=2.0), x, batch)
    assert values[-1] < 0.5 * values[0]


def test_contrastive_loss_values():
    f = torch.tensor([[0.0, 0.0], [0.0, 0.0], [3.0, 4.0]])
    y = torch.tensor([0, 0, 1])
    # same pair at distance 0; different pairs at distance 5 >= margin 5 -> zero loss
    assert float(contrastive_loss(f, y, margin=5.0)) == pytest.approx(0.0)
    # margin 7: each different pair pays (7-5)^2 = 4 -> mean 4, halved 2
    assert float(contrastive_loss(f, y, margin=7.0)) == pytest.approx(2.0)


def test_grad_reverse_flips_and_scales_gradient():
    a = torch.randn(5, requires_grad=True)
    (grad_reverse(a, 0.3) * torch.arange(5.0)).sum().backward()
    assert torch.allclose(a.grad, -0.3 * torch.arange(5.0))


def test_adversarial_defence_raises_the_heads_loss():
    """Training the encoder through the reversed gradient (head fixed) makes the sensitive head worse."""
    x, batch = small_batch()
    enc = encoder()
    term = AdversarialTerm(32, 3, weight=1.0, hidden=16)
    run_steps(enc, term, x, batch, steps=60, extra=(term.head,))  # head learns while encoder fights it
    term.head.requires_grad_(False)

    def head_loss():
        with torch.no_grad():
            return float(nn.functional.cross_entropy(term.head(enc(x)), batch["sensitive"]))

    before = head_loss()
    opt = torch.optim.Adam(enc.parameters(), lr=1e-2)
    for _ in range(20):
        loss = sum(term(enc(x), x, batch).values())
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert head_loss() > before + 0.1


def test_nopeek_lowers_distance_correlation():
    x, batch = small_batch()
    values = run_steps(encoder(), NoPeekTerm(1.0), x, batch, steps=40)
    assert values[-1] < values[0] - 0.05
    z = torch.randn(64, 3)
    assert float(distance_correlation(z, 2 * z + 1)) == pytest.approx(1.0, abs=1e-4)


def test_pca_folded_into_graph_equals_torch_projection():
    model = create_backbone("imu_cnn", 7, (6, 100), width=8).eval()
    split = split_model(model, "block3")
    x = torch.randn(200, 6, 100)
    with torch.no_grad():
        feats = split.device(x).numpy()
    state, kept = fit_pca(feats, 5)
    assert 0 < kept <= 1
    deployed = apply_defences(split, {"pca": state.to_dict(), "pca_dims": 5, "noise": 0.3})
    assert deployed.feature_shape == (5,)
    with torch.no_grad():
        z = deployed.device(x).numpy()
        back = deployed.cloud[0](torch.from_numpy(z)).numpy()
        logits = deployed.cloud(torch.from_numpy(z)).numpy()
        full = deployed.full(x).numpy()
    np.testing.assert_allclose(z, state.project(feats), atol=1e-4)
    assert np.allclose(z.std(0), 1.0, atol=0.05)  # whitened on the data it was fitted on
    assert back.shape == feats.shape
    np.testing.assert_allclose(logits, full, atol=1e-5)  # full == cloud'(device'(x))
    # the back-projection is the orthogonal projection onto the kept subspace
    c = state.components.numpy()
    flat = feats.reshape(len(feats), -1)
    expected = (flat - state.mean.numpy()) @ c.T @ c + state.mean.numpy()
    np.testing.assert_allclose(back.reshape(len(back), -1), expected, atol=1e-3)
    assert feature_defence_info({"methods": ["pca", "noise"], "pca_dims": 5, "noise": 0.3}) == {
        "defences": ["pca", "noise"], "pca_dims": 5, "noise": 0.3}
    assert feature_defence_info(None)["defences"] == []  # an undefended run


def test_pca_state_roundtrips_through_weights_only_load(tmp_path):
    state, _ = fit_pca(np.random.default_rng(0).normal(size=(50, 4, 3)).astype(np.float32), 3)
    torch.save({"defence": {"pca": state.to_dict()}}, tmp_path / "s.pt")
    back = PCAState.from_dict(torch.load(tmp_path / "s.pt", weights_only=True)["defence"]["pca"])
    assert back.feature_shape == (4, 3) and torch.equal(back.components, state.components)


def test_pca_dims_too_large_is_a_recipe_error():
    with pytest.raises(RecipeError, match="pca.dims"):
        fit_pca(np.zeros((10, 4), np.float32), 8)


def _identities_and_a_class_axis(n: int, d: int, seed: int = 0):
    """Features where identity (20 people) dominates the variance on axes 0-3 and the primary class sits on
    axis 7 alone, at +-1 with sd 0.2: PCA's top direction is an identity axis, the class axis is DCA's."""
    rng = np.random.default_rng(seed)
    person = rng.integers(20, size=n)
    offsets = rng.normal(0, 5, (20, d))
    offsets[:, 4:] = 0
    y = rng.integers(2, size=n)
    f = offsets[person] + rng.normal(0, 0.2, (n, d))
    f[:, 7] += 2 * y - 1
    return f.astype(np.float32), y, person


@pytest.mark.parametrize("n,d", [(400, 20), (60, 300)])  # more samples than values, and fewer (the span solve)
def test_dca_finds_the_class_axis_that_pca_misses(n, d):
    from sklearn.neighbors import KNeighborsClassifier

    f, y, person = _identities_and_a_class_axis(n, d)
    pca, _ = fit_pca(f, 1)
    dca, kept = fit_dca(f, y, 1, ridge=1.0)
    axis = np.eye(d)[7]
    assert abs(float(pca.components[0].numpy() @ axis)) < 0.1  # PCA keeps a direction of identity
    # two classes: the ridge Fisher direction in closed form, (S_t + rho I)^-1 (mu_1 - mu_0)
    c = f.astype(np.float64) - f.mean(0)
    total = c.T @ c
    w = np.linalg.solve(total + np.trace(total) / d * np.eye(d), c[y == 1].mean(0) - c[y == 0].mean(0))
    w /= np.linalg.norm(w)
    assert abs(float(dca.components[0].numpy().astype(np.float64) @ w)) > 0.999
    # 60 samples in 300 values: the closed form itself strays from the axis (over-fitted), not DCA's solve
    assert abs(float(dca.components[0].numpy() @ axis)) > (0.99 if n > d else 0.8) and 0 < kept < 0.1
    z = dca.project(f)[:, 0]
    assert np.std(z) == pytest.approx(1.0, abs=0.02)  # whitened like PCA: the noise σ keeps its unit
    assert ((z > 0) == (y == (1 if np.mean(z[y == 1]) > 0 else 0))).mean() > 0.98
    half = n // 2
    who = KNeighborsClassifier(5).fit(z[:half, None], person[:half]).score(z[half:, None], person[half:])
    assert who < 0.2  # 20 people; from the PCA direction the same attacker names most of them
    zp = pca.project(f)
    assert KNeighborsClassifier(5).fit(zp[:half], person[:half]).score(zp[half:], person[half:]) > who + 0.2


def test_dca_dims_beyond_classes_minus_one_are_refused():
    f, y, _ = _identities_and_a_class_axis(100, 10)
    with pytest.raises(RecipeError, match="at most 1 discriminant"):
        fit_dca(f, y, 2)


def test_noise_is_gaussian_with_the_given_std():
    rng = np.random.default_rng(0)
    f = np.zeros((20000, 4), np.float32)
    n = add_noise(f, 0.5, rng)
    assert n.dtype == np.float32 and abs(n.std() - 0.5) < 0.01
    assert add_noise(f, 0.0, rng) is f


def test_defence_recipe_section(tmp_path):
    r = load_recipe(RECIPE, ["defence.siamese.weight=0.1", "defence.pca.dims=6", "defence.noise.std=0.5"])
    assert r.defence.active() == ["siamese", "pca", "noise"]
    assert load_recipe(RECIPE).defence.active() == []
    with pytest.raises(RecipeError, match="defence.siamese.wieght"):
        load_recipe(RECIPE, ["defence.siamese.wieght=0.1"])
    with pytest.raises(RecipeError, match="defence.noise.std"):
        load_recipe(RECIPE, ["defence.noise.std=-1"])


def test_pooled_pca_folded_into_graph_equals_torch_projection():
    model = create_backbone("imu_cnn", 7, (6, 100), width=8).eval()
    split = split_model(model, "block3")
    x = torch.randn(200, 6, 100)
    with torch.no_grad():
        feats = split.device(x).numpy()
    state, _ = fit_pca(feats, 4, pool=True)
    assert state.pool and state.components.shape == (4, feats.shape[1])
    deployed = apply_defences(split, {"pca": state.to_dict(), "pca_dims": 4})
    with torch.no_grad():
        z = deployed.device(x).numpy()
        back = deployed.cloud[0](torch.from_numpy(z)).numpy()
        logits = deployed.cloud(torch.from_numpy(z)).numpy()
    np.testing.assert_allclose(z, state.project(feats), atol=1e-4)
    c, mean = state.components.numpy(), state.mean.numpy()
    pooled = feats.mean(-1)
    expected = (pooled - mean) @ c.T @ c + mean  # projection of the time-averaged features ...
    np.testing.assert_allclose(back, np.repeat(expected[:, :, None], feats.shape[-1], axis=2), atol=1e-3)  # ... broadcast
    with torch.no_grad():  # imu_cnn's cloud pools first, so it sees exactly the projected average
        ref = split.cloud(torch.from_numpy(np.repeat(expected[:, :, None], feats.shape[-1], axis=2))).numpy()
    np.testing.assert_allclose(logits, ref, atol=1e-4)


def test_folded_split_keeps_eval_mode():
    model = create_backbone("imu_cnn", 7, (6, 100), width=8).eval()
    split = split_model(model, "block3")
    with torch.no_grad():
        feats = split.device(torch.randn(40, 6, 100)).numpy()
    state, _ = fit_pca(feats, 3)
    deployed = apply_defences(split, {"pca": state.to_dict(), "pca_dims": 3})
    assert not deployed.full.training and not deployed.device.training and not deployed.cloud.training
