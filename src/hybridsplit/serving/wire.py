"""The wire format a device uses to send features to the cloud half (version 1).

Binary, little-endian, one message per request (Content-Type: application/x-hybridsplit-features):

    offset  size  field
    0       4     magic b"HSF1"
    4       1     version (1)
    5       1     dtype code: 1 = int8, 2 = float16, 3 = float32
    6       1     ndim (1..8)
    7       1     flags (0; reserved)
    8       32    bundle id: the raw sha256 of the bundle's manifest.json
    40      4     scale (float32; int8 only, else 0)
    44      4     zero_point (int32; int8 only, else 0)
    48      4*nd  dims (uint32 each), batch first
    ...     n     payload: prod(dims) * itemsize bytes, C order

The cloud dequantizes int8 as (q - zero_point) * scale. The Android app, web demo and Python
client all write this layout; `decode` rejects anything else with a WireError (-> HTTP 4xx).
"""

from __future__ import annotations

import hashlib
import math
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hybridsplit.errors import HybridsplitError

MAGIC = b"HSF1"
VERSION = 1
CONTENT_TYPE = "application/x-hybridsplit-features"
HEADER = struct.Struct("<4sBBBB32sfi")  # 48 bytes
MAX_NDIM = 8
DIMS = {n: struct.Struct(f"<{n}I") for n in range(1, MAX_NDIM + 1)}  # uint32 dims after the header
DTYPES = {1: np.dtype(np.int8), 2: np.dtype("<f2"), 3: np.dtype("<f4")}
CODES = {v: k for k, v in DTYPES.items()}


class WireError(HybridsplitError):
    """A malformed feature message."""


@dataclass(frozen=True)
class FeatureMessage:
    bundle_id: bytes
    tensor: np.ndarray
    scale: float = 0.0
    zero_point: int = 0

    def dequantized(self) -> np.ndarray:
        if self.tensor.dtype == np.int8:
            return ((self.tensor.astype(np.float32) - self.zero_point) * self.scale).astype(np.float32)
        return self.tensor.astype(np.float32)


def bundle_id(bundle_dir: str | Path) -> bytes:
    """The id a client must send: sha256 of the bundle's manifest.json bytes."""
    return hashlib.sha256((Path(bundle_dir) / "manifest.json").read_bytes()).digest()


def encode(tensor: np.ndarray, bundle: bytes, scale: float = 0.0, zero_point: int = 0) -> bytes:
    dtype = np.dtype(tensor.dtype).newbyteorder("<") if tensor.dtype != np.int8 else np.dtype(np.int8)
    code = CODES.get(dtype)
    if code is None:
        raise WireError(f"dtype {tensor.dtype} cannot be sent; use int8, float16 or float32")
    if len(bundle) != 32:
        raise WireError("bundle id must be the 32-byte sha256 of manifest.json")
    if not 1 <= tensor.ndim <= MAX_NDIM:
        raise WireError(f"tensor has {tensor.ndim} dims; 1..{MAX_NDIM} are allowed")
    header = HEADER.pack(MAGIC, VERSION, code, tensor.ndim, 0, bundle,
                         float(scale) if code == 1 else 0.0, int(zero_point) if code == 1 else 0)
    dims = DIMS[tensor.ndim].pack(*tensor.shape)
    return header + dims + np.ascontiguousarray(tensor, dtype=dtype).tobytes()


def decode(body: bytes) -> FeatureMessage:
    """Any bytes -> a FeatureMessage, or WireError naming the first field that is wrong. Every field is
    checked before numpy sees the payload, so nothing numpy raises can escape."""
    if len(body) < HEADER.size:
        raise WireError(f"message is {len(body)} bytes, shorter than the {HEADER.size}-byte header")
    magic, ver, code, ndim, flags, bundle, scale, zero_point = HEADER.unpack_from(body)
    if magic != MAGIC:
        raise WireError(f"bad magic {magic!r}; expected {MAGIC!r} (is this a hybridsplit feature message?)")
    if ver != VERSION:
        raise WireError(f"wire version {ver} is not supported; this server speaks version {VERSION}")
    if code not in DTYPES:
        raise WireError(f"unknown dtype code {code}; expected 1 (int8), 2 (float16) or 3 (float32)")
    if not 1 <= ndim <= MAX_NDIM:
        raise WireError(f"ndim {ndim} out of range 1..{MAX_NDIM}")
    if flags != 0:
        raise WireError(f"flags {flags} set; version 1 defines none")
    _check_quantization(code, scale, zero_point, body[40:48])
    dims_end = HEADER.size + 4 * ndim
    if len(body) < dims_end:
        raise WireError("message truncated inside the dims")
    dims = DIMS[ndim].unpack_from(body, HEADER.size)
    if 0 in dims:  # an empty tensor carries nothing to classify, and numpy cannot reshape 0 bytes to 2^32-1 x 0
        raise WireError(f"dims {list(dims)} contain a 0; every dimension must be at least 1")
    dtype = DTYPES[code]
    count = math.prod(dims)  # a Python int: no overflow, whatever the dims
    if len(body) - dims_end != count * dtype.itemsize:
        raise WireError(f"payload is {len(body) - dims_end} bytes; dims {list(dims)} of {dtype.name} need "
                        f"{count * dtype.itemsize}")
    tensor = np.frombuffer(body, dtype=dtype, count=count, offset=dims_end).reshape(dims)
    return FeatureMessage(bundle, tensor, float(scale) if code == 1 else 0.0, int(zero_point) if code == 1 else 0)


def _check_quantization(code: int, scale: float, zero_point: int, raw: bytes) -> None:
    """int8: a positive finite scale and an int8 zero point; float messages: both fields all-zero bytes."""
    if code != 1:
        if raw != bytes(8):  # bytes, not ==0.0: -0.0 and NaN are refused too
            raise WireError(f"float message has scale/zero_point ({scale:g}, {zero_point}); version 1 requires 0 and 0")
        return
    if not (math.isfinite(scale) and scale > 0):
        raise WireError(f"int8 message has scale {scale}; it must be a positive finite number")
    if not -128 <= zero_point <= 127:
        raise WireError(f"int8 message has zero_point {zero_point}; it must be in -128..127")
