"""Run exported artifacts through their real runtimes: LiteRT for .tflite, ONNX Runtime for .onnx.

Runners take and return float32 numpy arrays: an int8 model's input is quantized and its
output dequantized with the tensors' own (scale, zero_point), exactly as a device and the
cloud must do with the manifest's values.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from hybridsplit.bundle.layout import relayout, torch_layout
from hybridsplit.bundle.preprocess import dequantize, quantize
from hybridsplit.errors import BundleError
from hybridsplit.quiet import native_stderr_held

if TYPE_CHECKING:
    from hybridsplit.bundle.manifest import Manifest


class TFLiteRunner:
    """A .tflite model with a fixed batch of 1, called on float32 samples."""

    def __init__(self, path: str | Path, num_threads: int = 1):
        from ai_edge_litert.interpreter import Interpreter

        if not Path(path).is_file():
            raise BundleError(f"TFLite model '{path}' not found")
        self.path = Path(path)
        with native_stderr_held():  # LiteRT's "INFO: Created TensorFlow Lite XNNPACK delegate" line
            self.interpreter = Interpreter(model_path=str(path), num_threads=num_threads)
            self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]

    @staticmethod
    def _qparams(detail: dict) -> tuple[float, int] | None:
        scale, zero_point = detail["quantization"]
        return (float(scale), int(zero_point)) if scale else None

    @property
    def input_quant(self) -> tuple[float, int] | None:
        return self._qparams(self.input)

    @property
    def output_quant(self) -> tuple[float, int] | None:
        return self._qparams(self.output)

    @property
    def input_shape(self) -> list[int]:
        return [int(d) for d in self.input["shape"]]

    @property
    def output_shape(self) -> list[int]:
        return [int(d) for d in self.output["shape"]]

    def raw(self, x: np.ndarray) -> np.ndarray:
        """One call with the model's own dtypes (x already quantized for int8 models)."""
        self.interpreter.set_tensor(self.input["index"], x)
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.output["index"]).copy()

    def raw_output(self, x: np.ndarray) -> np.ndarray:
        """Float inputs in, the model's own output dtype out (int8 features stay int8)."""
        dtype = self.input["dtype"]
        q = self.input_quant
        x = quantize(x, *q, dtype) if q and dtype != np.float32 else x.astype(dtype)
        return self.raw(x)

    def to_float(self, y: np.ndarray) -> np.ndarray:
        """The model's raw output as float32, dequantized with the output tensor's own params."""
        q = self.output_quant
        return dequantize(y, *q) if q and y.dtype != np.float32 else y.astype(np.float32)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Float32 batch (N, ...) in, float32 batch out, one sample at a time."""
        outs = [self.to_float(self.raw_output(x[i : i + 1])) for i in range(len(x))]
        return np.concatenate(outs) if outs else np.zeros((0, *self.output_shape[1:]), np.float32)


class DeviceArtifact:
    """A bundle's .tflite device artifact, called the way a device feeds it and the cloud reads it:
    windows in the data's layout (torch's NC...) in, the artifact's own output dtype out, in the
    layout the cloud half takes (manifest.feature.layout). A channels-last file (the onnx2tf route)
    gets its input and output reordered; every other file passes through untouched."""

    def __init__(self, bundle_dir: str | Path, manifest: Manifest, key: str, num_threads: int = 1):
        self.artifact = manifest.artifacts[key]
        self.feature = manifest.feature
        self.runner = TFLiteRunner(Path(bundle_dir) / self.artifact.file, num_threads=num_threads)

    def raw_output(self, x: np.ndarray) -> np.ndarray:
        y = self.runner.raw_output(relayout(x, torch_layout(x.ndim), self.artifact.layout))
        return relayout(y, self.artifact.output_layout or torch_layout(y.ndim), self.feature.concrete_layout(y.ndim))


class OnnxRunner:
    """An .onnx model in ONNX Runtime (CPU), called on float32 batches."""

    def __init__(self, path: str | Path, num_threads: int = 1):
        import onnxruntime as ort

        if not Path(path).is_file():
            raise BundleError(f"ONNX model '{path}' not found")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = num_threads
        opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: x.astype(np.float32)})[0]
