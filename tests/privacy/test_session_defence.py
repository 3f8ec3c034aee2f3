"""The session defence (defence.session). Mean matching: the between-cell / class-mean scatter ratio against
an independent numpy computation (raw and whitened PCA space), 0 exactly when every class's cell means
coincide, scale-free; its gradient lowers the between-cell scatter; running means. Pooled adversary: each
window pooled with its session's recent windows (numpy), the reversed gradient's scale, training hides the
session offset. Recipe parsing and wiring into loss_terms."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from hybridsplit.defences.finetune import loss_terms
from hybridsplit.defences.pooled_adversary import PooledAdversarialTerm
from hybridsplit.defences.session_means import SessionMeanTerm, batch_mean_ratio
from hybridsplit.errors import RecipeError
from hybridsplit.recipe import load_recipe

RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "watch.toml"
SESSION_RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "watch_session_defended.toml"


def cells_batch(offset: float, seed: int = 0):
    """3 classes x 4 cells, 5 windows each; each cell's mean is shifted by `offset` times a cell direction."""
    rng = np.random.default_rng(seed)
    primary = np.repeat(np.arange(3), 20)
    cell = np.tile(np.repeat(np.arange(4), 5), 3)
    f = rng.normal(size=(60, 8)) + 3.0 * primary[:, None]
    for c in range(3):
        class_mean = f[primary == c].mean(0)
        for s in range(4):
            m = (primary == c) & (cell == s)
            f[m] -= f[m].mean(0) - class_mean  # every cell mean = its class mean
    f += offset * np.eye(8)[cell]
    return f, primary, cell


def numpy_ratio(f, primary, cell) -> float:
    """Between-cell scatter of the cell means within each class over the scatter of the class means."""
    between, classes = 0.0, 0.0
    overall = f.mean(0)
    for c in np.unique(primary):
        fc = f[primary == c]
        mc = fc.mean(0)
        classes += len(fc) * ((mc - overall) ** 2).sum()
        for s in np.unique(cell[primary == c]):
            fs = f[(primary == c) & (cell == s)]
            between += len(fs) * ((fs.mean(0) - mc) ** 2).sum()
    return between / classes


def ratio(f, primary, cell) -> torch.Tensor:
    return batch_mean_ratio(torch.as_tensor(f, dtype=torch.float32), torch.as_tensor(primary),
                            torch.as_tensor(cell), 3, 4)


def test_ratio_is_zero_when_cell_means_coincide_and_matches_numpy():
    f, primary, cell = cells_batch(0.0)
    assert abs(float(ratio(f, primary, cell))) < 1e-6
    f, primary, cell = cells_batch(1.5)
    value = float(ratio(f, primary, cell))
    assert value > 0.01
    assert value == pytest.approx(numpy_ratio(f, primary, cell), rel=1e-5)
    assert float(ratio(7.0 * f, primary, cell)) == pytest.approx(value, rel=1e-5)  # scale-free


def test_gradient_step_lowers_between_cell_scatter():
    f, primary, cell = cells_batch(1.5)
    x = torch.tensor(f, dtype=torch.float32, requires_grad=True)
    loss = ratio(x, primary, cell)
    loss.backward()
    stepped = (x - 0.5 * x.grad / x.grad.norm()).detach().numpy()
    assert numpy_ratio(stepped, primary, cell) < numpy_ratio(f, primary, cell)


def test_running_term_starts_at_the_batch_ratio_and_training_lowers_it():
    f, primary, cell = cells_batch(1.5)
    batch = {"primary": torch.as_tensor(primary), "group": torch.as_tensor(cell)}
    term = SessionMeanTerm(2.0, 3, 4, momentum=0.2, label="group")
    x = torch.tensor(f, dtype=torch.float32, requires_grad=True)
    first = term(x, None, batch)["session"]
    assert float(first.detach()) == pytest.approx(2.0 * float(ratio(f, primary, cell)), rel=1e-5)
    weight = torch.eye(8, requires_grad=True)  # a linear "device half" trained on the term alone
    opt = torch.optim.SGD([weight], lr=0.5)
    for step in range(60):
        idx = torch.as_tensor(np.random.default_rng(step).choice(60, 24, replace=False))  # partial batches
        sub = {k: v[idx] for k, v in batch.items()}
        loss = term(torch.as_tensor(f, dtype=torch.float32)[idx] @ weight, None, sub)["session"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    trained = f @ weight.detach().numpy()
    assert numpy_ratio(trained, primary, cell) < 0.5 * numpy_ratio(f, primary, cell)


def numpy_whitened_ratio(f, primary, cell, dims: int) -> float:
    c = f - f.mean(0)
    values, vectors = np.linalg.eigh(c.T @ c / len(f))
    z = c @ vectors[:, ::-1][:, :dims] / np.sqrt(values[::-1][:dims])  # numpy PCA, whitened components
    between = sum(((primary == k) & (cell == s)).sum() * ((z[(primary == k) & (cell == s)].mean(0)
                  - z[primary == k].mean(0)) ** 2).sum() for k in range(3) for s in range(4)) / len(z)
    return between / dims  # whitened: the total scatter of `dims` components is `dims`


def whitened_term_value(f, primary, cell, dims: int) -> float:
    term = SessionMeanTerm(1.0, 3, 4, label="group", dims=dims)
    batch = {"primary": torch.as_tensor(primary), "group": torch.as_tensor(cell)}
    return float(term(torch.as_tensor(f, dtype=torch.float32), None, batch)["session"])


def test_whitened_ratio_matches_numpy_pca_and_ignores_a_linear_map():
    f, primary, cell = cells_batch(1.5)
    f = f @ np.diag([20.0, 9.0, 5.0, 3.0, 2.0, 1.5, 1.2, 1.0])  # distinct spread: a clear principal subspace
    value = whitened_term_value(f, primary, cell, 3)
    assert value > 0.01
    assert value == pytest.approx(numpy_whitened_ratio(f, primary, cell, 3), rel=1e-3)
    full = whitened_term_value(f, primary, cell, 8)  # all components: invariant to any invertible affine map
    mixed = f @ np.random.default_rng(1).normal(size=(8, 8)) + 5.0
    assert whitened_term_value(mixed, primary, cell, 8) == pytest.approx(full, rel=1e-3)
    assert full == pytest.approx(numpy_whitened_ratio(f, primary, cell, 8), rel=1e-3)
    f, primary, cell = cells_batch(0.0)
    assert abs(whitened_term_value(f, primary, cell, 3)) < 1e-6


def test_session_recipe_section_and_loss_terms():
    r = load_recipe(RECIPE, ["defence.session.weight=2", "defence.session.kind=means", "defence.session.by=subject",
                             "defence.session.space=raw"])
    assert r.defence.active() == ["session"]
    assert r.defence.session.momentum == 0.05
    (term,) = loss_terms(r, 64, 10, num_primary=7, num_groups=140)
    assert isinstance(term, SessionMeanTerm) and term.label == "sensitive" and term.num_sensitive == 10
    assert term.dims is None
    r = load_recipe(RECIPE, ["defence.session.weight=2", "defence.session.kind=means", "defence.pca.dims=6",
                             "defence.session.space=pca"])
    (term,) = loss_terms(r, 64, 10, num_primary=7, num_groups=140)
    assert term.label == "group" and term.num_sensitive == 140 and term.dims == 6  # by = "session" is the default
    with pytest.raises(RecipeError, match="groups"):
        loss_terms(r, 64, 10, num_primary=7, num_groups=None)
    with pytest.raises(RecipeError, match="defence.pca.dims"):
        loss_terms(load_recipe(RECIPE, ["defence.session.weight=2", "defence.session.space=pca"]), 64, 10,
                   num_primary=7, num_groups=140)
    with pytest.raises(RecipeError, match="defence.session.by"):
        load_recipe(RECIPE, ["defence.session.by=window"])
    (term,) = loss_terms(load_recipe(RECIPE, ["defence.session.weight=2"]), 64, 10, num_primary=7, num_groups=140)
    assert isinstance(term, PooledAdversarialTerm) and term.k == 20  # kind "adversary", space "raw": the defaults
    assert term.whiten is None and term.noise == 0.0
    r = load_recipe(RECIPE, ["defence.session.weight=2", "defence.pca.dims=6", "defence.noise.std=0.4",
                             "defence.session.space=pca"])
    (term,) = loss_terms(r, 64, 10, num_primary=7, num_groups=140)
    assert term.whiten.dims == 6 and term.noise == 0.4  # space = "pca": what the device sends
    shipped = load_recipe(SESSION_RECIPE)
    assert shipped.defence.active() == ["siamese", "adversarial", "session", "pca", "noise"]
    terms = loss_terms(shipped, 64, 10, num_primary=7, num_groups=140)
    (pooled,) = [t for t in terms if isinstance(t, PooledAdversarialTerm)]
    assert pooled.k == shipped.defence.session.k == 20 and pooled.buffer.shape == (140, 19, 64)
    with pytest.raises(RecipeError, match="groups"):
        loss_terms(shipped, 64, 10, num_primary=7, num_groups=None)


def test_pooled_adversary_pools_each_window_with_its_sessions_recent_windows():
    rng = np.random.default_rng(0)
    term = PooledAdversarialTerm(4, 3, num_groups=2, weight=2.0, k=3)
    history = {0: [], 1: []}
    for _ in range(4):  # windows of sessions 0 and 1 arrive in batches
        groups = torch.as_tensor(rng.integers(0, 2, 5))
        f = torch.as_tensor(rng.normal(size=(5, 4)), dtype=torch.float32)
        expected = np.stack([(f[i].numpy() + sum(history[int(g)][-2:])) / (1 + len(history[int(g)][-2:]))
                             for i, g in enumerate(groups)])  # the window + up to k - 1 = 2 earlier ones
        np.testing.assert_allclose(term.pooled(f, groups).numpy(), expected, rtol=1e-5, atol=1e-6)
        term(f, None, {"group": groups, "sensitive": groups})
        for i, g in enumerate(groups.tolist()):
            history[g].append(f[i].numpy())


def test_pooled_adversary_reverses_its_gradient_scaled_by_weight_over_pooled_count():
    term = PooledAdversarialTerm(4, 2, num_groups=1, weight=3.0, k=2)
    groups = torch.zeros(1, dtype=torch.long)
    term(torch.ones(1, 4), None, {"group": groups, "sensitive": groups})  # one window buffered
    f = torch.randn(1, 4, requires_grad=True)
    term(f, None, {"group": groups, "sensitive": groups})["session"].backward()
    pooled = ((f.detach() + torch.ones(1, 4)) / 2).requires_grad_()
    nn.functional.cross_entropy(term.head(pooled), groups).backward()
    torch.testing.assert_close(f.grad, -3.0 * pooled.grad / 2)  # reversed, x weight, x 1/(windows pooled)


def test_pooled_adversary_training_hides_the_session_mean():
    """Sessions differ by a mean offset; the head learns it; the reversed gradient into a linear device
    half shrinks the offset's share in the pooled features (computed independently in numpy)."""
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(8), 30)
    subject = groups % 4
    x = rng.normal(size=(240, 6)) + 2.0 * np.eye(6)[subject]
    torch.manual_seed(0)
    device = nn.Linear(6, 6)
    term = PooledAdversarialTerm(6, 4, num_groups=8, weight=1.0, k=5, hidden=16)
    opt = torch.optim.Adam(list(device.parameters()) + list(term.head.parameters()), lr=1e-2)

    def offset_share() -> float:
        f = device(torch.as_tensor(x, dtype=torch.float32)).detach().numpy()
        means = np.stack([f[groups == g].mean(0) for g in range(8)])
        return float(((means - f.mean(0)) ** 2).sum() / ((f - f.mean(0)) ** 2).sum(1).mean() / 8)

    before = offset_share()
    xt, g_t, s_t = torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(groups), torch.as_tensor(subject)
    for step in range(300):
        idx = torch.as_tensor(np.random.default_rng(step).choice(240, 32, replace=False))
        loss = term(device(xt[idx]), None, {"group": g_t[idx], "sensitive": s_t[idx]})["session"]
        loss = loss + 0.1 * device(xt[idx]).pow(2).mean().sub(1).pow(2)  # keep the features' scale
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert offset_share() < 0.8 * before  # seeded: 0.418 -> 0.308


def test_pooled_adversary_in_pca_space_sees_whitened_components_and_averaged_noise():
    rng = np.random.default_rng(0)
    f = rng.normal(size=(400, 5)) @ np.diag([5.0, 3.0, 1.0, 0.5, 0.1])
    groups = torch.zeros(400, dtype=torch.long)
    quiet = PooledAdversarialTerm(5, 2, num_groups=1, weight=1.0, k=1, dims=2)
    z = quiet.sent(torch.as_tensor(f, dtype=torch.float32), torch.as_tensor(f, dtype=torch.float32), groups)
    c = f - f.mean(0)
    values, vectors = np.linalg.eigh(c.T @ c / len(f))
    expected = c @ vectors[:, ::-1][:, :2] / np.sqrt(values[::-1][:2])  # numpy PCA, 2 whitened components
    np.testing.assert_allclose(np.abs(z.numpy()), np.abs(expected), rtol=1e-3, atol=1e-3)  # up to sign
    noisy = PooledAdversarialTerm(5, 2, num_groups=1, weight=1.0, k=4, dims=2, noise=0.8)
    noisy.filled[0] = 10  # every window pooled with 3 buffered ones: noise 0.8 / sqrt(4)
    x = torch.zeros(400, 5)
    x[:, 0] = torch.as_tensor(rng.normal(size=400), dtype=torch.float32)
    x[:, 1] = torch.as_tensor(rng.normal(size=400), dtype=torch.float32)
    torch.manual_seed(0)
    sent = noisy.sent(x, torch.zeros(400, 5), groups)  # pooled = 0: only centring and noise remain
    assert float((sent - sent.mean(0)).std()) == pytest.approx(0.4, rel=0.1)


@pytest.mark.slow
def test_defend_with_the_pooled_adversary_on_watch_data_records_the_session_defence():
    from hybridsplit.data import build_data
    from hybridsplit.defences.finetune import defend
    from hybridsplit.recipe import recipe_from_dict
    from hybridsplit.train import train

    raw = {"name": "session-smoke", "model": {"width": 8}, "train": {"epochs": 1, "threads": 1}}
    r = recipe_from_dict(raw)
    data = build_data(r.data, r.seed)
    _, ckpt = train(r, data, show_progress=False)
    defence = {"epochs": 1, "cloud_epochs": 1, "pool": True, "session": {"weight": 20.0, "k": 5},
               "pca": {"dims": 4}, "noise": {"std": 0.4}}
    d = defend(ckpt, recipe_from_dict({**raw, "defence": defence}), data, show_progress=False)
    assert d.extra["defence"]["methods"] == ["session", "pca", "noise"]
    (epoch,) = d.metrics["finetune"]
    assert np.isfinite(epoch["session"]) and epoch["session"] > 0  # the head's cross-entropy on pooled windows
    assert 0.0 <= d.metrics["test_accuracy"] <= 1.0
