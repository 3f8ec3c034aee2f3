"""Conversion errors: one clear line naming the op and the user's layer, exit 2, no bundle."""

from __future__ import annotations

from collections import OrderedDict

import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from hybridsplit.errors import ExportError
from hybridsplit.exporters.diagnose import explain, find_op

pytestmark = pytest.mark.slow
UNSUPPORTED = "exporters_test_cumprod_net"


class CumProd(nn.Module):
    """A layer neither litert-torch nor torch.onnx (opset 17) can lower: aten.cumprod."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cumprod(torch.sigmoid(x), dim=-1)


def _register() -> None:
    from hybridsplit.models import BACKBONES
    from hybridsplit.models.base import BackboneInfo, StagedNet, register_backbone

    if UNSUPPORTED in BACKBONES:
        return

    def net(num_classes: int, input_shape: tuple[int, ...], width: int = 32) -> StagedNet:
        c = input_shape[0]
        return StagedNet(OrderedDict(
            block1=nn.Sequential(nn.Conv1d(c, 8, 5, padding=2), nn.ReLU()),
            block2=nn.Sequential(nn.Conv1d(8, 8, 3, padding=1), CumProd()),
            pool=nn.Sequential(nn.AdaptiveAvgPool1d(1), nn.Flatten()),
            head=nn.Linear(8, num_classes),
        ), input_shape)

    net.__name__ = UNSUPPORTED
    register_backbone(BackboneInfo("imu", "block2", "test model holding aten.cumprod"))(net)


@pytest.fixture(scope="module")
def unsupported_run(tmp_path_factory, default_recipe, watch_data):
    from hybridsplit.train import train

    _register()
    recipe = default_recipe.model_copy(deep=True)
    recipe.model.backbone, recipe.model.cut = UNSUPPORTED, "block2"
    recipe.train.epochs = 1
    recipe.export.calibration_samples = 32  # the int8 attempt calibrates before it fails
    _, ckpt = train(recipe, watch_data, show_progress=False)
    run = tmp_path_factory.mktemp("runs") / "cumprod"
    ckpt.save(run)
    return run


def _export(run, out, *args):
    from hybridsplit.cli import app

    return CliRunner().invoke(app, ["export", "--run", str(run), "--out", str(out), *args])


@pytest.mark.parametrize("converter", ["auto", "litert-torch", "onnx2tf"])
def test_unsupported_op_gives_one_line_exit_2_and_no_bundle(unsupported_run, tmp_path, converter):
    out = tmp_path / "bundles" / "cumprod"
    result = _export(unsupported_run, out, "--converter", converter)
    text = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert "cumprod" in text and "block2.1" in text and "CumProd" in text, text
    assert "try" in text  # what to do next
    assert not out.exists()
    assert not [p for p in out.parent.iterdir()] if out.parent.exists() else True  # no temp dirs left
    if converter == "auto":
        assert "falling back to onnx2tf" in text  # the fallback is said out loud
    if converter == "litert-torch":
        assert "litert-torch cannot lower op aten.cumprod" in text


def test_find_op_names_the_layer():
    model = nn.Sequential(OrderedDict(stem=nn.Conv1d(3, 4, 1), odd=nn.Sequential(nn.ReLU(), CumProd())))
    site = find_op("aten.cumprod.default", model, torch.randn(1, 3, 10))
    assert site is not None and site.layer == "odd.1" and site.layer_type == "CumProd"


def test_dynamic_shape_is_named_as_such():
    class Mask(nn.Module):
        def forward(self, x):
            return x[x > 0].sum().reshape(1, 1) * torch.ones(1, int((x > 0).sum()))

    model = nn.Sequential(OrderedDict(stem=nn.Linear(4, 4), mask=Mask())).eval()
    sample = torch.randn(1, 4)
    with pytest.raises(Exception) as info:
        torch.export.export(model, (sample,))
    err = explain(info.value, model, sample, "torch.export")
    assert isinstance(err, ExportError)
    assert "dynamic" in str(err) and "fixed shapes" in str(err)


def test_layout_mismatch_is_named(default_bundle):
    from hybridsplit.exporters.artifact import tflite_artifact

    path = default_bundle / "device_fp32.tflite"
    ok = tflite_artifact(path, "fp32", "litert-torch", [1, 6, 100], "NCW")
    assert ok.input_layout == "NCW" and ok.output_shape == [1, 64, 12]
    with pytest.raises(ExportError, match=r"Layout mismatch: device_fp32.tflite takes input \[1, 6, 100\], expected \[1, 100, 6\] \(NWC\)"):
        tflite_artifact(path, "fp32", "litert-torch", [1, 6, 100], "NCW", input_channels_last=True)
