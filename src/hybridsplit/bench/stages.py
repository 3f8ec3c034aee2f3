"""Static per-stage costs of a staged torch model (the sweep's candidate cuts); MACs by the graph
splitter's counter (models/graph_split.py), the one MAC rule of the toolkit's torch side."""

from __future__ import annotations

import torch
from torch import nn

from hybridsplit.bench.profile import StageStats
from hybridsplit.models.graph_split import trace


def _kind(module: nn.Module) -> str:
    leaves = [m for m in module.modules() if not list(m.children())] or [module]
    return "+".join(type(m).__name__ for m in leaves)


@torch.no_grad()
def stage_stats(stages: list[tuple[str, nn.Module]], sample: torch.Tensor) -> list[StageStats]:
    """Static per-stage costs for one sample: MACs (conv + linear), params, output shape and bytes."""
    out, x = [], sample[:1]
    for name, stage in stages:
        macs = sum(trace(stage, x).macs.values())  # the graph splitter's counter: one rule for every model
        x = stage.eval()(x)
        params = sum(p.numel() for p in stage.parameters())
        numel = int(x[0].numel())
        out.append(StageStats(name=name, kind=_kind(stage), output_shape=list(x.shape[1:]),
                              output_bytes_fp32=4 * numel, output_bytes_int8=numel, macs=macs, params=params,
                              weight_bytes_int8=params, weight_bytes_fp32=4 * params))
    return out
