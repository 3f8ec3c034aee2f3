"""BYOM fixtures. torchvision/timm are optional for users; `make install` installs them
(requirements/extra-byom.txt), so here a failed import fails the test that needs them.

Every external model here has random weights (pretrained weights cannot be fetched offline).
"""

from __future__ import annotations

import pytest
import torch

from hybridsplit.errors import SpecError

from needs import need

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
needs_torchvision = pytest.mark.usefixtures("torchvision_installed")
needs_timm = pytest.mark.usefixtures("timm_installed")


@pytest.fixture
def torchvision_installed():
    need(HAVE_TORCHVISION, "torchvision", "run `make install` (requirements/extra-byom.txt)")


@pytest.fixture
def timm_installed():
    need(HAVE_TIMM, "timm", "run `make install` (requirements/extra-byom.txt)")


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
