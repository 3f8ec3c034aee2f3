"""A VGG-style small CNN for images (the paper split VGG-16 at conv5_x)."""

from __future__ import annotations

from collections import OrderedDict

from torch import nn

from hybridsplit.models.base import BackboneInfo, StagedNet, conv_bn_relu, register_backbone


def _vgg_block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(*conv_bn_relu(2, cin, cout, 3), *conv_bn_relu(2, cout, cout, 3), nn.MaxPool2d(2))


@register_backbone(BackboneInfo("image", "block3", "VGG-style CNN: 4 blocks of two 3x3 convs, pool, head"))
def vgg_small(num_classes: int, input_shape: tuple[int, ...], width: int = 32) -> StagedNet:
    channels = input_shape[0]
    w = width
    stages = OrderedDict(
        block1=_vgg_block(channels, w),
        block2=_vgg_block(w, 2 * w),
        block3=_vgg_block(2 * w, 4 * w),
        block4=_vgg_block(4 * w, 4 * w),
        pool=nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten()),
        fc=nn.Sequential(nn.Linear(4 * w, 4 * w), nn.ReLU()),
        head=nn.Linear(4 * w, num_classes),
    )
    return StagedNet(stages, input_shape)
