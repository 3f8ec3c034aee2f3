"""Training loop for a split model: the whole network is trained, both halves share its weights."""

from __future__ import annotations

import random
from collections.abc import Callable
from contextlib import nullcontext

import numpy as np
import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from torch import nn

from hybridsplit.batchnorm import recompute_batchnorm, stale_notice
from hybridsplit.checkpoint import Checkpoint
from hybridsplit.data import Dataset
from hybridsplit.models import StagedNet, create_backbone
from hybridsplit.recipe import Recipe

# Extra loss terms (defences) get the model, the input batch and its labels.
LossTerm = Callable[[StagedNet, torch.Tensor, dict[str, torch.Tensor]], torch.Tensor]
# Feature loss terms get the device-half features, the input batch and its labels, and return
# named terms (summed into the loss, logged per epoch).
FeatureLossTerm = Callable[[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]], dict[str, torch.Tensor]]


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def build_model(recipe: Recipe, num_classes: int, input_shape: tuple[int, ...]) -> StagedNet:
    return create_backbone(recipe.model.backbone, num_classes, input_shape, recipe.model.width)


@torch.no_grad()
def predict(model: nn.Module, x: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Logits for a float32 numpy batch, in eval mode."""
    was_training = model.training
    model.eval()
    out = [main_logits(model(torch.from_numpy(x[i : i + batch_size]))).numpy() for i in range(0, len(x), batch_size)]
    model.train(was_training)
    return np.concatenate(out)


def main_logits(out) -> torch.Tensor:
    """The main logits of a model's output: torchvision googlenet / inception_v3 return a named
    tuple with auxiliary logits in train mode (`.logits` is the main head); a plain tuple's first
    element is taken the same way."""
    if isinstance(out, torch.Tensor):
        return out
    main = getattr(out, "logits", None)
    if isinstance(main, torch.Tensor):
        return main
    if isinstance(out, (tuple, list)) and out and isinstance(out[0], torch.Tensor):
        return out[0]
    raise TypeError(f"the model returned {type(out).__name__}, not logits (a tensor or a tuple starting with one)")


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    return float((logits.argmax(1) == labels).mean())


def _epoch(model, halves, x_all, labels, perm, batch_size: int, steps: int, step_fn) -> tuple[float, dict]:
    """One pass over the shuffled training set; returns (mean loss, mean of each named feature term)."""
    device_half, cloud_half = halves if halves is not None else (None, None)
    total, n = 0.0, 0
    term_sums: dict[str, float] = {}
    for step in range(steps):
        idx = perm[step * batch_size : (step + 1) * batch_size]
        batch = {key: v[idx] for key, v in labels.items()}
        x = x_all[idx]
        features = device_half(x) if device_half is not None else None
        # aux heads (googlenet) train only through the main loss
        logits = main_logits(cloud_half(features) if features is not None else model(x))
        loss, terms = step_fn(logits, features, x, batch)
        for name, term in terms.items():
            term_sums[name] = term_sums.get(name, 0.0) + float(term.detach()) * len(idx)
        total += float(loss.detach()) * len(idx)
        n += len(idx)
    return total / n, {name: v / n for name, v in term_sums.items()}


def fit(
    model: StagedNet,
    data: Dataset,
    recipe: Recipe,
    *,
    epochs: int | None = None,
    lr: float | None = None,
    extra_loss: LossTerm | None = None,
    show_progress: bool = True,
    description: str = "train",
    cut: str | None = None,
    feature_loss: FeatureLossTerm | None = None,
    extra_modules: tuple[nn.Module, ...] = (),
) -> list[dict]:
    """Cross-entropy on the primary label (+ optional defence terms). Returns per-epoch logs.

    With `cut` and `feature_loss`, the forward pass is split at `cut`: the device-half features
    are computed once and passed to `feature_loss` (e.g. a contrastive or adversarial term).
    Parameters of `extra_modules` (e.g. an adversary head) are trained by the same optimizer.
    A run too short for the BatchNorm momentum gets its running statistics recomputed after each
    epoch (batchnorm.py), so eval-mode accuracy reflects the trained weights.
    """
    cfg = recipe.train
    epochs = epochs or cfg.epochs
    torch.set_num_threads(cfg.threads)
    if feature_loss is not None and cut is None:
        raise ValueError("fit: feature_loss needs the cut at which features are taken")
    halves = None
    if feature_loss is not None:  # the graph split shares the model's weights
        from hybridsplit.models import split_model

        split = split_model(model, cut)
        halves = (split.device, split.cloud)
    params = list(model.parameters()) + [p for m in extra_modules for p in m.parameters()]
    opt = torch.optim.AdamW(params, lr=lr or cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = max(1, len(data.train) // cfg.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr or cfg.lr, total_steps=epochs * steps_per_epoch)
    notice = stale_notice(model, epochs * steps_per_epoch)
    if notice and show_progress:
        print(notice, flush=True)

    def step_fn(logits, features, x, batch):
        loss = nn.functional.cross_entropy(logits, batch["primary"])
        terms = feature_loss(features, x, batch) if feature_loss is not None else {}
        for term in terms.values():
            loss = loss + term
        if extra_loss is not None:
            loss = loss + extra_loss(model, x, batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        progress.advance(task)
        return loss, terms

    x_all = torch.from_numpy(data.train.x)
    labels = {"primary": torch.from_numpy(data.train.primary),
              "sensitive": torch.from_numpy(data.train.sensitive)}
    if data.train.group is not None:  # sessions, for defence terms that act per session
        labels["group"] = torch.from_numpy(np.asarray(data.train.group))
    gen = torch.Generator().manual_seed(recipe.seed)
    logs = []
    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.fields[status]}"), TimeElapsedColumn(), transient=False)
    with progress if show_progress else nullcontext():
        task = progress.add_task(description, total=epochs * steps_per_epoch, status="")
        for epoch in range(epochs):
            for m in (model, *extra_modules):
                m.train()
            perm = torch.randperm(len(x_all), generator=gen)
            loss, terms = _epoch(model, halves, x_all, labels, perm, cfg.batch_size, steps_per_epoch, step_fn)
            if notice:
                recompute_batchnorm(model, x_all, cfg.batch_size)
            test_acc = accuracy(predict(model, data.test.x), data.test.primary)
            logs.append({"epoch": epoch + 1, "loss": loss, "test_accuracy": test_acc, **terms,
                         **({"batchnorm_recomputed": True} if notice else {})})
            progress.update(task, status=f"loss {loss:.3f}  test acc {test_acc:.3f}")
    model.eval()
    return logs


def check_cut(model: nn.Module, cut: str) -> None:
    """Refuse an invalid `model.cut` before any training (it would otherwise fail only at export)."""
    from hybridsplit.models import split_model

    split_model(model, cut)  # SpecError naming the reason and the nearest valid cuts


def train(recipe: Recipe, data: Dataset, show_progress: bool = True) -> tuple[StagedNet, Checkpoint]:
    """Train the undefended model described by the recipe."""
    seed_everything(recipe.seed)
    model = build_model(recipe, len(data.primary_names), data.input_shape)
    check_cut(model, recipe.model.cut)
    logs = fit(model, data, recipe, show_progress=show_progress)
    metrics = {
        "test_accuracy": accuracy(predict(model, data.test.x), data.test.primary),
        "train_accuracy": accuracy(predict(model, data.train.x), data.train.primary),
        "epochs": logs,
        "data": data.summary(),
    }
    ckpt = Checkpoint(recipe, model.state_dict(), data.input_shape, data.primary_names,
                      data.sensitive_names, metrics)
    return model, ckpt


def load_model(ckpt: Checkpoint) -> StagedNet:
    model = build_model(ckpt.recipe, len(ckpt.labels), ckpt.input_shape)
    try:
        model.load_state_dict(ckpt.state_dict)
    except RuntimeError as exc:
        from hybridsplit.errors import CheckpointError

        first = str(exc).splitlines()[0]
        raise CheckpointError(f"Checkpoint weights do not fit backbone '{ckpt.recipe.model.backbone}': {first}") from None
    return model.eval()
