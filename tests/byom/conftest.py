"""BYOM fixtures. torchvision/timm are optional: their tests skip when they cannot be imported.

Every external model here has random weights (pretrained weights cannot be fetched offline).
"""

from __future__ import annotations

import pytest
import torch

from hybridsplit.errors import SpecError

TINY = "python:hybridsplit.models.byom_examples:tiny_resnet"


def _importable(what: str) -> bool:
    from hybridsplit.models import specs

    try:
        (specs.import_torchvision if what == "torchvision" else specs.import_timm)()
        return True
    except SpecError:
        return False


HAVE_TORCHVISION = _importable("torchvision")
HAVE_TIMM = HAVE_TORCHVISION and _importable("timm")
needs_torchvision = pytest.mark.skipif(not HAVE_TORCHVISION, reason="torchvision not installed (requirements/extra-byom.txt)")
needs_timm = pytest.mark.skipif(not HAVE_TIMM, reason="timm not installed (requirements/extra-byom.txt)")


def settled(model: torch.nn.Module, shape: tuple[int, ...]) -> torch.nn.Module:
    """Random weights, with BatchNorm statistics moved off the identity so a wrong graph shows."""
    torch.manual_seed(0)
    model.train()
    with torch.no_grad():
        model(torch.randn(4, *shape))
    return model.eval()


@pytest.fixture
def tiny():
    from hybridsplit.models import create_backbone

    torch.manual_seed(0)
    return settled(create_backbone(TINY, 5, (3, 32, 32), width=8), (3, 32, 32))
