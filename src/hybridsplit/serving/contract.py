"""At start, the manifest is cross-checked against cloud.onnx itself; any disagreement is one BundleError line.

`verify_bundle` proves the files are the ones the manifest lists; this proves the manifest describes
them: a manifest edited but still valid JSON (feature shape changed, labels cut or emptied, a NaN or
negative scale, cloud.onnx dropped from `files` so its tampered weights go unchecked) would otherwise
start a server that 500s, refuses everything, or answers differently from the exported model.
The same check gives the feature range a float message must lie in (`feature_range`).
"""

from __future__ import annotations

import math

from hybridsplit.bundle.manifest import Manifest
from hybridsplit.errors import BundleError

CLOUD_FILE = "cloud.onnx"
_ONNX_FLOAT = "tensor(float)"
_FIX = "re-export the bundle (`hybridsplit export`)"


def _fail(what: str) -> None:
    raise BundleError(f"manifest.json disagrees with the bundle: {what}; {_FIX}")


def check_files(m: Manifest) -> None:
    """Every artifact file must be listed in `files`, so `verify_bundle` checked its sha256."""
    if CLOUD_FILE not in m.files:
        _fail(f"{CLOUD_FILE} is not listed in `files` (its sha256 would go unchecked)")
    for key, art in m.artifacts.items():
        if art.file not in m.files:
            _fail(f"artifact {key} ({art.file}) is not listed in `files`")


def check_feature(m: Manifest) -> None:
    """Shape, quantization and labels are self-consistent."""
    f = m.feature
    if len(f.shape) < 2 or any(d < 1 for d in f.shape):
        _fail(f"feature.shape {f.shape} must be [n, ...] with every dimension >= 1")
    if f.dtype == "int8" and (f.scale is None or f.zero_point is None):
        _fail("int8 features need feature.scale and feature.zero_point")
    if f.scale is not None and not (math.isfinite(f.scale) and f.scale > 0):
        _fail(f"feature.scale is {f.scale}; it must be a positive finite number")
    if f.zero_point is not None and not -128 <= f.zero_point <= 127:
        _fail(f"feature.zero_point is {f.zero_point}; it must be in -128..127")
    if not math.isfinite(f.noise) or f.noise < 0:
        _fail(f"feature.noise is {f.noise}; it must be a finite number >= 0")
    if not m.labels or any(not label for label in m.labels) or len(set(m.labels)) != len(m.labels):
        _fail(f"labels {m.labels} must be non-empty, distinct names")
    numel = math.prod(f.shape)
    for key, art in m.artifacts.items():
        if art.role == "device" and art.output_shape and math.prod(art.output_shape) != numel:
            _fail(f"device artifact {key} outputs {art.output_shape}, but feature.shape is {f.shape}")
        q = art.output_quantization
        if art.role == "device" and art.output_dtype == f.dtype == "int8" and q is not None and (
                q.scale != f.scale or q.zero_point != f.zero_point):
            _fail(f"device artifact {key} emits int8 with ({q.scale:g}, {q.zero_point}), feature says "
                  f"({f.scale:g}, {f.zero_point})")


def _dims_agree(model: list, expected: list[int]) -> bool:
    """A symbolic ONNX dim (a string, e.g. 'batch') matches anything; a fixed one must be equal."""
    return len(model) == len(expected) and all(not isinstance(d, int) or d == e for d, e in zip(model, expected))


def check_cloud_model(m: Manifest, session) -> None:
    """cloud.onnx (an onnxruntime InferenceSession) takes [n, *feature.shape[1:]] float32, gives [n, labels]."""
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if len(inputs) != 1 or len(outputs) < 1:
        _fail(f"{CLOUD_FILE} has {len(inputs)} inputs and {len(outputs)} outputs; the cloud half takes one")
    x, y = inputs[0], outputs[0]
    want_in = [-1, *m.feature.shape[1:]]
    if x.type != _ONNX_FLOAT or not _dims_agree(list(x.shape)[1:], want_in[1:]) or len(x.shape) != len(want_in):
        _fail(f"{CLOUD_FILE} takes {x.type} {list(x.shape)}, feature.shape is {m.feature.shape}")
    if y.type != _ONNX_FLOAT or len(y.shape) != 2 or not _dims_agree(list(y.shape)[1:], [len(m.labels)]):
        _fail(f"{CLOUD_FILE} outputs {y.type} {list(y.shape)}, but there are {len(m.labels)} labels")


def check_manifest(m: Manifest) -> None:
    """The checks that need no model: files listed, feature and labels self-consistent."""
    check_files(m)
    check_feature(m)


def feature_range(m: Manifest) -> tuple[float, float] | None:
    """The float range a feature may take: the int8 range the export calibrated, (q - zp) * scale for q
    in -128..127, widened by twice its width on each side, plus 6 sigma of the device noise. A float
    device half is not clipped to the calibrated range: on the default bundle's 2,447 test windows
    device_fp32.tflite reached 16.8, 1.8x the int8 range's top (9.24). None when the bundle records no
    quantization (then only finiteness, in and out, is checked)."""
    f = m.feature
    if f.scale is None or f.zero_point is None:
        return None
    lo, hi = (-128 - f.zero_point) * f.scale, (127 - f.zero_point) * f.scale
    margin = 2 * (hi - lo) + 6 * f.noise
    return lo - margin, hi + margin
