"""`defend`: an undefended run -> a defended run (fine-tune, fit PCA, re-train the cloud on noise).

1. Fine-tune the whole network from the undefended weights with the recipe's defence losses
   (siamese / adversarial / nopeek / session) on the device-half features at the cut.
2. Fit PCA (or DCA, `defence.pca.method`) on training features of the fine-tuned device half (if
   `defence.pca.dims`).
3. Re-train the cloud half (device frozen) on projected training features with the run-time
   noise added, so the cloud half expects what the device will send.
The checkpoint carries the deployed-defence state in `extra["defence"]`.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import torch
from torch import nn

from hybridsplit.batchnorm import recompute_batchnorm, stale_notice
from hybridsplit.bundle.preprocess import add_noise
from hybridsplit.checkpoint import Checkpoint
from hybridsplit.data import Dataset
from hybridsplit.defences import apply_defences
from hybridsplit.defences.adversarial import AdversarialTerm
from hybridsplit.defences.fit_check import check_defences_fit, feature_spread
from hybridsplit.defences.noise import add_noise_torch
from hybridsplit.defences.nopeek import NoPeekTerm
from hybridsplit.defences.pca import fit_projection
from hybridsplit.defences.pooled_adversary import PooledAdversarialTerm
from hybridsplit.defences.session_means import SessionMeanTerm
from hybridsplit.defences.siamese import SiameseTerm
from hybridsplit.errors import RecipeError
from hybridsplit.models import SplitModel, split_model
from hybridsplit.recipe import Recipe
from hybridsplit.train import accuracy, fit, load_model, predict, seed_everything


class CombinedTerms:
    """Several feature loss terms as one (their named values are logged separately)."""

    def __init__(self, terms: list, pool: bool = False):
        self.terms, self.pool = terms, pool

    def __call__(self, features, x, batch):
        if self.pool and features.ndim > 2:  # what a cloud half starting with global average pooling sees
            features = features.flatten(2).mean(-1)
        out = {}
        for term in self.terms:
            out.update(term(features, x, batch))
        return out


def loss_terms(recipe: Recipe, feature_numel: int, num_sensitive: int, margin: float | None = None,
               num_primary: int | None = None, num_groups: int | None = None) -> list:
    d = recipe.defence
    terms: list = []
    if d.siamese.weight > 0:
        terms.append(SiameseTerm(d.siamese.weight, d.siamese.margin if margin is None else margin))
    if d.adversarial.weight > 0:
        terms.append(AdversarialTerm(feature_numel, num_sensitive, d.adversarial.weight, d.adversarial.hidden))
    if d.nopeek.weight > 0:
        terms.append(NoPeekTerm(d.nopeek.weight))
    if d.session.weight > 0:
        terms.append(session_term(recipe, feature_numel, num_sensitive, num_primary, num_groups))
    return terms


def session_term(recipe: Recipe, feature_numel: int, num_sensitive: int, num_primary: int | None,
                 num_groups: int | None):
    """defence.session's loss term: running cell means matched within each class, or a pooled adversary."""
    c, pca_dims = recipe.defence.session, recipe.defence.pca.dims
    by_session = c.by == "session" or c.kind == "adversary"
    if num_primary is None or (by_session and not num_groups):
        raise RecipeError("defence.session needs the primary classes and, with by = \"session\" or kind = "
                          "\"adversary\", the data's sessions (groups); set defence.session.by = \"subject\" "
                          "for data without them")
    if c.space == "pca" and not pca_dims:
        raise RecipeError("defence.session.space = \"pca\" measures in the PCA subspace: set defence.pca.dims, "
                          "or defence.session.space = \"raw\"")
    if c.kind == "adversary":
        pca = c.space == "pca"
        return PooledAdversarialTerm(feature_numel, num_sensitive, num_groups, c.weight, c.k, c.hidden,
                                     dims=pca_dims if pca else None, noise=recipe.defence.noise.std if pca else 0.0)
    return SessionMeanTerm(c.weight, num_primary, num_groups if by_session else num_sensitive, c.momentum,
                           "group" if by_session else "sensitive", pca_dims if c.space == "pca" else None)


def check_compatible(base: Recipe, recipe: Recipe) -> None:
    for section in ("data", "model"):
        if getattr(base, section) != getattr(recipe, section):
            raise RecipeError(f"The defence recipe's [{section}] differs from the undefended run's; "
                              f"defend a run trained with the same [{section}] settings")


def train_cloud_on_noise(split: SplitModel, data: Dataset, recipe: Recipe, noise: float) -> list[dict]:
    """Re-train the (deployed) cloud half on fixed device features with fresh noise each step."""
    d, cfg = recipe.defence, recipe.train
    features = torch.from_numpy(predict(split.device, data.train.x))
    labels = torch.from_numpy(data.train.primary)
    params = [p for p in split.cloud.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=d.lr, weight_decay=cfg.weight_decay)
    # annealed to 0 over the re-training, so the last epoch's weights are a settled point: at a constant lr
    # the faces' DCA cloud ended anywhere between 0.958 and 0.993 over three seeds (epochs swung 0.93-0.99)
    steps = max(d.cloud_epochs * (len(features) // cfg.batch_size), 1)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    gen = torch.Generator().manual_seed(recipe.seed + 1)
    rng = np.random.default_rng(recipe.seed + 2)
    test_features = predict(split.device, data.test.x)
    logs = []
    stale = stale_notice(split.cloud, d.cloud_epochs * (len(features) // cfg.batch_size)) is not None
    for epoch in range(d.cloud_epochs):
        split.cloud.train()
        perm = torch.randperm(len(features), generator=gen)
        for i in range(0, len(perm) - cfg.batch_size + 1, cfg.batch_size):
            idx = perm[i : i + cfg.batch_size]
            logits = split.cloud(add_noise_torch(features[idx], noise, gen))
            loss = nn.functional.cross_entropy(logits, labels[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        if stale:  # the cloud half's BatchNorm statistics, on the noisy features it now receives
            recompute_batchnorm(split.cloud, add_noise_torch(features, noise, gen), cfg.batch_size)
        split.cloud.eval()
        acc = accuracy(predict(split.cloud, add_noise(test_features, noise, rng)), data.test.primary)
        logs.append({"epoch": epoch + 1, "test_accuracy_noisy": acc})
    return logs


def raw_units(recipe: Recipe, split: SplitModel, x_train: np.ndarray) -> dict:
    """The Siamese margin and noise σ in feature units (defence.units: raw as given, or x spread)."""
    d = recipe.defence
    if d.units == "raw":
        return {"units": "raw", "siamese_margin": d.siamese.margin, "noise_std": float(d.noise.std)}
    spread = feature_spread(split, x_train, d.pool)
    noise_unit = 1.0 if d.pca.dims else spread["value"]  # PCA output is whitened: unit std per component
    return {"units": "spread", "spread": spread, "siamese_margin": d.siamese.margin * spread["sample"],
            "noise_std": float(d.noise.std) * noise_unit}


def require_active(recipe: Recipe) -> None:
    if not recipe.defence.active():
        raise RecipeError("The recipe's [defence] switches nothing on; set e.g. defence.siamese.weight, "
                          "defence.adversarial.weight, defence.pca.dims or defence.noise.std")


def defend(base: Checkpoint, recipe: Recipe, data: Dataset, show_progress: bool = True,
           seed: int | None = None) -> Checkpoint:
    """Fine-tune `base` (an undefended checkpoint) with `recipe.defence`; returns the defended checkpoint.

    `seed` seeds the fine-tune alone (weights of the heads, batch order, noise draws), default `recipe.seed`;
    the recipe's seed, which also chooses the data split, is kept as it is in the checkpoint."""
    check_compatible(base.recipe, recipe)
    require_active(recipe)
    d = recipe.defence
    stored, recipe = recipe, recipe if seed is None else recipe.model_copy(update={"seed": seed})
    seed_everything(recipe.seed)
    model = load_model(base)
    split = split_model(model, recipe.model.cut)
    check_defences_fit(recipe, split, data.train.x, len(data.primary_names))  # before any training: refuse what cannot work
    units = raw_units(recipe, split, data.train.x)
    shape = split.feature_shape
    numel = int(shape[0]) if d.pool and len(shape) > 1 else int(np.prod(shape))
    group = data.train.group  # sessions: only where some group holds more than one training window
    groups = int(group.max()) + 1 if group is not None and len(np.unique(group)) < len(group) else None
    terms = loss_terms(recipe, numel, len(data.sensitive_names), units["siamese_margin"], len(data.primary_names),
                       groups)
    metrics: dict = {"defences": d.active(), "data": data.summary(), "units": units, "finetune_seed": recipe.seed}
    if terms and d.epochs > 0:
        heads = tuple(t.head for t in terms if hasattr(t, "head"))
        metrics["finetune"] = fit(model, data, recipe, epochs=d.epochs, lr=d.lr, cut=recipe.model.cut,
                                  feature_loss=CombinedTerms(terms, d.pool), extra_modules=heads,
                                  show_progress=show_progress, description="defend")
    noise = units["noise_std"]
    state: dict = {"methods": d.active(), "noise": noise, "pca_dims": None}
    if d.pca.dims:
        split = split_model(model, recipe.model.cut)
        pca, kept = fit_projection(predict(split.device, data.train.x), data.train.primary, d.pca.dims,
                                   d.pca.method, d.pca.ridge, pool=d.pool)
        state["pca"], state["pca_dims"] = pca.to_dict(), pca.dims
        metrics["pca_variance_kept"] = kept
    deployed = apply_defences(split_model(model, recipe.model.cut), state)
    if d.cloud_epochs > 0 and (d.pca.dims or noise > 0):
        metrics["cloud"] = train_cloud_on_noise(deployed, data, recipe, noise)
    rng = np.random.default_rng(recipe.seed)
    test_features = predict(deployed.device, data.test.x)
    metrics["test_accuracy"] = accuracy(predict(deployed.cloud, test_features), data.test.primary)
    metrics["test_accuracy_noisy"] = accuracy(predict(deployed.cloud, add_noise(test_features, noise, rng)),
                                              data.test.primary)
    metrics["base_test_accuracy"] = base.metrics.get("test_accuracy")
    full = OrderedDict(model.state_dict())
    return Checkpoint(stored, full, data.input_shape, data.primary_names, data.sensitive_names, metrics,
                      extra={"defence": state})
