"""Backbones as ordered, named stages: every stage end is a named cut.

A backbone is an `nn.Sequential` of named stages, so module paths (`block2`) are the names
users see in `named_modules()` and in `hybridsplit list split-points` (torchvision's naming).
The graph splitter (models/graph_split.py) cuts it like any model; a stage name means the last
node inside that stage.
Metadata lives beside the model in a dataclass, as timm's `PretrainedCfg` does.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Literal, Protocol

import torch
from torch import nn

from hybridsplit.models.info import BackboneInfo
from hybridsplit.registry import Registry


class BackboneFactory(Protocol):
    info: BackboneInfo

    def __call__(
        self, num_classes: int, input_shape: tuple[int, ...], width: int = 32
    ) -> StagedNet: ...


class StagedNet(nn.Sequential):
    """An `nn.Sequential` of named stages with the per-sample input shape it was built for."""

    def __init__(self, stages: OrderedDict[str, nn.Module], input_shape: tuple[int, ...]):
        super().__init__(stages)
        self.input_shape = tuple(input_shape)

    def stage_names(self) -> list[str]:
        return [name for name, _ in self.named_children()]

    def named_cuts(self) -> list[str]:
        """The stage ends a user cuts at by name: every stage but the last (its cloud half would be empty)."""
        return self.stage_names()[:-1]

    def example_input(self, batch: int = 1) -> torch.Tensor:
        return torch.zeros((batch, *self.input_shape))


class BackboneRegistry(Registry):
    """The backbone registry; `source:name` specs (`timm:resnet18`, `torchvision:resnet18`,
    `python:pkg.mod:factory`) resolve to a factory for that external model (models/specs.py)."""

    def get(self, name: str):
        if ":" in name:
            from hybridsplit.models.specs import SpecFactory

            return SpecFactory(name)
        return super().get(name)

    def __contains__(self, name: object) -> bool:
        return (isinstance(name, str) and ":" in name) or super().__contains__(name)


BACKBONES: Registry[BackboneFactory] = BackboneRegistry("backbone", "hybridsplit list backbones")


def register_backbone(info: BackboneInfo):
    """Register a factory under its function name and attach its metadata."""

    def wrap(fn):
        fn.info = info
        return BACKBONES.register()(fn)

    return wrap


def create_backbone(
    name: str, num_classes: int, input_shape: tuple[int, ...], width: int = 32
) -> StagedNet:
    """A registry backbone, or any model a spec names (then an `nn.Module` with `.input_shape`)."""
    return BACKBONES.get(name)(num_classes=num_classes, input_shape=input_shape, width=width)


def conv_bn_relu(
    dim: Literal[1, 2], cin: int, cout: int, k: int, stride: int = 1, groups: int = 1,
    act: type[nn.Module] = nn.ReLU,
) -> list[nn.Module]:
    conv = nn.Conv1d if dim == 1 else nn.Conv2d
    bn = nn.BatchNorm1d if dim == 1 else nn.BatchNorm2d
    return [conv(cin, cout, k, stride, k // 2, groups=groups, bias=False), bn(cout), act()]
