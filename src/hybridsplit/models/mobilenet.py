"""A MobileNetV2-style small CNN for images: inverted residual blocks with depthwise convs."""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from hybridsplit.models.base import BackboneInfo, StagedNet, conv_bn_relu, register_backbone


class InvertedResidual(nn.Module):
    """Expand (1x1), depthwise (3x3), project (1x1); residual when shapes allow.

    The residual lives inside the block, so block boundaries stay single-tensor cut points.
    """

    def __init__(self, cin: int, cout: int, stride: int, expand: int = 4):
        super().__init__()
        hidden = cin * expand
        self.body = nn.Sequential(
            *conv_bn_relu(2, cin, hidden, 1, act=nn.ReLU6),
            *conv_bn_relu(2, hidden, hidden, 3, stride, groups=hidden, act=nn.ReLU6),
            nn.Conv2d(hidden, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
        )
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        return x + out if self.residual else out


@register_backbone(BackboneInfo("image", "ir3", "MobileNetV2-style CNN: stem, 4 inverted residuals, pool, head"))
def mobilenet_small(num_classes: int, input_shape: tuple[int, ...], width: int = 32) -> StagedNet:
    channels = input_shape[0]
    w = width // 2
    stages = OrderedDict(
        stem=nn.Sequential(*conv_bn_relu(2, channels, w, 3, stride=2, act=nn.ReLU6)),
        ir1=InvertedResidual(w, w, 1),
        ir2=InvertedResidual(w, 2 * w, 2),
        ir3=InvertedResidual(2 * w, 2 * w, 1),
        ir4=InvertedResidual(2 * w, 4 * w, 2),
        pool=nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten()),
        head=nn.Linear(4 * w, num_classes),
    )
    return StagedNet(stages, input_shape)
