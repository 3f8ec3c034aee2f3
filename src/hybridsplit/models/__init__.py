"""Backbone registry. Importing this package registers every built-in backbone."""

from hybridsplit.models import imu_cnn, mobilenet, vgg  # noqa: F401  (registration)
from hybridsplit.models.base import BACKBONES, BackboneInfo, StagedNet, create_backbone
from hybridsplit.models.halves import Cut, SplitModel
from hybridsplit.models.split import list_split_points, split_model

__all__ = [
    "BACKBONES", "BackboneInfo", "StagedNet", "create_backbone",
    "Cut", "SplitModel", "list_split_points", "split_model",
]
