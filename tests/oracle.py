"""Answer keys that do not go through the code under test: the bundle's files run in their runtimes
called directly (ai_edge_litert's Interpreter, onnxruntime's InferenceSession), the int8 arithmetic in
plain numpy with the qparams read off the .tflite tensors themselves, the manifest read as plain JSON.

None of hybridsplit's runners, Preprocessor, wire codec or CloudHalf is imported here, so a bug in
any of them cannot also be in the expected answer.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def manifest_json(bundle: Path) -> dict:
    return json.loads((Path(bundle) / "manifest.json").read_text())


def litert_features(tflite: Path, windows: np.ndarray) -> np.ndarray:
    """Float features of normalised windows (N, C, T), one LiteRT call each; an integer input is
    quantized round-half-to-even with the input tensor's own (scale, zero_point) and an integer
    output dequantized with the output tensor's."""
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(tflite))
    it.allocate_tensors()
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    (s_in, z_in), (s_out, z_out) = inp["quantization"], out["quantization"]
    feats = []
    for x in windows.astype(np.float32):
        x = x[None]
        if inp["dtype"] == np.int8:
            x = np.clip(np.rint(x / np.float32(s_in)) + z_in, -128, 127).astype(np.int8)
        it.set_tensor(inp["index"], x)
        it.invoke()
        y = it.get_tensor(out["index"])
        feats.append((y.astype(np.float32) - z_out) * np.float32(s_out) if out["dtype"] == np.int8 else y)
    return np.concatenate(feats).astype(np.float32)


def onnx_logits(onnx: Path, features: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    sess = ort.InferenceSession(str(onnx), providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: features.astype(np.float32)})[0]


def split_predictions(bundle: Path, windows: np.ndarray, device_file: str = "device.tflite") -> np.ndarray:
    """Class index per window through device_file -> cloud.onnx (both in torch's NCW layout)."""
    return onnx_logits(Path(bundle) / "cloud.onnx", litert_features(Path(bundle) / device_file, windows)).argmax(1)


def relative_error(reference: np.ndarray, output: np.ndarray) -> float:
    """max |output - reference| / max |reference|, in float64."""
    ref = reference.astype(np.float64)
    return float(np.abs(output.astype(np.float64) - ref).max() / np.abs(ref).max())
