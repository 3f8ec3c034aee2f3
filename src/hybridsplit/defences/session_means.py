"""Session defence (issue 14): conditional mean matching against a cloud that pools k windows.

A cloud serving one user can average the features of k windows of one session: the device's run-time
noise falls as σ/√k, and what is left is the session's mean feature. On the watch data a session is
one subject doing one exercise, so the leak is the spread of the per-(subject, exercise) mean features
around each exercise's mean. This term penalises that spread, relative to the within-exercise spread
of single windows (scale-free: scaling the features does not change it):

    ratio = Σ_c Σ_s w_cs ‖m_cs − m_c‖²  /  mean_i ‖f_i − m_{y_i}‖²

m_cs: mean feature of cell s on primary class c, where a cell is a subject (`by = "subject"`) or a
session (`by = "session"`: `Samples.group`, one recording; the pooling cloud's attacker learns each
session's own signature from its early windows, so the session means are what it matches); m_c: the
w-weighted mean of m_cs over cells; w_cs: the share of windows in cell (c, s). A batch of 64 holds about one window per cell (7 exercises x
10 subjects), so the cell means are running (exponential) averages over the batches, detached, into
which each batch's own cell means enter with their gradient: the gradient of the ratio moves each
window toward its exercise's mean along its subject's running offset.
"""

from __future__ import annotations

import torch


def cell_means(features: torch.Tensor, primary: torch.Tensor, sensitive: torch.Tensor, num_sensitive: int,
               num_primary: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(means[C*S, D], counts[C*S]) of the flattened features per (primary, sensitive) cell; empty cells 0."""
    f = features.flatten(1)
    cell = primary.long() * num_sensitive + sensitive.long()
    sums = f.new_zeros(num_primary * num_sensitive, f.shape[1]).index_add(0, cell, f)
    counts = torch.bincount(cell, minlength=num_primary * num_sensitive).to(f.dtype)
    return sums / counts.clamp(min=1).unsqueeze(1), counts


def mean_ratio(means: torch.Tensor, weights: torch.Tensor, features: torch.Tensor, primary: torch.Tensor,
               num_primary: int, relative_to: str = "within") -> torch.Tensor:
    """Between-cell scatter of the cell means within each class over the scatter of `features`: within
    each class around its mean (`relative_to="within"`) or around the overall mean ("total"). The
    denominator is detached: the gradient moves cell means together and cannot lower the ratio by
    spreading the features (which, measured, raised what a pooling attacker finds).

    means: [C, S, D] cell means; weights: [C, S] (0 = cell not seen); features: [N, D] with labels `primary`."""
    w = weights / weights.sum().clamp(min=1e-12)
    class_w = w.sum(1, keepdim=True)  # [C, 1]
    class_means = (w.unsqueeze(2) * means).sum(1) / class_w.clamp(min=1e-12)  # [C, D]
    between = (w * (means - class_means.unsqueeze(1)).pow(2).sum(2)).sum()
    if relative_to == "classes":  # spread of the class means: the gradient may also pull classes apart
        overall = (class_w * class_means).sum(0, keepdim=True)
        return between / (class_w.squeeze(1) * (class_means - overall).pow(2).sum(1)).sum().clamp(min=1e-12)
    f = features.flatten(1)
    centre = class_means[primary.long()] if relative_to == "within" else f.mean(0, keepdim=True)
    scatter = (f - centre).pow(2).sum(1).mean().detach()  # a unit, not a target: never spread the features
    return between / scatter.clamp(min=1e-12)


def batch_mean_ratio(features: torch.Tensor, primary: torch.Tensor, sensitive: torch.Tensor,
                     num_primary: int, num_sensitive: int) -> torch.Tensor:
    """`mean_ratio` with the cell means and shares of this batch alone (0 when, within every class,
    all subjects' means coincide)."""
    means, counts = cell_means(features, primary, sensitive, num_sensitive, num_primary)
    shape = (num_primary, num_sensitive)
    return mean_ratio(means.view(*shape, -1), counts.view(shape), features, primary, num_primary)


class SessionMeanTerm:
    """Feature loss term for `train.fit`: weight * `mean_ratio` over running cell means.

    Each cell's running mean moves toward the batch's cell mean by 1 − (1 − momentum)^n (n: the batch's
    windows in that cell); the running weights count the windows seen per cell. With `dims`, the ratio is
    taken in the whitened top-`dims` principal subspace of the running feature covariance (what a PCA of
    `dims` components sends; detached), over the total scatter there: the cell means' spread in the units
    the run-time noise σ is given in, which pooling k windows lowers to σ²/k."""

    name = "session"

    def __init__(self, weight: float, num_primary: int, num_sensitive: int, momentum: float = 0.05,
                 label: str = "sensitive", dims: int | None = None, cov_momentum: float = 0.1,
                 relative_to: str = "classes"):
        """`label`: the batch key naming each window's cell ("sensitive" or "group"); `num_sensitive`: its count."""
        self.weight, self.momentum, self.label, self.dims = weight, momentum, label, dims
        self.relative_to = relative_to
        self.num_primary, self.num_sensitive, self.cov_momentum = num_primary, num_sensitive, cov_momentum
        self.means: torch.Tensor | None = None  # [C*S, D], detached
        self.seen = torch.zeros(num_primary * num_sensitive)
        self.moments: tuple[torch.Tensor, torch.Tensor] | None = None  # running E[f], E[f fᵀ]

    def running(self, features: torch.Tensor, primary: torch.Tensor, sensitive: torch.Tensor):
        """The cell means after this batch (this batch's part carries the gradient) and the updated counts."""
        batch_means, counts = cell_means(features, primary, sensitive, self.num_sensitive, self.num_primary)
        old = batch_means.detach() if self.means is None else self.means
        present = counts > 0
        rate = torch.where(self.seen > 0, 1 - (1 - self.momentum) ** counts, torch.ones_like(counts))
        rate = torch.where(present, rate, torch.zeros_like(rate)).unsqueeze(1)
        return old + rate * (batch_means - old), self.seen + counts

    def whitening(self, features: torch.Tensor):
        """(D, dims) projection onto the running covariance's top `dims` components, each scaled to unit
        variance, and the updated running moments (all detached)."""
        f = features.detach().flatten(1).double()
        batch = (f.mean(0), f.T @ f / len(f))
        if self.moments is None:
            moments = batch
        else:
            moments = tuple(m + self.cov_momentum * (b - m) for m, b in zip(self.moments, batch))
        mean, second = moments
        values, vectors = torch.linalg.eigh(second - torch.outer(mean, mean))
        top = values.flip(0)[: self.dims].clamp(min=1e-12)
        proj = vectors.flip(1)[:, : self.dims] / top.sqrt()
        return proj.to(features.dtype), moments

    def __call__(self, features: torch.Tensor, x: torch.Tensor, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        primary, sensitive = batch["primary"], batch[self.label]
        means, seen = self.running(features, primary, sensitive)
        shape = (self.num_primary, self.num_sensitive)
        f, cells, moments, relative_to = features.flatten(1), means, None, self.relative_to
        if self.dims:
            proj, moments = self.whitening(features)
            f, cells, relative_to = f @ proj, means @ proj, "total"
        ratio = mean_ratio(cells.view(*shape, -1), seen.view(shape), f, primary, self.num_primary, relative_to)
        if torch.is_grad_enabled():
            self.means, self.seen = means.detach(), seen
            self.moments = moments if moments is not None else self.moments
        return {self.name: self.weight * ratio}
