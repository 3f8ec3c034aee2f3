"""What the registry says about a backbone (timm's `PretrainedCfg` role): a leaf module, so the
backbone registry (base.py) and the spec resolver (specs.py) both read it without importing each other."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class BackboneInfo:
    modality: Literal["imu", "image"]
    default_cut: str
    description: str
