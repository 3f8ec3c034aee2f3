"""Cut a backbone into a device half and a cloud half at a named point.

A `StagedNet` is cut at stage boundaries; any other `nn.Module` (torchvision, timm, a
`python:` factory) is cut at a traced graph node by models/graph_split.py.

`list_split_points(model)` lists where a model can be cut (torchvision's
`get_graph_node_names` role); `split_model(model, cut)` returns both halves, which share
parameters with the whole model, so training the whole trains both halves.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from hybridsplit.errors import SpecError, did_you_mean
from hybridsplit.models.base import StagedNet
from hybridsplit.models.graph_split import graph_split, list_cuts
from hybridsplit.models.halves import SplitModel, SplitPoint


@torch.no_grad()
def list_split_points(model: nn.Module) -> list[SplitPoint]:
    """Every stage boundary except after the last stage (the cloud half would be empty).

    For a model that is not a `StagedNet`: every valid graph cut (see graph_split.list_cuts).
    """
    if not isinstance(model, StagedNet):
        return [SplitPoint(c.name, c.output_shape, c.device_params) for c in list_cuts(model)]
    was_training = model.training
    model.eval()
    x = model.example_input()
    points, params = [], 0
    children = list(model.named_children())
    for name, stage in children[:-1]:
        x = stage(x)
        params += sum(p.numel() for p in stage.parameters())
        points.append(SplitPoint(name, tuple(x.shape[1:]), params))
    model.train(was_training)
    return points


def split_model(model: nn.Module, cut: str) -> SplitModel:
    if not isinstance(model, StagedNet):
        return graph_split(model, cut)
    names = model.stage_names()
    valid = names[:-1]
    if cut not in valid:
        raise SpecError(
            f"Unknown cut '{cut}'.{did_you_mean(cut, valid)} Valid cuts: {', '.join(valid)}. "
            "See `hybridsplit list split-points <backbone>`."
        )
    k = names.index(cut) + 1
    stages = list(model.named_children())
    device = nn.Sequential(OrderedDict(stages[:k]))
    cloud = nn.Sequential(OrderedDict(stages[k:]))
    shape = next(p.output_shape for p in list_split_points(model) if p.name == cut)
    return SplitModel(model, device, cloud, cut, model.input_shape, shape)
