"""The second route (ONNX -> onnx2tf -> TFLite) agrees with litert-torch; layouts follow the manifest."""

from __future__ import annotations

import numpy as np
import pytest

from hybridsplit.bundle.manifest import load_manifest, verify_bundle
from hybridsplit.bundle.runtime import OnnxRunner, TFLiteRunner

pytestmark = pytest.mark.slow


def _to_file_layout(x: np.ndarray, layout: str) -> np.ndarray:
    return np.ascontiguousarray(np.moveaxis(x, 1, -1)) if layout in ("NWC", "NHWC") else x


def _from_file_layout(y: np.ndarray, layout: str) -> np.ndarray:
    return np.ascontiguousarray(np.moveaxis(y, -1, 1)) if layout in ("NWC", "NHWC") else y


def test_onnx2tf_bundle_records_its_layout(onnx2tf_bundle):
    verify_bundle(onnx2tf_bundle)
    m = load_manifest(onnx2tf_bundle)
    art = m.artifacts["tflite_int8"]
    assert art.converter == "onnx2tf"
    r = TFLiteRunner(onnx2tf_bundle / "device.tflite")
    assert r.input_shape == m.input.shape == art.input_shape
    assert r.output_shape == m.feature.shape
    # onnx2tf turned the IMU window channels-last: (1, 100, 6) NWC, features (1, 12, 64) NWC
    assert m.input.layout == art.layout == "NWC" and m.input.shape == [1, 100, 6]
    assert m.feature.layout == art.output_layout == "NWC"
    assert m.input.normalisation.axis == 2


def test_both_routes_agree_within_tolerance(default_bundle, onnx2tf_bundle, watch_data):
    lit, o2t = load_manifest(default_bundle), load_manifest(onnx2tf_bundle)
    x = watch_data.test.x[:128]
    for key, rtol in (("tflite_fp32", lit.recipe["export"]["parity_rtol"]), ("tflite_int8", 0.1)):
        a = TFLiteRunner(default_bundle / lit.artifacts[key].file)(x)
        layout_in, layout_out = o2t.artifacts[key].layout, o2t.artifacts[key].output_layout
        b = _from_file_layout(TFLiteRunner(onnx2tf_bundle / o2t.artifacts[key].file)(_to_file_layout(x, layout_in)), layout_out)
        assert a.shape == b.shape
        assert np.abs(a - b).max() / np.abs(a).max() <= 2 * rtol, key
    assert abs(lit.accuracy["tflite_int8"] - o2t.accuracy["tflite_int8"]) <= 0.02


def test_onnx2tf_bundle_accuracy_following_the_manifest(onnx2tf_bundle, watch_data):
    """A client that only reads the manifest: quantize in the file's layout, cloud.onnx takes NWC features."""
    m = load_manifest(onnx2tf_bundle)
    device, cloud = TFLiteRunner(onnx2tf_bundle / "device.tflite"), OnnxRunner(onnx2tf_bundle / "cloud.onnx")
    x = _to_file_layout(watch_data.test.x, m.input.layout)
    logits = cloud(device(x))
    acc = float((logits.argmax(1) == watch_data.test.primary).mean())
    assert acc == pytest.approx(m.accuracy["tflite_int8"])
    assert m.artifacts["cloud_onnx"].layout == "NWC"


@pytest.mark.parametrize("mode", ["fp16", "dynamic_int8", "int16x8"])
def test_onnx2tf_modes_meet_their_tolerance(onnx2tf_bundle, mode):
    m = load_manifest(onnx2tf_bundle)
    key = f"tflite_{mode}"
    assert m.artifacts[key].converter == "onnx2tf"
    assert m.parity[key].rel <= m.parity[key].tolerance
    assert m.accuracy[key] >= m.accuracy["torch_fp32"] - 0.03


def test_channels_last_bundle_through_the_python_client_and_the_privacy_features(onnx2tf_bundle):
    """DeviceRunner and the privacy features take windows in the data's layout (NCW) and follow the
    manifest's layouts for a channels-last artifact: the client reaches the manifest's int8 accuracy
    through CloudHalf, and the attacker sees features of the manifest's shape."""
    from hybridsplit.privacy.features import artifact_features
    from hybridsplit.serving.client import DeviceRunner, eval_windows
    from hybridsplit.serving.cloud import CloudHalf

    m = load_manifest(onnx2tf_bundle)
    device, cloud, test = DeviceRunner(onnx2tf_bundle), CloudHalf(onnx2tf_bundle), eval_windows(onnx2tf_bundle)
    pred = [int(cloud.probabilities(cloud.parse(device.message(x))).argmax(1)[0]) for x in test.x]
    assert float((np.array(pred) == test.primary).mean()) == pytest.approx(m.accuracy["tflite_int8"])
    fs, _, _ = artifact_features(onnx2tf_bundle)
    assert list(fs.shape) == m.feature.shape[1:] and len(fs.test) == len(test.x)
