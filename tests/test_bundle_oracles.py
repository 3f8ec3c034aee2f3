"""The bundle's numbers against independent answer keys (tests/oracle.py): accuracy through LiteRT and
ONNX Runtime called directly, parity recomputed from the artifacts against torch, and the export
report's rows checked one by one — none of it read back from the manifest the exporter wrote."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from oracle import litert_features, manifest_json, onnx_logits, relative_error, split_predictions

pytestmark = pytest.mark.slow

PARITY_WINDOWS = 256  # the exporter's own count (exporters/prepared.py); any fixed set would do


@pytest.fixture(scope="module")
def torch_halves(trained_run, default_bundle):
    """The trained model cut where the bundle says, in torch (the reference parity is defined against)."""
    from hybridsplit.checkpoint import Checkpoint
    from hybridsplit.models import split_model
    from hybridsplit.train import load_model

    split = split_model(load_model(Checkpoint.load(trained_run)), manifest_json(default_bundle)["cut"])
    return split.device.eval(), split.cloud.eval(), split.full.eval()


def _torch(module, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return module(torch.from_numpy(np.ascontiguousarray(x, np.float32))).numpy()


@pytest.mark.parametrize(("key", "device_file"), [("tflite_int8", "device.tflite"),
                                                  ("tflite_fp32", "device_fp32.tflite")])
def test_accuracy_through_the_runtimes_called_directly(default_bundle, watch_data, key, device_file):
    raw = manifest_json(default_bundle)
    assert raw["input"]["layout"] == "NCW" and raw["artifacts"][key]["output_layout"] == "NCW"  # the oracle's layout
    preds = split_predictions(default_bundle, watch_data.test.x, device_file)
    acc = float((preds == watch_data.test.primary).mean())
    assert acc >= 0.90
    assert raw["accuracy"][key] == pytest.approx(acc, abs=1e-12)
    # balanced accuracy and per-class recall by scikit-learn's own implementation
    from sklearn.metrics import balanced_accuracy_score, recall_score

    assert raw["balanced_accuracy"][key] == pytest.approx(balanced_accuracy_score(watch_data.test.primary, preds), abs=1e-12)
    labels = list(range(len(raw["labels"])))
    recall = recall_score(watch_data.test.primary, preds, labels=labels, average=None, zero_division=0)
    assert raw["class_recall"][key] == pytest.approx(list(recall), abs=1e-12)


def test_torch_accuracy_and_the_int8_drop(default_bundle, watch_data, torch_halves):
    _, _, full = torch_halves
    torch_acc = float((_torch(full, watch_data.test.x).argmax(1) == watch_data.test.primary).mean())
    int8_acc = float((split_predictions(default_bundle, watch_data.test.x) == watch_data.test.primary).mean())
    raw = manifest_json(default_bundle)
    assert raw["accuracy"]["torch_fp32"] == pytest.approx(torch_acc, abs=1e-12)
    assert torch_acc - int8_acc <= raw["recipe"]["export"]["max_int8_drop"] / 100


def test_parity_recomputed_from_the_artifacts(default_bundle, watch_data, torch_halves):
    device, cloud, _ = torch_halves
    raw = manifest_json(default_bundle)
    rtol = raw["recipe"]["export"]["parity_rtol"]
    x = watch_data.test.x[:PARITY_WINDOWS]
    ref = _torch(device, x)
    fp32 = relative_error(ref, litert_features(default_bundle / "device_fp32.tflite", x))
    int8 = relative_error(ref, litert_features(default_bundle / "device.tflite", x))
    logits = relative_error(_torch(cloud, ref), onnx_logits(default_bundle / "cloud.onnx", ref))
    assert fp32 <= rtol and logits <= rtol
    assert 0 < int8 <= 0.15  # TFLITE_TOLERANCE[int8], written out: the config is code under test too
    # the manifest reports what the files do (fp32 differences are at rounding level: same order of magnitude)
    assert raw["parity"]["tflite_int8"]["rel"] == pytest.approx(int8, rel=1e-3)
    for key, mine in (("tflite_fp32", fp32), ("cloud_onnx", logits)):
        assert mine / 10 <= raw["parity"][key]["rel"] <= max(mine * 10, 1e-6), key


def test_export_report_rows_exactly(default_bundle, watch_data):
    import json

    report = json.loads((default_bundle / "export_report.json").read_text())
    raw = manifest_json(default_bundle)
    rows = {r["artifact"]: r for r in report["rows"]}
    assert [r["artifact"] for r in report["rows"]] == ["tflite_int8", "tflite_fp32", "cloud_onnx"]
    expected = {  # artifact: (file, format, mode, layout, tolerance)
        "tflite_int8": ("device.tflite", "tflite", "int8", "NCW->NCW", 0.15),
        "tflite_fp32": ("device_fp32.tflite", "tflite", "fp32", "NCW->NCW", raw["recipe"]["export"]["parity_rtol"]),
        "cloud_onnx": ("cloud.onnx", "onnx", "fp32", "NCW->NC", raw["recipe"]["export"]["parity_rtol"]),
    }
    for key, (file, fmt, mode, layout, tol) in expected.items():
        row = rows[key]
        assert (row["status"], row["file"], row["format"], row["mode"], row["layout"]) == ("ok", file, fmt, mode, layout)
        assert row["bytes"] == (default_bundle / file).stat().st_size
        assert row["tolerance"] == pytest.approx(tol) and row["rel"] <= tol
        assert row["rel"] == raw["parity"][key]["rel"] and row["max_abs"] == raw["parity"][key]["max_abs"]
    for key in ("tflite_int8", "tflite_fp32"):
        preds = split_predictions(default_bundle, watch_data.test.x, rows[key]["file"])
        assert rows[key]["accuracy"] == pytest.approx(float((preds == watch_data.test.primary).mean()), abs=1e-12)
    assert rows["cloud_onnx"]["accuracy"] is None
