"""manifest.json: the one contract every consumer of a bundle reads.

Server, Python client, Android app and web demo read shapes, dtypes, quantization and
normalisation from here; nothing is hard-coded twice. `Manifest.model_json_schema()` is
published as `manifest.schema.json` for readers on the device side.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hybridsplit.bundle.layout import torch_layout
from hybridsplit.errors import BundleError

SCHEMA_VERSION = 1
MANIFEST_NAME = "manifest.json"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Quantization(_Strict):
    scale: float
    zero_point: int


class Normalisation(_Strict):
    """The device computes (x - mean[c]) / std[c] along `axis` before the device half."""

    mean: list[float]
    std: list[float]
    axis: int = 1


class InputSpec(_Strict):
    name: str = "input"
    shape: list[int]
    """Batched shape of one device-half call, e.g. [1, 6, 100]."""
    dtype: Literal["float32"] = "float32"
    """dtype of the raw (normalised) input; int8 artifacts quantize it with `quantization`."""
    layout: str
    """e.g. 'NCW' (IMU: batch, channels, time) or 'NCHW' (images)."""
    normalisation: Normalisation
    quantization: Quantization | None = None
    """(scale, zero_point) of device.tflite's int8 input tensor: q = round(x/scale) + zero_point."""
    channels: list[str] = []
    sample_rate_hz: float | None = None
    units: list[str] = []
    """Unit of each channel as recorded (e.g. g, rad/s); [] when the dataset does not say."""
    android_sensors: list[str] = []
    """Per channel, the Android sensor axis that measures it in the recording device's sign
    convention, e.g. '-accelerometer.x' (the watch reads -1 g upward at rest, Android +9.81 m/s^2);
    [] when no phone sensor maps onto the channels. Units are converted per `units`."""


class FeatureSpec(_Strict):
    """What the device sends to the cloud: the device half's output."""

    name: str = "features"
    shape: list[int]
    dtype: Literal["int8", "float16", "float32"]
    """dtype device.tflite emits; the cloud dequantizes int8 with (scale, zero_point)."""
    layout: str = "NC..."
    """Layout of the features the cloud half takes: 'NC...' is torch's (NC, NCW, NCHW), or e.g. NWC."""
    scale: float | None = None
    zero_point: int | None = None
    defences: list[str] | None = None
    """Defences the exported run was fine-tuned with ([] = undefended); None in bundles written before
    this field (readers then fall back to the recipe's [defence] section)."""
    pca_dims: int | None = None
    noise: float = 0.0
    """Std of the Gaussian noise the device adds to the features at run time (0 = none)."""
    bytes_per_inference: int
    raw_input_bytes: int
    """Bytes of the raw float32 input window, for comparison."""

    def concrete_layout(self, ndim: int) -> str:
        """`layout` with 'NC...' spelled out for an ndim-d feature tensor (NC, NCW, NCHW)."""
        return self.layout if "." not in self.layout else torch_layout(ndim)


class FileEntry(_Strict):
    sha256: str
    """For a directory (.mlpackage): sha256 over its sorted (relative path, file sha256) pairs."""
    bytes: int
    directory: bool = False


class Artifact(_Strict):
    """One exported model file."""

    file: str
    role: Literal["device", "cloud"]
    format: Literal["tflite", "onnx", "coreml", "pte"]
    mode: str
    """fp32, fp16, dynamic_int8, int8, int8_per_tensor, int16x8 (TFLite); fp16, int8_weights (Core ML)."""
    converter: str
    layout: str
    """Layout of the artifact's input tensor: NCW/NCHW (as torch) or NWC/NHWC (channels-last)."""
    input_dtype: str
    output_dtype: str
    output_layout: str | None = None
    """Layout of the artifact's output tensor (NC, NCW, NWC, NCHW, NHWC)."""
    input_name: str | None = None
    output_name: str | None = None
    input_shape: list[int] | None = None
    output_shape: list[int] | None = None
    input_quantization: Quantization | None = None
    """(scale, zero_point) of an integer input tensor (int8, int16 modes)."""
    output_quantization: Quantization | None = None
    opset: int | None = None
    """ONNX opset, for ONNX artifacts."""
    bytes: int | None = None
    runs_on: str | None = None
    """Where the artifact can run; Core ML: macOS/iOS only (not run on Linux, no parity measured)."""
    notes: list[str] = []


class Parity(_Strict):
    max_abs: float
    mean_abs: float
    rel: float
    """max_abs / max(|torch output|)."""
    tolerance: float | None = None
    reference: str = "torch_fp32"
    measured_on: str | None = None
    """What produced the compared output when it is not the artifact's own runtime (Core ML on Linux)."""


class Manifest(_Strict):
    schema_version: int = Field(SCHEMA_VERSION)
    toolkit_version: str
    created: str
    recipe: dict
    recipe_sha256: str
    backbone: str
    cut: str
    protocol: str
    dataset: dict
    input: InputSpec
    feature: FeatureSpec
    labels: list[str]
    sensitive_labels: list[str] = []
    artifacts: dict[str, Artifact]
    """Keyed by artifact id (e.g. tflite_int8); the default device artifact is device.tflite."""
    files: dict[str, FileEntry]
    parity: dict[str, Parity]
    accuracy: dict[str, float]
    """Primary accuracy on the test split: torch_fp32 and each device artifact + cloud.onnx."""
    balanced_accuracy: dict[str, float] = {}
    """The same, as the mean of the per-class recalls (bundles before 0.1.x lack it)."""
    class_recall: dict[str, list[float | None]] = {}
    """Per primary class (in `labels` order), the share of its test samples recalled; None: absent."""
    versions: dict[str, str]


def load_manifest(bundle_dir: str | Path) -> Manifest:
    path = Path(bundle_dir) / MANIFEST_NAME
    if not path.is_file():
        raise BundleError(f"No {MANIFEST_NAME} in '{bundle_dir}'; export one with `hybridsplit export`")
    try:
        raw = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise BundleError(f"'{path}' is not valid JSON ({exc.msg}, line {exc.lineno}); re-export the bundle") from None
    version = raw.get("schema_version") if isinstance(raw, dict) else None
    if version != SCHEMA_VERSION:
        raise BundleError(
            f"'{path}' has schema_version {version!r}; this hybridsplit reads {SCHEMA_VERSION}. "
            "Re-export the bundle with this version (`hybridsplit export`)"
        )
    try:
        return Manifest.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise BundleError(f"'{path}': {where}: {err['msg']}; re-export the bundle") from None


# Bundle files and their sha256: here, not in bundle.py, so a serving node can verify a bundle
# without importing the exporters' torch stack.


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_tree(path: Path) -> str:
    """sha256 over the sorted (relative path, file sha256) pairs of a directory (.mlpackage)."""
    h = hashlib.sha256()
    for p in sorted(q for q in path.rglob("*") if q.is_file()):
        h.update(f"{p.relative_to(path).as_posix()}\0{sha256_file(p)}\n".encode())
    return h.hexdigest()


def file_entry(p: Path) -> FileEntry:
    if p.is_dir():
        return FileEntry(sha256=sha256_tree(p), bytes=sum(q.stat().st_size for q in p.rglob("*") if q.is_file()),
                         directory=True)
    return FileEntry(sha256=sha256_file(p), bytes=p.stat().st_size)


def verify_bundle(bundle_dir: str | Path) -> Manifest:
    """Check every file the manifest lists against its sha256 and size."""
    bundle_dir = Path(bundle_dir)
    manifest = load_manifest(bundle_dir)
    for name, entry in manifest.files.items():
        path = bundle_dir / name
        if not (path.is_dir() if entry.directory else path.is_file()):
            raise BundleError(f"Bundle '{bundle_dir}' lacks '{name}' listed in its manifest; re-export it")
        if file_entry(path) != entry:
            raise BundleError(f"'{path}' does not match the sha256 in its manifest; the bundle was modified, re-export it")
    return manifest
