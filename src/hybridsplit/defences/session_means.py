"""Session defence (issue 14), mean-matching form: against a cloud that pools k windows of one session.

A cloud serving one user can average the features of k windows of one session: the device's run-time
noise falls as σ/√k, and what is left is the session's mean feature. On the watch data a session is
one subject doing one exercise, so the leak is the spread of the per-session (or per-subject) mean
features around each exercise's mean. This term penalises that spread as a scale-free ratio:

    ratio = Σ_c Σ_s w_cs ‖m_cs − m_c‖²  /  Σ_c w_c ‖m_c − m‖²            (space = "raw")

m_cs: mean feature of cell s on primary class c, where a cell is a session (`by = "session"`:
`Samples.group`, one recording; the pooling cloud's attacker learns each session's own signature from
its early windows) or a subject (`by = "subject"`); m_c: the w-weighted mean of m_cs over cells; m: the
overall mean; w_cs: the share of windows in cell (c, s). The gradient may lower the ratio by moving cell
means together or by pulling the classes apart, both of which leave less of the subject next to the
exercise. With `dims` (space = "pca") the ratio is taken in the whitened top-`dims` principal subspace of
the running feature covariance, over the (detached) total scatter there.

A batch of 64 holds about one window per cell (7 exercises x 140 sessions), so the cell means are running
(exponential) averages over the batches, detached, into which each batch's own cell means enter with
their gradient (scaled by the running rate). Measured on the watch data (README, privacy section) this
form did not lower the pooled attacker; the adversarial form (pooled_adversary.py) did.
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
               relative_to: str = "classes") -> torch.Tensor:
    """Between-cell scatter of the cell means within each class, over the spread of the class means
    (`relative_to="classes"`) or over the total scatter of `features` around their mean ("total", detached:
    a unit, not a target; measured, letting the gradient spread the features raised the pooled attacker).

    means: [C, S, D] cell means; weights: [C, S] (0 = cell not seen); features: [N, D] with labels `primary`."""
    w = weights / weights.sum().clamp(min=1e-12)
    class_w = w.sum(1, keepdim=True)  # [C, 1]
    class_means = (w.unsqueeze(2) * means).sum(1) / class_w.clamp(min=1e-12)  # [C, D]
    between = (w * (means - class_means.unsqueeze(1)).pow(2).sum(2)).sum()
    if relative_to == "classes":
        overall = (class_w * class_means).sum(0, keepdim=True)
        return between / (class_w.squeeze(1) * (class_means - overall).pow(2).sum(1)).sum().clamp(min=1e-12)
    f = features.flatten(1)
    scatter = (f - f.mean(0, keepdim=True)).pow(2).sum(1).mean().detach()
    return between / scatter.clamp(min=1e-12)


def batch_mean_ratio(features: torch.Tensor, primary: torch.Tensor, cells: torch.Tensor,
                     num_primary: int, num_cells: int) -> torch.Tensor:
    """`mean_ratio` ("classes") with the cell means and shares of this batch alone (0 when, within every
    class, all cells' means coincide)."""
    means, counts = cell_means(features, primary, cells, num_cells, num_primary)
    shape = (num_primary, num_cells)
    return mean_ratio(means.view(*shape, -1), counts.view(shape), features, primary)


class RunningWhitening:
    """Running (exponential) mean and covariance of the features; `projection` maps onto the top `dims`
    principal components, each scaled to unit variance (what a PCA of `dims` components sends). Detached."""

    def __init__(self, dims: int, momentum: float = 0.1):
        self.dims, self.momentum = dims, momentum
        self.moments: tuple[torch.Tensor, torch.Tensor] | None = None  # running E[f], E[f fᵀ]

    def projection(self, features: torch.Tensor, update: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean[D], proj[D, dims]) after taking in this batch (kept when `update`)."""
        f = features.detach().flatten(1).double()
        batch = (f.mean(0), f.T @ f / len(f))
        if self.moments is None:
            moments = batch
        else:
            moments = tuple(m + self.momentum * (b - m) for m, b in zip(self.moments, batch))
        if update:
            self.moments = moments
        mean, second = moments
        values, vectors = torch.linalg.eigh(second - torch.outer(mean, mean))
        top = values.flip(0)[: self.dims].clamp(min=1e-12)
        proj = vectors.flip(1)[:, : self.dims] / top.sqrt()
        return mean.to(features.dtype), proj.to(features.dtype)


class SessionMeanTerm:
    """Feature loss term for `train.fit`: weight * `mean_ratio` over running cell means.

    Each cell's running mean moves toward the batch's cell mean by 1 − (1 − momentum)^n (n: the batch's
    windows in that cell); the running weights count the windows seen per cell. With `dims`, the ratio is
    taken in the whitened top-`dims` principal subspace of the running feature covariance (what a PCA of
    `dims` components sends; detached), over the total scatter there: the cell means' spread in the units
    the run-time noise σ is given in, which pooling k windows lowers to σ²/k."""

    name = "session"

    def __init__(self, weight: float, num_primary: int, num_sensitive: int, momentum: float = 0.05,
                 label: str = "sensitive", dims: int | None = None, cov_momentum: float = 0.1):
        """`label`: the batch key naming each window's cell ("sensitive" or "group"); `num_sensitive`: its count."""
        self.weight, self.momentum, self.label, self.dims = weight, momentum, label, dims
        self.num_primary, self.num_sensitive, self.cov_momentum = num_primary, num_sensitive, cov_momentum
        self.means: torch.Tensor | None = None  # [C*S, D], detached
        self.seen = torch.zeros(num_primary * num_sensitive)
        self.whiten = RunningWhitening(dims, cov_momentum) if dims else None

    def running(self, features: torch.Tensor, primary: torch.Tensor, sensitive: torch.Tensor):
        """The cell means after this batch (this batch's part carries the gradient) and the updated counts."""
        batch_means, counts = cell_means(features, primary, sensitive, self.num_sensitive, self.num_primary)
        old = batch_means.detach() if self.means is None else self.means
        present = counts > 0
        rate = torch.where(self.seen > 0, 1 - (1 - self.momentum) ** counts, torch.ones_like(counts))
        rate = torch.where(present, rate, torch.zeros_like(rate)).unsqueeze(1)
        return old + rate * (batch_means - old), self.seen + counts

    def __call__(self, features: torch.Tensor, x: torch.Tensor, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        primary, sensitive = batch["primary"], batch[self.label]
        means, seen = self.running(features, primary, sensitive)
        shape = (self.num_primary, self.num_sensitive)
        f, cells, relative_to = features.flatten(1), means, "classes"
        if self.whiten is not None:
            _, proj = self.whiten.projection(features, update=torch.is_grad_enabled())
            f, cells, relative_to = f @ proj, means @ proj, "total"
        ratio = mean_ratio(cells.view(*shape, -1), seen.view(shape), f, primary, relative_to)
        if torch.is_grad_enabled():
            self.means, self.seen = means.detach(), seen
        return {self.name: self.weight * ratio}
