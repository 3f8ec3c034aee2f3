"""A `python:` model with skip connections goes through train -> export like a registry backbone,
and `hybridsplit cuts` / `hybridsplit export` refuse an invalid cut with one line and no files."""

import json

import pytest
from typer.testing import CliRunner

from hybridsplit.cli import app

from .conftest import TINY, needs_torchvision

runner = CliRunner()


def _one_line_error(result):
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.output.strip().splitlines() if ln.strip()]
    assert lines and lines[0].startswith("error:"), result.output
    return " ".join(ln.strip() for ln in lines)  # rich may wrap the one line at the terminal width


def test_cuts_command_lists_shapes_bytes_and_macs():
    result = runner.invoke(app, ["cuts", "--model", TINY, "--input-shape", "3,32,32", "--width", "8", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    rows = {r["cut"]: r for r in data["cuts"]}
    assert data["input_shape"] == [3, 32, 32]
    assert rows["block2.relu_1"]["output_shape"] == [16, 16, 16]
    assert rows["block2.relu_1"]["bytes_fp32"] == 4 * 16 * 16 * 16 and rows["block2.relu_1"]["bytes_int8"] == 16 * 16 * 16
    assert 0 < rows["block1.relu_1"]["device_macs"] < rows["block2.relu_1"]["device_macs"] < data["cuts"][0]["total_macs"]
    assert "block2.conv1" not in rows
    table = runner.invoke(app, ["cuts", "--model", TINY, "--input-shape", "3,32,32"])
    assert table.exit_code == 0 and "block3.relu_1" in table.output and "device MACs" in table.output


def test_cuts_command_refuses_an_invalid_cut_in_one_line():
    result = runner.invoke(app, ["cuts", "--model", TINY, "--input-shape", "3,32,32", "--cut", "block1.bn2"])
    msg = _one_line_error(result)
    assert "tensors cross it (stem.2, block1.bn2)" in msg and "'block1.add' after" in msg
    ok = runner.invoke(app, ["cuts", "--model", TINY, "--input-shape", "3,32,32", "--cut", "block1"])
    assert ok.exit_code == 0 and "block1.relu_1" in ok.output


@pytest.mark.parametrize("args, message", [
    (["--model", "torchvison:resnet18"], "Did you mean 'torchvision:resnet18'"),
    (["--model", TINY, "--input-shape", "3,a,32"], "not a per-sample shape"),
])
def test_cuts_command_bad_specs(args, message):
    assert message in _one_line_error(runner.invoke(app, ["cuts", *args]))


@needs_torchvision
def test_cuts_command_on_a_torchvision_model():
    result = runner.invoke(app, ["cuts", "--model", "torchvision:resnet18", "--input-shape", "3,64,64", "--json"])
    assert result.exit_code == 0, result.output
    names = [r["cut"] for r in json.loads(result.output)["cuts"]]
    assert "layer2.1.relu_1" in names and "layer2.1.conv1" not in names


@pytest.fixture(scope="module")
def byom_run(tmp_path_factory):
    """A tiny skip-connection model from a python: spec, trained 1 epoch on generated images."""
    from hybridsplit.data import build_data
    from hybridsplit.data.synthetic import make_image_folder
    from hybridsplit.recipe import recipe_from_dict
    from hybridsplit.train import train

    root = tmp_path_factory.mktemp("byom")
    images = make_image_folder(root / "images", n=96, size=32)
    recipe = recipe_from_dict({
        "name": "byom-tiny", "seed": 0,
        "data": {"dataset": "image_folder", "path": str(images), "protocol": "random", "image_size": 32},
        "model": {"backbone": TINY, "cut": "stem", "width": 8},
        "train": {"epochs": 1, "batch_size": 16, "threads": 1},
        # one epoch of random-init training: the int8 accuracy gate is not what this test checks
        "export": {"calibration_samples": 32, "max_int8_drop": 100.0, "int8_rtol": 1.0},
    })
    _, ckpt = train(recipe, build_data(recipe.data, recipe.seed), show_progress=False)
    ckpt.save(root / "run")
    return root


@pytest.mark.slow
def test_python_model_trains_and_exports_a_parity_checked_bundle(byom_run):
    from hybridsplit.bundle.manifest import verify_bundle
    from hybridsplit.checkpoint import Checkpoint
    from hybridsplit.exporters.bundle import build_bundle
    from hybridsplit.train import load_model

    ckpt = Checkpoint.load(byom_run / "run")
    assert ckpt.recipe.model.backbone == TINY
    assert load_model(ckpt).backbone_spec == TINY  # rebuilt from the spec, weights from the checkpoint
    manifest = build_bundle(byom_run / "run", byom_run / "bundle")
    assert manifest.cut == "stem" and manifest.backbone == TINY  # the cloud half holds every residual block
    assert manifest.parity["tflite_fp32"].rel <= 1e-4
    assert manifest.parity["cloud_onnx"].rel <= 1e-4
    assert "tflite_int8" in manifest.parity  # reported; with 1 epoch of training it is not gated
    assert sorted(manifest.feature.shape[1:]) == [8, 32, 32]
    verify_bundle(byom_run / "bundle")


@pytest.mark.slow
def test_export_at_an_invalid_cut_fails_in_one_line_and_writes_nothing(byom_run):
    out = byom_run / "refused"
    before = sorted(p.name for p in byom_run.iterdir())
    result = runner.invoke(app, ["export", "--run", str(byom_run / "run"), "--out", str(out), "--cut", "block2.conv2"])
    msg = _one_line_error(result)
    assert "Cannot cut at 'block2.conv2'" in msg and "'block1.relu_1' before" in msg
    assert not out.exists()
    assert sorted(p.name for p in byom_run.iterdir()) == before  # no temp directories left behind


@pytest.mark.slow
def test_int8_device_half_ending_in_a_residual_add_has_int8_output(tmp_path):
    import numpy as np
    import torch

    from hybridsplit.bundle.runtime import TFLiteRunner
    from hybridsplit.exporters.tflite import export_int8
    from hybridsplit.models import create_backbone, split_model

    torch.manual_seed(0)
    split = split_model(create_backbone(TINY, 4, (3, 32, 32), width=8).eval(), "block2")
    calib = np.random.default_rng(0).standard_normal((8, 3, 32, 32)).astype(np.float32)
    export_int8(split.device, torch.from_numpy(calib[:1]), calib, tmp_path / "d.tflite")
    runner = TFLiteRunner(tmp_path / "d.tflite")
    assert runner.input_quant is not None
    assert runner.output_quant is not None
