"""Wire format v1 against messages built by hand with `struct` from the documented layout (not by
`wire.encode`), and the exact one-line reasons `decode` gives for each malformed field."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from hybridsplit.serving import wire

BUNDLE = bytes(range(32))


def message(code: int, dims: list[int], payload: bytes, scale: float = 0.0, zero_point: int = 0,
            ndim: int | None = None) -> bytes:
    """offset 0 magic, 4 version, 5 dtype code, 6 ndim, 7 flags, 8 bundle id, 40 scale f32, 44 zero_point i32, 48 dims u32."""
    nd = len(dims) if ndim is None else ndim
    return (b"HSF1" + bytes([1, code, nd, 0]) + BUNDLE + struct.pack("<fi", scale, zero_point)
            + struct.pack(f"<{len(dims)}I", *dims) + payload)


def test_hand_built_messages_decode_to_their_values():
    q = wire.decode(message(1, [1, 3], bytes([1, 0xFE, 0x80]), scale=0.5, zero_point=-2))
    assert q.tensor.tolist() == [[1, -2, -128]] and (q.scale, q.zero_point) == (0.5, -2)
    np.testing.assert_array_equal(q.dequantized(), [[1.5, 0.0, -63.0]])  # (q + 2) * 0.5
    h = wire.decode(message(2, [2], struct.pack("<2e", 1.5, -2.0)))
    assert h.tensor.dtype == np.float16 and h.tensor.tolist() == [1.5, -2.0]
    assert (h.scale, h.zero_point) == (0.0, 0)  # only int8 carries quantization
    f = wire.decode(message(3, [1, 1, 2], struct.pack("<2f", 0.25, -8.0)))
    assert f.tensor.shape == (1, 1, 2) and f.tensor.ravel().tolist() == [0.25, -8.0] and f.scale == 0.0


@pytest.mark.parametrize(("body", "reason"), [
    (message(3, [1, 3], b"\0" * 8), "payload is 8 bytes; dims [1, 3] of float32 need 12"),
    (message(1, [2, 2], b"\0" * 5, scale=1.0), "payload is 5 bytes; dims [2, 2] of int8 need 4"),
    (message(3, [1] * 9, b"\0" * 4), "ndim 9 out of range 1..8"),
    (message(3, [], b"", ndim=0), "ndim 0 out of range 1..8"),
    (message(3, [2], b"", ndim=2), "message truncated inside the dims"),
    (message(3, [], b"", ndim=1), "message truncated inside the dims"),  # the 48-byte header alone
    (message(1, [1], b"\0", scale=float("nan")), "int8 message has scale nan"),
    (message(1, [1], b"\0", scale=-0.5), "int8 message has scale -0.5"),
    (message(1, [1], b"\0", scale=float("inf")), "int8 message has scale inf"),
    (message(1, [1], b"\0", scale=0.0), "int8 message has scale 0.0"),
    (b"HSF1" + bytes(40), "message is 44 bytes, shorter than the 48-byte header"),
    (message(3, [0, 3], b""), "dims [0, 3] contain a 0; every dimension must be at least 1"),
    (message(2, [2], b"\0" * 4, scale=9.0, zero_point=4), "float message has scale/zero_point (9, 4); version 1 requires 0 and 0"),
    (message(1, [1], b"\0", scale=1.0, zero_point=128), "int8 message has zero_point 128; it must be in -128..127"),
])
def test_each_malformed_message_gets_its_reason(body, reason):
    with pytest.raises(wire.WireError) as err:
        wire.decode(body)
    assert reason in str(err.value)


def test_encode_writes_the_layout_and_defaults_to_no_quantization():
    body = wire.encode(np.array([[1, 2]], np.int8), BUNDLE, 0.25, 3)
    assert body == message(1, [1, 2], bytes([1, 2]), 0.25, 3)
    assert wire.encode(np.array([0.5], np.float16), BUNDLE, 7.0, 7) == message(2, [1], struct.pack("<e", 0.5))
    no_scale = wire.encode(np.zeros((1, 2), np.int8), BUNDLE)  # int8 without its scale: refused when read
    assert struct.unpack_from("<fi", no_scale, 40) == (0.0, 0)
    with pytest.raises(wire.WireError, match="scale 0.0"):
        wire.decode(no_scale)
    eight = np.arange(2, dtype=np.float32).reshape([1] * 7 + [2])  # 8 dims: the most v1 carries
    assert wire.encode(eight, BUNDLE) == message(3, [1] * 7 + [2], struct.pack("<2f", 0.0, 1.0))
    assert wire.decode(wire.encode(eight, BUNDLE)).tensor.shape == eight.shape
    for bad in (np.float32(1.0).reshape(()), np.zeros([1] * 9, np.float32)):
        with pytest.raises(wire.WireError, match="dims; 1..8 are allowed"):
            wire.encode(bad, BUNDLE)
