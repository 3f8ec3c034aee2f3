"""CloudHalf: what it accepts is read from the manifest; everything else is a 4xx RequestError."""

from __future__ import annotations

import numpy as np
import pytest

from hybridsplit.bundle.preprocess import dequantize
from hybridsplit.bundle.runtime import OnnxRunner
from hybridsplit.serving import wire
from hybridsplit.serving.cloud import CloudHalf, RequestError


def _status(cloud: CloudHalf, body: bytes) -> int:
    with pytest.raises(RequestError) as info:
        cloud.parse(body)
    return info.value.status


def test_int8_message_gives_cloud_onnx_on_dequantized_features(cloud, bundle, device, watch_data):
    q = device.features(watch_data.test.x[0])
    f = cloud.manifest.feature
    probs = cloud.probabilities(cloud.parse(device.encode(q)))
    logits = OnnxRunner(bundle / "cloud.onnx")(dequantize(q, f.scale, f.zero_point))
    np.testing.assert_allclose(probs, np.exp(logits) / np.exp(logits).sum(1, keepdims=True), rtol=1e-5, atol=1e-7)
    assert probs.shape == (1, len(cloud.labels))


def test_float32_from_the_fp32_device_half_is_accepted(cloud, bundle, watch_data):
    from hybridsplit.serving.client import DeviceRunner

    fp32 = DeviceRunner(bundle, artifact="tflite_fp32")
    x = cloud.parse(fp32.message(watch_data.test.x[:1]))
    assert x.dtype == np.float32 and x.shape == (1, *cloud.feature_shape)


def test_a_batch_of_features_in_one_message(cloud, device, watch_data):
    q = np.concatenate([device.features(watch_data.test.x[i]) for i in range(5)])
    assert cloud.parse(device.encode(q)).shape == (5, *cloud.feature_shape)


def test_wrong_bundle_is_409(cloud, device, watch_data):
    q = device.features(watch_data.test.x[0])
    f = cloud.manifest.feature
    assert _status(cloud, wire.encode(q, b"\x01" * 32, f.scale, f.zero_point)) == 409


def test_wrong_dtype_shape_scale_and_nan_are_422(cloud):
    f = cloud.manifest.feature
    good_shape = (1, *cloud.feature_shape)
    bid = cloud.bundle_id
    assert _status(cloud, wire.encode(np.zeros(good_shape, np.float16), bid)) == 422  # no device half emits fp16
    assert _status(cloud, wire.encode(np.zeros((1, 3, 3), np.int8), bid, f.scale, f.zero_point)) == 422
    assert _status(cloud, wire.encode(np.zeros(good_shape[1:], np.int8), bid, f.scale, f.zero_point)) == 422
    assert _status(cloud, wire.encode(np.zeros(good_shape, np.int8), bid, f.scale * 2, f.zero_point)) == 422
    assert _status(cloud, wire.encode(np.zeros(good_shape, np.int8), bid, f.scale, f.zero_point + 1)) == 422
    bad = np.zeros(good_shape, np.float32)
    bad[0, 0, 0] = np.nan
    assert _status(cloud, wire.encode(bad, bid)) == 422
    too_many = np.zeros((cloud.max_items + 1, *cloud.feature_shape), np.int8)
    assert _status(cloud, wire.encode(too_many, bid, f.scale, f.zero_point)) == 422


def test_malformed_is_400(cloud):
    assert _status(cloud, b"") == 400
    assert _status(cloud, b"GET / HTTP/1.1\r\n\r\n" * 4) == 400


def test_info_is_what_a_client_needs(cloud):
    info = cloud.info()
    assert info["bundle_id"] == cloud.bundle_id.hex()
    assert info["feature"]["shape"] == cloud.manifest.feature.shape
    assert info["feature"]["scale"] == cloud.manifest.feature.scale
    assert info["input"]["normalisation"]["mean"] == cloud.manifest.input.normalisation.mean
    assert info["labels"] == cloud.manifest.labels and info["wire_version"] == wire.VERSION


@pytest.mark.slow
def test_cloud_half_verifies_a_bundle_with_a_core_ml_package(variants_bundle):
    """Core ML packages are directories in `files`; the server checks them like `hybridsplit verify` does."""
    from hybridsplit.serving.cloud import CloudHalf

    cloud = CloudHalf(variants_bundle)
    assert any(entry.directory for entry in cloud.manifest.files.values())


def test_int8_dequantization_is_bit_identical_to_the_wire_formula_for_every_code(cloud):
    """CloudHalf dequantizes with a 256-entry table; it must equal FeatureMessage.dequantized() exactly."""
    f = cloud.manifest.feature
    n = int(np.prod(cloud.feature_shape))
    rows = -(-256 // n)  # enough feature tensors to hold all 256 codes
    codes = np.resize(np.arange(-128, 128, dtype=np.int8), rows * n).reshape(rows, *cloud.feature_shape)
    msg = wire.FeatureMessage(cloud.bundle_id, codes, float(np.float32(f.scale)), f.zero_point)
    body = wire.encode(codes, cloud.bundle_id, msg.scale, msg.zero_point)
    got = cloud.parse(body)
    assert got.dtype == np.float32 and np.array_equal(got.view(np.uint32), msg.dequantized().view(np.uint32))


def test_collate_dequantizes_int8_batches_as_parse_does(cloud, device, watch_data):
    """The server leaves int8 features int8 until the batch (parse(dequantize=False) + collate): the
    batch must equal the per-request float32 features, for int8 alone and mixed with float32."""
    bodies = [device.message(watch_data.test.x[i]) for i in range(5)]
    lazy = [cloud.parse(b, dequantize=False) for b in bodies]
    eager = [cloud.parse(b) for b in bodies]
    assert all(x.dtype == np.int8 for x in lazy) and all(x.dtype == np.float32 for x in eager)
    assert np.array_equal(cloud.collate(lazy), np.concatenate(eager))
    mixed = [lazy[0], eager[1], lazy[2]]
    batch = cloud.collate(mixed)
    assert batch.dtype == np.float32 and np.array_equal(batch, np.concatenate([eager[0], eager[1], eager[2]]))
    assert np.array_equal(cloud.collate(lazy[:1]), eager[0])
