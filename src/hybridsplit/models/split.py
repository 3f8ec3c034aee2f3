"""Cut a model into a device half and a cloud half at a named point: every model, registry
backbones included, is cut by the graph splitter (models/graph_split.py).

A model may name some of its cuts (`named_cuts()`): a `StagedNet` names its stage ends
(`block2` = the last node of stage `block2`), and those are the cuts it is listed by.
`list_split_points(model)` lists where a model can be cut (torchvision's
`get_graph_node_names` role); `split_model(model, cut)` returns both halves, which share
parameters with the whole model, so training the whole trains both halves.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from hybridsplit.models.graph_split import graph_split, list_cuts, named_cuts
from hybridsplit.models.halves import Cut, SplitModel


def _named(cuts: list[Cut], named: list[str]) -> list[Cut]:
    """The graph cuts a model names, each listed under its name (its node's name among `ends`)."""
    by_name = {n: c for c in cuts for n in (c.name, *c.ends)}
    return [dataclasses.replace(c, name=n, ends=tuple(e for e in (c.name, *c.ends) if e != n))
            for n in named if (c := by_name.get(n)) is not None]


@torch.no_grad()
def list_split_points(model: nn.Module, all_: bool = False) -> list[Cut]:
    """Where `model` can be cut: its named cuts when it has any (a `StagedNet`'s stage ends, the
    last stage excepted: the cloud half would be empty), else every valid graph cut (no-op
    nodes included; see graph_split.list_cuts). `all_`: every valid graph cut for any model."""
    cuts = list_cuts(model)
    named = named_cuts(model)
    return _named(cuts, named) if named and not all_ else cuts


def split_model(model: nn.Module, cut: str) -> SplitModel:
    """Both halves at `cut` (a named cut, a module path or a graph node), by the graph splitter;
    `SplitModel.cut` is `cut` as given."""
    return graph_split(model, cut)
