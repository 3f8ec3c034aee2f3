"""Session defence, adversarial form (issue 14): gradient reversal against a head that sees means of k windows
of one session, as a cloud that pools a user's stream does.

A batch holds about one window per session, so each window is pooled with the k − 1 windows of its session
seen most recently (a detached ring buffer per session): pooled_i = (f_i + Σ buffer) / k. The head learns
the sensitive label from these pooled features; the device half receives its gradient reversed (through
f_i only) and scaled by `weight`, as in adversarial.py.
"""

from __future__ import annotations

import torch
from torch import nn

from hybridsplit.defences.adversarial import SensitiveHead, grad_reverse


class PooledAdversarialTerm:
    """Feature loss term for `train.fit`: cross-entropy of a sensitive head on k-window session means,
    its gradient reversed into the device half. Windows whose session has fewer than k − 1 buffered
    windows are pooled with what there is."""

    name = "session"

    def __init__(self, in_features: int, num_classes: int, num_groups: int, weight: float, k: int = 20,
                 hidden: int = 128, label: str = "sensitive", group: str = "group"):
        self.head = SensitiveHead(in_features, num_classes, hidden)
        self.weight, self.k, self.label, self.group = weight, k, label, group
        self.buffer = torch.zeros(num_groups, max(k - 1, 1), in_features)
        self.filled = torch.zeros(num_groups, dtype=torch.long)  # windows written per session (ring position)

    def pooled(self, features: torch.Tensor, groups: torch.Tensor) -> torch.Tensor:
        """Each window's mean with the buffered windows of its session (the window carries the gradient)."""
        f = features.flatten(1)
        if self.k <= 1:
            return f
        count = self.filled[groups].clamp(max=self.k - 1)
        slots = torch.arange(self.k - 1).unsqueeze(0) < count.unsqueeze(1)  # [N, k-1] which slots hold windows
        others = (self.buffer[groups] * slots.unsqueeze(2).to(f.dtype)).sum(1)
        return (f + others) / (1 + count).unsqueeze(1).to(f.dtype)

    def remember(self, features: torch.Tensor, groups: torch.Tensor) -> None:
        if self.k <= 1:
            return
        f = features.detach().flatten(1)
        for i, g in enumerate(groups.tolist()):
            self.buffer[g, int(self.filled[g]) % (self.k - 1)] = f[i]
            self.filled[g] += 1

    def __call__(self, features: torch.Tensor, x: torch.Tensor, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        groups = batch[self.group].long()
        pooled = self.pooled(features, groups)
        logits = self.head(grad_reverse(pooled, self.weight))
        loss = nn.functional.cross_entropy(logits, batch[self.label])
        if torch.is_grad_enabled():
            self.remember(features, groups)
        return {self.name: loss}
