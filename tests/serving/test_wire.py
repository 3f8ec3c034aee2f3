"""Wire format v1: exact byte layout (other clients write it), round trips, and rejections."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hybridsplit.serving import wire

BUNDLE = bytes(range(32))


def test_v1_layout_is_byte_exact():
    t = np.array([[1, -2, 3]], dtype=np.int8)
    body = wire.encode(t, BUNDLE, scale=0.5, zero_point=-128)
    expected = (b"HSF1" + bytes([1, 1, 2, 0]) + BUNDLE + struct.pack("<f", 0.5) + struct.pack("<i", -128)
                + struct.pack("<2I", 1, 3) + bytes([1, 0xFE, 3]))
    assert body == expected
    assert wire.HEADER.size == 48


def test_float_messages_carry_no_quantization():
    t = np.ones((2, 3), np.float32)
    body = wire.encode(t, BUNDLE, scale=7.0, zero_point=3)
    assert struct.unpack_from("<fi", body, 40) == (0.0, 0)
    msg = wire.decode(body)
    assert msg.scale == 0.0 and msg.zero_point == 0
    np.testing.assert_array_equal(msg.dequantized(), t)


arrays = st.sampled_from([np.int8, np.float16, np.float32]).flatmap(
    lambda dt: st.lists(st.integers(1, 5), min_size=1, max_size=4).flatmap(
        lambda shape: st.builds(
            lambda seed: np.random.default_rng(seed).uniform(-100, 100, size=shape).astype(dt),
            st.integers(0, 2**32 - 1))))


@settings(max_examples=200, deadline=None)
@given(arrays, st.floats(1e-4, 10), st.integers(-128, 127))
def test_round_trip(t, scale, zp):
    msg = wire.decode(wire.encode(t, BUNDLE, scale, zp))
    assert msg.bundle_id == BUNDLE
    assert msg.tensor.dtype == t.dtype and msg.tensor.shape == t.shape
    np.testing.assert_array_equal(msg.tensor, t)
    if t.dtype == np.int8:
        assert msg.zero_point == zp and np.isclose(msg.scale, np.float32(scale))
        np.testing.assert_allclose(msg.dequantized(), (t.astype(np.float32) - zp) * np.float32(scale), rtol=1e-6)


@settings(max_examples=200, deadline=None)
@given(arrays, st.data())
def test_every_truncation_is_rejected(t, data):
    body = wire.encode(t, BUNDLE, 0.1, 0)
    cut = data.draw(st.integers(0, len(body) - 1))
    with pytest.raises(wire.WireError):
        wire.decode(body[:cut])
    with pytest.raises(wire.WireError):
        wire.decode(body + b"\0")


@pytest.mark.parametrize("offset,value,what", [
    (0, b"XSF1", "magic"), (4, b"\x02", "version"), (5, b"\x09", "dtype code"),
    (6, b"\x00", "ndim"), (7, b"\x01", "flags"),
])
def test_bad_header_fields(offset, value, what):
    body = bytearray(wire.encode(np.zeros((1, 4), np.int8), BUNDLE, 0.1, 0))
    body[offset:offset + len(value)] = value
    with pytest.raises(wire.WireError):
        wire.decode(bytes(body))


def test_int8_needs_positive_scale():
    with pytest.raises(wire.WireError, match="scale"):
        wire.decode(wire.encode(np.zeros((1, 4), np.int8), BUNDLE, 0.0, 0))


def test_encode_refuses_what_v1_cannot_carry():
    with pytest.raises(wire.WireError, match="dtype"):
        wire.encode(np.zeros((1, 2), np.float64), BUNDLE)
    with pytest.raises(wire.WireError, match="32-byte"):
        wire.encode(np.zeros((1, 2), np.float32), b"short")


def test_bundle_id_is_sha256_of_manifest(bundle):
    import hashlib

    assert wire.bundle_id(bundle) == hashlib.sha256((bundle / "manifest.json").read_bytes()).digest()


@pytest.mark.parametrize("dims", [(0,), (1, 0), (0, 2**32 - 1, 2**32 - 1), (2**32 - 1, 0)])
def test_zero_dims_are_refused_before_numpy_sees_them(dims):
    head = wire.HEADER.pack(wire.MAGIC, 1, 1, len(dims), 0, BUNDLE, 0.1, 0)
    with pytest.raises(wire.WireError, match="contain a 0"):
        wire.decode(head + struct.pack(f"<{len(dims)}I", *dims))


@pytest.mark.parametrize("scale,zero_point", [(0.1, 0), (0.0, 1), (float("nan"), 0), (-0.0, 0)])
def test_float_messages_must_carry_zero_quantization_bytes(scale, zero_point):
    head = wire.HEADER.pack(wire.MAGIC, 1, 3, 2, 0, BUNDLE, scale, zero_point)
    with pytest.raises(wire.WireError, match="requires 0 and 0"):
        wire.decode(head + struct.pack("<2I", 1, 2) + bytes(8))


def test_int8_zero_point_must_fit_int8():
    head = wire.HEADER.pack(wire.MAGIC, 1, 1, 2, 0, BUNDLE, 0.1, 128)
    with pytest.raises(wire.WireError, match="-128..127"):
        wire.decode(head + struct.pack("<2I", 1, 2) + bytes(2))
