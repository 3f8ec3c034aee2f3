"""The spine's bundle: contents, sha256s, runtimes, accuracy and the parity gate."""

import json

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter

from hybridsplit.bundle.manifest import Parity, load_manifest, verify_bundle
from hybridsplit.errors import ExportError, SpecError
from hybridsplit.exporters.bundle import build_bundle, check_gates
from hybridsplit.recipe import ExportConfig

pytestmark = pytest.mark.slow


def test_manifest_files_match_their_sha256(default_bundle):
    manifest = verify_bundle(default_bundle)
    assert {"device.tflite", "device_fp32.tflite", "cloud.onnx"} <= set(manifest.files)
    raw = json.loads((default_bundle / "manifest.json").read_text())
    for key in ("schema_version", "files", "cut", "input", "feature", "labels", "parity", "accuracy"):
        assert key in raw


def test_device_tflite_matches_the_manifest_in_litert(default_bundle):
    m = load_manifest(default_bundle)
    it = Interpreter(model_path=str(default_bundle / "device.tflite"))
    it.allocate_tensors()
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    assert list(inp["shape"]) == m.input.shape == [1, 6, 100]
    assert inp["dtype"] == np.int8 and out["dtype"] == np.int8 and m.feature.dtype == "int8"
    assert list(out["shape"]) == m.feature.shape
    assert inp["quantization"] == pytest.approx((m.input.quantization.scale, m.input.quantization.zero_point))
    assert out["quantization"] == pytest.approx((m.feature.scale, m.feature.zero_point))
    assert m.feature.bytes_per_inference == int(np.prod(m.feature.shape))


def test_accuracy_per_artifact_meets_the_spine_targets(default_bundle):
    acc = load_manifest(default_bundle).accuracy
    assert acc["tflite_int8"] >= 0.90
    assert acc["torch_fp32"] - acc["tflite_int8"] <= 0.02
    assert abs(acc["tflite_fp32"] - acc["torch_fp32"]) <= 0.002


def test_manifest_accuracy_is_reproduced_through_the_runtimes(default_bundle, watch_data):
    """Re-run device.tflite -> cloud.onnx on the test split, in LiteRT and ONNX Runtime called directly
    (tests/oracle.py, not the project's runners): the manifest's number is real."""
    from oracle import split_predictions

    m = load_manifest(default_bundle)
    pred = split_predictions(default_bundle, watch_data.test.x)
    assert float((pred == watch_data.test.primary).mean()) == pytest.approx(m.accuracy["tflite_int8"])


def test_int8_accuracy_gate():
    ok = Parity(max_abs=0, mean_abs=0, rel=0)
    parity = {"tflite_fp32": ok, "cloud_onnx": ok, "tflite_int8": ok}
    check_gates(parity, {"torch_fp32": 0.95, "tflite_int8": 0.935}, ExportConfig())
    with pytest.raises(ExportError, match="2.50 points below"):
        check_gates(parity, {"torch_fp32": 0.95, "tflite_int8": 0.925}, ExportConfig())


def test_failed_export_keeps_the_previous_bundle(tmp_path, trained_run, default_bundle):
    import shutil

    out = tmp_path / "b"
    shutil.copytree(default_bundle, out)
    before = (out / "manifest.json").read_bytes()
    with pytest.raises(SpecError):
        build_bundle(trained_run, out, cut="no_such_cut")
    assert (out / "manifest.json").read_bytes() == before
