"""Adversarial training against a sensitive-attribute head, through gradient reversal.

A head on the device-half features learns to predict the sensitive label (subject); its
gradient reaches the device half reversed and scaled (Ganin & Lempitsky's gradient reversal,
as in DeepObfuscator-style defences), so the device half learns features the head cannot use.
"""

from __future__ import annotations

import torch
from torch import nn


class _GradReverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, scale: float) -> torch.Tensor:
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return -ctx.scale * grad, None


def grad_reverse(x: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """Identity forward; the gradient flows back multiplied by -scale."""
    return _GradReverse.apply(x, scale)


class SensitiveHead(nn.Module):
    """The adversary used during training: flattened features -> MLP -> sensitive logits."""

    def __init__(self, in_features: int, num_classes: int, hidden: int = 128):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(in_features, hidden), nn.ReLU(),
                                 nn.Linear(hidden, num_classes))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net(features)


class AdversarialTerm:
    """Feature loss term for `train.fit`: the head minimises cross-entropy on the sensitive
    label; the device half, through gradient reversal, maximises it (scaled by `weight`)."""

    name = "adversarial"

    def __init__(self, in_features: int, num_classes: int, weight: float, hidden: int = 128, label: str = "sensitive"):
        self.head = SensitiveHead(in_features, num_classes, hidden)
        self.weight, self.label = weight, label

    def __call__(self, features: torch.Tensor, x: torch.Tensor, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        logits = self.head(grad_reverse(features, self.weight))
        return {self.name: nn.functional.cross_entropy(logits, batch[self.label])}
