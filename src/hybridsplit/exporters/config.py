"""Frozen, validated export settings (litert-torch's `QuantConfig` shape).

Each format has one config object, checked when it is built: an unknown mode or converter
raises `ExportError` naming the valid ones, before any conversion starts. One enum per
choice replaces boolean flag families.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from hybridsplit.errors import ExportError, did_you_mean


class Format(str, Enum):
    tflite = "tflite"
    coreml = "coreml"
    onnx = "onnx"
    pte = "pte"


class TFLiteMode(str, Enum):
    fp32 = "fp32"
    fp16 = "fp16"
    """float16 weights, float32 activations and I/O."""
    dynamic_int8 = "dynamic_int8"
    """int8 weights, activations quantized on the fly; float32 I/O."""
    int8 = "int8"
    """Static full int8, per-channel weights; int8 I/O (the bundle's device.tflite)."""
    int8_per_tensor = "int8_per_tensor"
    """Static full int8, per-tensor weights; int8 I/O."""
    int16x8 = "int16x8"
    """int16 activations, int8 weights; int16 I/O."""


class Converter(str, Enum):
    auto = "auto"
    """litert-torch, falling back to onnx2tf when litert-torch cannot lower the model."""
    litert_torch = "litert-torch"
    onnx2tf = "onnx2tf"


class CoreMLMode(str, Enum):
    fp16 = "fp16"
    int8_weights = "int8_weights"
    """fp16 compute, weights stored as int8 (linear_quantize_weights, per-channel symmetric)."""


class PteMode(str, Enum):
    fp32 = "fp32"


# Relative tolerance (max |artifact - torch| / max |torch|) each TFLite mode must meet.
# fp32 uses the recipe's export.parity_rtol and int8 (device.tflite) its export.int8_rtol (default
# this 0.15); the others are set by what the number format allows. All are enforced gates.
TFLITE_TOLERANCE: dict[TFLiteMode, float] = {
    TFLiteMode.fp16: 1e-2,
    TFLiteMode.dynamic_int8: 0.1,
    TFLiteMode.int8: 0.15,
    TFLiteMode.int8_per_tensor: 0.2,
    TFLiteMode.int16x8: 0.05,
}
CALIBRATED_MODES = frozenset({TFLiteMode.int8, TFLiteMode.int8_per_tensor, TFLiteMode.int16x8})
# Full-integer modes: their I/O tensors are integers and carry (scale, zero_point).
INTEGER_IO_MODES = CALIBRATED_MODES


def parse_enum(enum: type[Enum], value, what: str):
    """Enum member from a member or its value; unknown values get one line listing the valid ones."""
    if isinstance(value, enum):
        return value
    valid = [m.value for m in enum]
    try:
        return enum(value)
    except ValueError:
        raise ExportError(f"Unknown {what} '{value}'.{did_you_mean(str(value), valid)} Valid: {', '.join(valid)}") from None


@dataclass(frozen=True)
class TFLiteConfig:
    mode: TFLiteMode = TFLiteMode.int8
    converter: Converter = Converter.auto
    calibration_samples: int = 512
    tolerance: float | None = None
    """Relative parity tolerance; None takes TFLITE_TOLERANCE[mode] (fp32: 1e-4)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "mode", parse_enum(TFLiteMode, self.mode, "TFLite mode"))
        object.__setattr__(self, "converter", parse_enum(Converter, self.converter, "converter"))
        if self.calibration_samples < 1:
            raise ExportError(f"calibration_samples must be >= 1, got {self.calibration_samples}")
        if self.tolerance is None:
            object.__setattr__(self, "tolerance", TFLITE_TOLERANCE.get(self.mode, 1e-4))
        elif self.tolerance <= 0:
            raise ExportError(f"parity tolerance must be > 0, got {self.tolerance}")

    @property
    def calibrated(self) -> bool:
        return self.mode in CALIBRATED_MODES


@dataclass(frozen=True)
class CoreMLConfig:
    mode: CoreMLMode = CoreMLMode.fp16
    minimum_ios: int = 16
    weight_threshold: int = 256
    """int8_weights: tensors with fewer elements stay fp16 (coremltools' weight_threshold)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "mode", parse_enum(CoreMLMode, self.mode, "Core ML mode"))
        if self.minimum_ios not in (16, 17, 18):
            raise ExportError(f"minimum_ios must be 16, 17 or 18 (mlprogram targets), got {self.minimum_ios}")
        if self.weight_threshold < 0:
            raise ExportError(f"weight_threshold must be >= 0, got {self.weight_threshold}")


@dataclass(frozen=True)
class OnnxConfig:
    opset: int = 17
    dynamic_batch: bool = True

    def __post_init__(self) -> None:
        if not 13 <= self.opset <= 21:
            raise ExportError(f"ONNX opset must be between 13 and 21, got {self.opset}")


@dataclass(frozen=True)
class PteConfig:
    mode: PteMode = PteMode.fp32

    def __post_init__(self) -> None:
        object.__setattr__(self, "mode", parse_enum(PteMode, self.mode, "ExecuTorch mode"))
