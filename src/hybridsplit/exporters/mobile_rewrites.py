"""Rewrites that keep common mobile blocks fast in int8 LiteRT, applied to a copy before PT2E.

Measured on MobileNetV3 (benchmarks/int8_mobile.py): PT2E + litert-torch turn nn.Hardswish into an
int8 HARD_SWISH, which XNNPACK does not run; every one splits the delegate's graph and runs on
LiteRT's own kernel (the int8 model was slower than fp32). Written as x * hardsigmoid(x) (the same
function, exactly) it lowers to ops XNNPACK runs, so the whole device half stays in one partition.
Hardsigmoid itself already lowers to delegated ops (a small float island on squeeze-excite's 1x1xC
scale), and squeeze-excite's mean becomes an int8 MEAN that XNNPACK runs: both are left as they are.
"""

from __future__ import annotations

import copy

import torch.nn.functional as F
from torch import nn


class HardswishAsMul(nn.Module):
    """hardswish(x) = x * relu6(x + 3) / 6 = x * hardsigmoid(x)."""

    def forward(self, x):
        return x * F.hardsigmoid(x)


REWRITES: dict[type[nn.Module], type[nn.Module]] = {nn.Hardswish: HardswishAsMul}


def rewrite_for_int8(module: nn.Module) -> tuple[nn.Module, dict[str, int]]:
    """A copy of `module` with each rewritable submodule replaced; the count per rewrite."""
    counts: dict[str, int] = {}
    if not any(type(m) in REWRITES for m in module.modules()):
        return module, counts
    module = copy.deepcopy(module)
    for parent in list(module.modules()):
        for name, child in parent.named_children():
            new = REWRITES.get(type(child))
            if new is not None:
                setattr(parent, name, new())
                counts[type(child).__name__] = counts.get(type(child).__name__, 0) + 1
    return module, counts
