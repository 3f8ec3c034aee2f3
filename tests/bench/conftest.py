"""One local `hybridsplit bench` run of the default bundle, shared by the bench tests.

The bundle is copied to a directory of its own and benchmarked with no run directory anywhere:
the per-layer table comes from the bundle alone. The prefix models are kept so the ssh test can
time the very same files on the loopback "board".
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def local_bench(tmp_path_factory, default_bundle) -> tuple[dict, Path, str]:
    from typer.testing import CliRunner

    from hybridsplit.cli import app

    work = tmp_path_factory.mktemp("bench")
    copy = work / "copied_bundle"
    shutil.copytree(default_bundle, copy)  # nothing beside it: no runs/, no checkpoint
    models = work / "models"
    out = work / "bench.json"
    res = CliRunner().invoke(app, ["bench", "--bundle", str(copy), "--target", "local", "--runs", "600",
                                   "--warmup", "30", "--keep-models", str(models), "--out", str(out)],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return json.loads(out.read_text()), models, res.output


@pytest.fixture(scope="session")
def hardswish_torch():
    """conv -> Hardswish -> conv, the MobileNetV3 activation, on a 3x16x16 input."""
    import torch
    from torch import nn

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.Hardswish(), nn.Conv2d(16, 8, 1)).eval()
    return model, torch.rand(1, 3, 16, 16)


@pytest.fixture(scope="session")
def hardswish_int8(tmp_path_factory, hardswish_torch) -> tuple[Path, Path]:
    """The project's int8 export of `hardswish_torch`: without the mobile rewrites, and with them."""
    import numpy as np

    from hybridsplit.exporters import mobile_rewrites
    from hybridsplit.exporters.tflite import export_int8

    model, x = hardswish_torch
    calib = np.random.default_rng(0).random((8, 3, 16, 16), dtype=np.float32)
    out = tmp_path_factory.mktemp("hardswish")
    saved = dict(mobile_rewrites.REWRITES)
    mobile_rewrites.REWRITES.clear()
    try:
        plain = export_int8(model, x, calib, out / "plain_int8.tflite").path
    finally:
        mobile_rewrites.REWRITES.update(saved)
    rewritten = export_int8(model, x, calib, out / "rewritten_int8.tflite").path
    return plain, rewritten


@pytest.fixture(scope="session")
def hardswish_fp32(tmp_path_factory, hardswish_torch) -> Path:
    from hybridsplit.exporters.tflite import export_fp32

    model, x = hardswish_torch
    return export_fp32(model, x, tmp_path_factory.mktemp("hardswish_fp32") / "fp32.tflite").path
