"""The two value types a cut produces: where a model can be cut (`SplitPoint`) and the two halves
(`SplitModel`). A leaf module, shared by the stage splitter (split.py) and the graph splitter
(graph_split.py), so neither imports the other."""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch import nn


@dataclass(frozen=True)
class SplitPoint:
    name: str
    output_shape: tuple[int, ...]
    """Per-sample shape of the tensor sent to the cloud if the model is cut here."""
    device_params: int
    """Parameters the device holds if cut here."""

    @property
    def numel(self) -> int:
        return math.prod(self.output_shape)


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
