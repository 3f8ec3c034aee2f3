"""`hybridsplit export --format all` on an image backbone: every format x mode x converter, and the report."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from hybridsplit.bundle.manifest import load_manifest, verify_bundle
from hybridsplit.exporters.config import TFLiteMode

from .conftest import train_image_run

pytestmark = pytest.mark.slow


def test_format_all_on_a_tiny_image_backbone(tmp_path):
    from hybridsplit.cli import app

    run = train_image_run(tmp_path, "mobilenet_small", cut="ir3", epochs=2, width=16)
    out = tmp_path / "bundle"
    result = CliRunner().invoke(app, ["export", "--run", str(run), "--out", str(out), "--format", "all"])
    assert result.exit_code == 0, result.output
    assert "export report (mobilenet_small, cut ir3" in result.output
    report = json.loads((out / "export_report.json").read_text())
    rows = {r["artifact"]: r for r in report["rows"]}
    expected = {f"tflite_{m.value}" for m in TFLiteMode} | {f"tflite_{m.value}_onnx2tf" for m in TFLiteMode} \
        | {"cloud_onnx", "onnx_device", "coreml_fp16", "coreml_int8_weights", "pte_fp32"}
    assert expected <= set(rows)
    m = load_manifest(out)
    verify_bundle(out)
    for key, row in rows.items():
        assert row["status"] in ("ok", "failed", "skipped")
        if row["status"] != "ok":
            assert row["message"] and key not in m.artifacts  # a clear reason, and nothing half-kept
            continue
        if row["format"] in ("tflite", "onnx", "pte") and key != "cloud_onnx":
            assert row["max_abs"] is not None and row["accuracy"] is not None and row["bytes"] > 0
            assert key in m.artifacts and m.artifacts[key].bytes == row["bytes"]
    # onnx2tf turns images channels-last; the manifest says so per artifact
    assert m.artifacts["tflite_fp32_onnx2tf"].layout == "NHWC" and m.artifacts["tflite_fp32"].layout == "NCHW"
    assert report["size_ratios"]["tflite_fp32_over_int8"]["ratio"] > 1
