"""What every exporter returns: an `ExportedArtifact`, callable on float32 NC... batches.

Calling an artifact runs it in its real runtime (LiteRT, ONNX Runtime) and hides its layout
and quantization: a channels-last (NWC/NHWC) artifact gets its input transposed and its
output transposed back, an int8/int16 one gets (de)quantized with its own tensors' params.
So parity and accuracy are measured the same way for every format, converter and mode;
the recorded layouts tell device code what the file itself expects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hybridsplit.bundle.layout import (
    CHANNELS_LAST,
    channels_last_shape,
    from_channels_last,
    is_channels_last,
    to_channels_last,
    torch_layout,
)
from hybridsplit.errors import ExportError


@dataclass
class ExportedArtifact:
    path: Path
    format: str
    mode: str
    converter: str
    input_shape: list[int]
    output_shape: list[int]
    input_dtype: str
    output_dtype: str
    input_layout: str
    output_layout: str
    role: str = "device"
    input_name: str = "input"
    output_name: str = "features"
    opset: int | None = None
    runs_on: str = "linux, android, ios, browser"
    notes: list[str] = field(default_factory=list)
    input_quant: tuple[float, int] | None = None
    """(scale, zero_point) of an integer input tensor, read from the file; None for float I/O."""
    output_quant: tuple[float, int] | None = None
    _runner: object = field(default=None, repr=False)

    @property
    def runnable(self) -> bool:
        return self.format in ("tflite", "onnx")

    def _run(self):
        if self._runner is None:
            from hybridsplit.bundle.runtime import OnnxRunner, TFLiteRunner

            if self.format == "tflite":
                self._runner = TFLiteRunner(self.path)
            elif self.format == "onnx":
                self._runner = OnnxRunner(self.path)
            else:
                raise ExportError(f"{self.format} artifact '{self.path.name}' cannot run here ({self.runs_on})")
        return self._runner

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """float32 (N, C, ...) in, float32 output in torch layout out."""
        runner = self._run()
        if is_channels_last(self.input_layout):
            x = to_channels_last(x)
        y = runner(x)
        return from_channels_last(y) if is_channels_last(self.output_layout) else y

    def size_bytes(self) -> int:
        if self.path.is_dir():
            return sum(p.stat().st_size for p in self.path.rglob("*") if p.is_file())
        return self.path.stat().st_size


def tflite_artifact(path: Path, mode: str, converter: str, torch_input_shape: list[int], layout: str,
                    input_channels_last: bool = False, output_channels_last: bool = False) -> ExportedArtifact:
    """Describe a written .tflite from its own tensors (shapes, dtypes, names)."""
    from hybridsplit.bundle.runtime import TFLiteRunner

    r = TFLiteRunner(path)
    out_nd = len(r.output_shape)
    in_layout = CHANNELS_LAST.get(layout, layout) if input_channels_last else layout
    out_layout = torch_layout(out_nd)
    out_layout = CHANNELS_LAST.get(out_layout, out_layout) if output_channels_last else out_layout
    expect_in = channels_last_shape(torch_input_shape) if input_channels_last else list(torch_input_shape)
    if r.input_shape != expect_in:
        raise ExportError(
            f"Layout mismatch: {path.name} takes input {r.input_shape}, expected {expect_in} ({in_layout}); "
            "the converter changed the input layout; try the other converter (--converter) or a fixed input shape"
        )
    return ExportedArtifact(
        path=path, format="tflite", mode=mode, converter=converter,
        input_shape=r.input_shape, output_shape=r.output_shape,
        input_dtype=np.dtype(r.input["dtype"]).name, output_dtype=np.dtype(r.output["dtype"]).name,
        input_layout=in_layout, output_layout=out_layout,
        input_name=r.input["name"], output_name=r.output["name"], input_quant=r.input_quant,
        output_quant=r.output_quant, _runner=r,
    )
