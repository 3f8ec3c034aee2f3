"""BatchNorm running statistics that match the trained weights, however short the training run.

A BatchNorm layer normalises with the batch's statistics while training and with its running
(exponential moving average) statistics at inference. With a small momentum — torchvision's
MobileNetV3 and EfficientNet use 0.01 — and a short run, the running statistics still hold most
of their initial values (mean 0, variance 1) when training ends: the model reaches a low training
loss and predicts one class in eval mode. `initial_share` detects it from each layer's momentum and
the number of optimizer steps; `recompute_batchnorm` replaces the running statistics with their
exact average over the training set (`torch.optim.swa_utils.update_bn`, the fix used after SWA).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

STALE_SHARE = 0.05
"""Recompute when more than this share of a layer's initial running statistics would remain."""


def initial_share(model: nn.Module, steps: int) -> float:
    """The largest share of any BatchNorm layer's initial running statistics left after `steps` updates."""
    shares = [(1.0 - m.momentum) ** steps for m in model.modules()
              if isinstance(m, _BatchNorm) and m.track_running_stats and m.momentum is not None]
    return max(shares, default=0.0)


def stale_notice(model: nn.Module, steps: int) -> str | None:
    """One line saying why the statistics will be recomputed, or None when the run is long enough."""
    share = initial_share(model, steps)
    if share <= STALE_SHARE:
        return None
    momentum = min(m.momentum for m in model.modules() if isinstance(m, _BatchNorm) and m.momentum is not None)
    return (f"note: BatchNorm momentum {momentum:g} over {steps} steps would leave {share:.0%} of the initial "
            "running statistics; recomputing them on the training set after each epoch")


def _batches(x: torch.Tensor, batch_size: int) -> list[torch.Tensor]:
    """Batches of at least 2 rows (a 1-row batch has no batch variance): the tail joins the last batch."""
    starts = list(range(0, len(x), batch_size))
    if len(starts) > 1 and len(x) - starts[-1] < 2:
        starts.pop()
    return [x[s : (starts[i + 1] if i + 1 < len(starts) else len(x))] for i, s in enumerate(starts)]


@torch.no_grad()
def recompute_batchnorm(model: nn.Module, x: np.ndarray | torch.Tensor, batch_size: int = 256) -> None:
    """Running mean/variance of every BatchNorm layer = their average over `x` (train-mode forward)."""
    x = torch.as_tensor(x)
    if len(x) < 2 or not any(isinstance(m, _BatchNorm) for m in model.modules()):
        return
    torch.optim.swa_utils.update_bn(_batches(x, batch_size), model)
