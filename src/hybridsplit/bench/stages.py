"""Static per-stage costs of a staged torch model (the sweep's candidate cuts), by forward hooks."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from hybridsplit.bench.profile import StageStats


def _kind(module: nn.Module) -> str:
    leaves = [m for m in module.modules() if not list(m.children())] or [module]
    return "+".join(type(m).__name__ for m in leaves)


def _mac_hooks(counter: list[int]):
    def conv(m: nn.Module, inp, out):
        k = int(np.prod(m.kernel_size))
        counter[0] += int(out.numel() // out.shape[0]) * (m.in_channels // m.groups) * k

    def linear(m: nn.Linear, inp, out):
        counter[0] += int(out.numel() // out.shape[0]) * m.in_features

    return conv, linear


@torch.no_grad()
def stage_stats(stages: list[tuple[str, nn.Module]], sample: torch.Tensor) -> list[StageStats]:
    """Static per-stage costs for one sample: MACs (conv + linear), params, output shape and bytes."""
    out, x = [], sample[:1]
    for name, stage in stages:
        counter = [0]
        conv, linear = _mac_hooks(counter)
        handles = []
        for m in stage.modules():
            if isinstance(m, nn.Conv1d | nn.Conv2d | nn.Conv3d):
                handles.append(m.register_forward_hook(conv))
            elif isinstance(m, nn.Linear):
                handles.append(m.register_forward_hook(linear))
        x = stage.eval()(x)
        for h in handles:
            h.remove()
        params = sum(p.numel() for p in stage.parameters())
        numel = int(x[0].numel())
        out.append(StageStats(name=name, kind=_kind(stage), output_shape=list(x.shape[1:]),
                              output_bytes_fp32=4 * numel, output_bytes_int8=numel, macs=counter[0], params=params,
                              weight_bytes_int8=params, weight_bytes_fp32=4 * params))
    return out
