"""Siamese fine-tuning (Osia et al.): a contrastive loss on the device-half features.

Every pair of windows in a batch is a Siamese pair (two branches sharing the device half):
features of the same primary class are pulled together, different classes pushed at least
`margin` apart (Hadsell et al. / Caffe's ContrastiveLoss). The classification loss on both
branches is the training loop's own cross-entropy over the batch.
"""

from __future__ import annotations

import torch


def contrastive_loss(features: torch.Tensor, labels: torch.Tensor, margin: float) -> torch.Tensor:
    """Mean over same-class pairs of d^2 plus mean over different-class pairs of max(margin - d, 0)^2, halved.

    Same and different pairs are averaged separately so that the (usually rarer) same-class
    pairs are not drowned out. Distances are Euclidean on the flattened features.
    """
    f = features.flatten(1)
    n = len(f)
    if n < 2:
        return f.sum() * 0.0
    norms = f.pow(2).sum(1)
    sq = (norms[:, None] + norms[None, :] - 2 * f @ f.T).clamp(min=0)  # pairwise squared distances
    off_diag = ~torch.eye(n, dtype=torch.bool, device=f.device)
    same = (labels.unsqueeze(1) == labels.unsqueeze(0)) & off_diag
    diff = labels.unsqueeze(1) != labels.unsqueeze(0)
    loss = f.sum() * 0.0
    if same.any():
        loss = loss + sq[same].mean()
    if diff.any():
        d = (sq[diff] + 1e-12).sqrt()
        loss = loss + torch.clamp(margin - d, min=0).pow(2).mean()
    return loss / 2


class SiameseTerm:
    """Feature loss term for `train.fit`: weight * contrastive loss on the primary labels."""

    name = "siamese"

    def __init__(self, weight: float, margin: float):
        self.weight, self.margin = weight, margin

    def __call__(self, features: torch.Tensor, x: torch.Tensor, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {self.name: self.weight * contrastive_loss(features, batch["primary"], self.margin)}
