"""Before any fine-tuning: refuse a defence combination that cannot work on this split, and
measure the features' own spread (the unit of the Siamese margin and the noise σ when
`defence.units = "spread"`).

What is refused, each in one line:
- `defence.pca.dims` larger than the features (pooled: their channels) or the training set, or, with
  `method = "dca"`, than the primary classes - 1;
- `defence.pool = true` when the cloud half does not begin with a global average pool (pooled
  PCA broadcasts the average back, exact only then): measured, not guessed from module names;
- a deployed split (PCA folded into the graphs) whose halves cannot run or train, tried on two
  training samples with a stand-in PCA of the right size.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from hybridsplit.errors import RecipeError
from hybridsplit.models import SplitModel
from hybridsplit.recipe import Recipe
from hybridsplit.train import main_logits, predict

SPREAD_SAMPLES = 512


def _first(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]


def check_defences_fit(recipe: Recipe, split: SplitModel, x_train: np.ndarray, num_primary: int | None = None) -> None:
    d = recipe.defence
    if d.pca.dims and d.pca.method == "dca" and num_primary is not None:
        from hybridsplit.defences.pca import check_dca_dims

        check_dca_dims(d.pca.dims, num_primary)
    shape = tuple(split.feature_shape)
    pooled = d.pool and len(shape) > 1
    size = int(shape[0]) if pooled else math.prod(shape)
    if d.pca.dims and d.pca.dims > min(size, len(x_train)):
        what = f"{size} {'channels (pooled)' if pooled else 'feature values'}"
        raise RecipeError(f"defence.pca.dims={d.pca.dims} exceeds the {what} at cut '{split.cut}' or the "
                          f"{len(x_train)} training samples; choose at most {min(size, len(x_train))}")
    if pooled:
        check_pool_invariant(split, x_train[:8])
    if d.pca.dims:
        _check_folded_split_runs(recipe, split, x_train[:2])


def check_pool_invariant(split: SplitModel, x: np.ndarray) -> None:
    f = torch.from_numpy(predict(split.device, x))
    avg = f.flatten(2).mean(-1)[(...,) + (None,) * (f.dim() - 2)].expand_as(f)
    a, b = predict(split.cloud, f.numpy()), predict(split.cloud, avg.contiguous().numpy())
    if np.abs(a - b).max() > 1e-4 * max(np.abs(a).max(), 1e-6):
        raise RecipeError(f"defence.pool=true averages the features over space, but the cloud half after "
                          f"'{split.cut}' does not begin with a global average pool (its output changes); "
                          "set defence.pool=false (PCA of the flattened features) or cut just before the pool")


def _check_folded_split_runs(recipe: Recipe, split: SplitModel, x: np.ndarray) -> None:
    from hybridsplit.defences.pca import fit_pca, fold_pca

    feats = np.random.default_rng(0).standard_normal((recipe.defence.pca.dims + 2, *split.feature_shape))
    state, _ = fit_pca(feats.astype(np.float32), recipe.defence.pca.dims, pool=recipe.defence.pool)
    was = split.full.training
    try:
        deployed = fold_pca(split, state)
        deployed.cloud.train()
        logits = main_logits(deployed.cloud(deployed.device(torch.from_numpy(x))))
        logits.sum().backward()
    except RecipeError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure here would surface only after fine-tuning
        raise RecipeError(f"PCA cannot be folded into the split at '{split.cut}' ({type(exc).__name__}: "
                          f"{_first(exc)}); pick another cut or drop defence.pca.dims") from None
    finally:
        split.full.zero_grad(set_to_none=True)
        split.full.train(was)


def feature_spread(split: SplitModel, x_train: np.ndarray, pool: bool) -> dict[str, float]:
    """RMS distance of a sample's features from their mean (`sample`), and per value (`value`)."""
    f = predict(split.device, x_train[:SPREAD_SAMPLES]).astype(np.float64)
    if pool and f.ndim > 2:
        f = f.reshape(len(f), f.shape[1], -1).mean(-1)
    f = f.reshape(len(f), -1)
    total = float(((f - f.mean(0)) ** 2).sum(1).mean())
    return {"sample": math.sqrt(total), "value": math.sqrt(total / f.shape[1])}
