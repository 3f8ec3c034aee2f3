"""A small 1D CNN for IMU windows (channels x time), the default backbone."""

from __future__ import annotations

from collections import OrderedDict

from torch import nn

from hybridsplit.models.base import BackboneInfo, StagedNet, conv_bn_relu, register_backbone


@register_backbone(BackboneInfo("imu", "block3", "1D CNN for IMU windows: 3 conv blocks, pool, embed, head"))
def imu_cnn(num_classes: int, input_shape: tuple[int, ...], width: int = 32) -> StagedNet:
    channels, _ = input_shape
    w = width
    stages = OrderedDict(
        block1=nn.Sequential(*conv_bn_relu(1, channels, w, 5), nn.MaxPool1d(2)),
        block2=nn.Sequential(*conv_bn_relu(1, w, 2 * w, 5), nn.MaxPool1d(2)),
        block3=nn.Sequential(*conv_bn_relu(1, 2 * w, 2 * w, 3), nn.MaxPool1d(2)),
        pool=nn.Sequential(nn.AdaptiveAvgPool1d(1), nn.Flatten()),
        embed=nn.Sequential(nn.Linear(2 * w, 2 * w), nn.ReLU()),
        head=nn.Linear(2 * w, num_classes),
    )
    return StagedNet(stages, input_shape)
