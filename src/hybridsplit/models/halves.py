"""The two value types of a split: where a model can be cut (`Cut`) and the two halves
(`SplitModel`). A leaf module, so the graph splitter (graph_split.py), its entry points
(split.py) and the readers of a cut (cli, bench) share them without importing one another."""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch import nn


@dataclass(frozen=True)
class Cut:
    name: str
    """The name the cut is listed by: a graph node's name (module path), or a model's named cut
    (a `StagedNet`'s stage, `block2`), which means the last node inside that module."""
    output_shape: tuple[int, ...]
    """Per-sample shape of the tensor sent to the cloud."""
    macs: int
    """Multiply-accumulates of the device half (cumulative up to and including this node)."""
    total_macs: int
    device_params: int
    """Parameters the device holds if cut here."""
    ends: tuple[str, ...] = ()
    """Other names of the same node (`layer2`, `layer2.1`, or a named cut's node name): a user
    may give any of them instead."""
    noop: bool = False
    """The node passes its input through at inference (nn.Identity, dropout, drop-path): the same
    tensor as the node before it, so `cuts` hides it unless asked (`--all`)."""

    @property
    def numel(self) -> int:
        return math.prod(self.output_shape)

    @property
    def bytes_fp32(self) -> int:
        return 4 * self.numel


@dataclass
class SplitModel:
    full: nn.Module
    device: nn.Module
    cloud: nn.Module
    cut: str
    input_shape: tuple[int, ...]
    feature_shape: tuple[int, ...]

    def boundary(self) -> dict:
        numel = math.prod(self.feature_shape)
        return {"shape": list(self.feature_shape), "bytes_fp32": 4 * numel, "bytes_int8": numel}
