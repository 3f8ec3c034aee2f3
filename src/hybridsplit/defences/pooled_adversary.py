"""Session defence, adversarial form (issue 14): gradient reversal against a head that sees means of k windows
of one session, as a cloud that pools a user's stream does.

A batch holds about one window per session, so each window is pooled with the k − 1 windows of its session
seen most recently (a detached ring buffer per session): pooled_i = (f_i + Σ buffer) / k. The head learns
the sensitive label from these pooled features; the device half receives its gradient reversed (through
f_i only) and scaled by `weight`, as in adversarial.py. With `dims`, the head sees what the cloud does: the
pooled feature projected on the running top-`dims` whitened principal components (session_means.py's
RunningWhitening, what the deployed PCA sends) plus the run-time noise averaged over the pooled windows
(σ/√n, σ in whitened units).
"""

from __future__ import annotations

import torch
from torch import nn

from hybridsplit.defences.adversarial import SensitiveHead, grad_reverse
from hybridsplit.defences.session_means import RunningWhitening


class PooledAdversarialTerm:
    """Feature loss term for `train.fit`: cross-entropy of a sensitive head on k-window session means,
    its gradient reversed into the device half. Windows whose session has fewer than k − 1 buffered
    windows are pooled with what there is."""

    name = "session"

    def __init__(self, in_features: int, num_classes: int, num_groups: int, weight: float, k: int = 20,
                 hidden: int = 128, label: str = "sensitive", group: str = "group", dims: int | None = None,
                 noise: float = 0.0):
        self.head = SensitiveHead(dims or in_features, num_classes, hidden)
        self.whiten, self.noise = (RunningWhitening(dims) if dims else None), noise
        self.weight, self.k, self.label, self.group = weight, k, label, group
        self.buffer = torch.zeros(num_groups, max(k - 1, 1), in_features)
        self.filled = torch.zeros(num_groups, dtype=torch.long)  # windows written per session (ring position)

    def pooled(self, features: torch.Tensor, groups: torch.Tensor) -> torch.Tensor:
        """Each window's mean with the buffered windows of its session (the window carries the gradient)."""
        f = features.flatten(1)
        if self.k <= 1:
            return f
        count = self.pooled_count(groups) - 1
        slots = torch.arange(self.k - 1).unsqueeze(0) < count.unsqueeze(1)  # [N, k-1] which slots hold windows
        others = (self.buffer[groups] * slots.unsqueeze(2).to(f.dtype)).sum(1)
        return (f + others) / (1 + count).unsqueeze(1).to(f.dtype)

    def pooled_count(self, groups: torch.Tensor) -> torch.Tensor:
        """Windows in each window's pool: itself and up to k − 1 buffered ones."""
        return 1 + self.filled[groups].clamp(max=max(self.k - 1, 0)) if self.k > 1 else torch.ones_like(groups)

    def sent(self, features: torch.Tensor, pooled: torch.Tensor, groups: torch.Tensor) -> torch.Tensor:
        """What the cloud would see of the pooled features: whitened top components plus averaged noise."""
        if self.whiten is None:
            return pooled
        mean, proj = self.whiten.projection(features, update=torch.is_grad_enabled())
        z = (pooled - mean) @ proj
        if self.noise > 0:
            z = z + torch.randn_like(z) * (self.noise / self.pooled_count(groups).to(z.dtype).sqrt()).unsqueeze(1)
        return z

    def remember(self, features: torch.Tensor, groups: torch.Tensor) -> None:
        if self.k <= 1:
            return
        f = features.detach().flatten(1)
        for i, g in enumerate(groups.tolist()):
            self.buffer[g, int(self.filled[g]) % (self.k - 1)] = f[i]
            self.filled[g] += 1

    def __call__(self, features: torch.Tensor, x: torch.Tensor, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        groups = batch[self.group].long()
        pooled = self.sent(features, self.pooled(features, groups), groups)
        logits = self.head(grad_reverse(pooled, self.weight))
        loss = nn.functional.cross_entropy(logits, batch[self.label])
        if torch.is_grad_enabled():
            self.remember(features, groups)
        return {self.name: loss}
