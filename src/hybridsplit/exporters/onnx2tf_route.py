"""The second TFLite route: device half -> ONNX -> onnx2tf -> .tflite (every TFLite mode).

onnx2tf is run as a subprocess (it sets global state at import: recursion limit, warning
filters, random seeds) inside a temporary working directory that holds, per TOOLCHAIN.md:
the venv's bin/ on PATH (it calls `onnxsim`), a dummy
`calibration_image_sample_data_20x128x128x3_float32.npy` (else it tries a download for image
inputs), and our own calibration windows in channels-last layout (`-cind`).

One onnx2tf run writes fp32, fp16, dynamic-range, full-int8 and int16x8 files at once; a
second run (`-qt per-tensor`) gives per-tensor int8. Runs are cached per route object.
onnx2tf usually turns NCW/NCHW into NWC/NHWC; the layout of each file is read off its
tensors (and, where the shape cannot tell, off its numbers) and recorded.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

from hybridsplit.bundle.layout import channels_last_shape, from_channels_last, to_channels_last
from hybridsplit.errors import ExportError
from hybridsplit.exporters.artifact import ExportedArtifact, tflite_artifact
from hybridsplit.exporters.config import TFLiteConfig, TFLiteMode
from hybridsplit.exporters.onnx import export_onnx

CONVERTER = "onnx2tf"
DUMMY_CALIBRATION = "calibration_image_sample_data_20x128x128x3_float32.npy"
_SUFFIX = {
    TFLiteMode.fp32: "_float32.tflite",
    TFLiteMode.fp16: "_float16.tflite",
    TFLiteMode.dynamic_int8: "_dynamic_range_quant.tflite",
    TFLiteMode.int8: "_full_integer_quant.tflite",
    TFLiteMode.int16x8: "_full_integer_quant_with_int16_act.tflite",
    TFLiteMode.int8_per_tensor: "_full_integer_quant.tflite",
}
_NODE = re.compile(r"onnx_op_type:\s*(\S+).*?onnx_op_name:\s*(\S+)", re.S)


def _onnx2tf_bin() -> Path:
    return Path(sys.executable).parent / "onnx2tf"


def available() -> bool:
    return _onnx2tf_bin().is_file()


def _layer_of(node_name: str) -> str:
    """'/block4/op/CumProd' (TorchScript ONNX naming) -> 'block4.op'."""
    parts = [p for p in node_name.strip("/").split("/") if p]
    return ".".join(parts[:-1]) or node_name


class Onnx2TfRoute:
    """Converts one device half; `export(cfg, path)` copies out the file for cfg.mode."""

    def __init__(self, device: nn.Module, sample: torch.Tensor, calibration: np.ndarray, layout: str):
        if not available():
            raise ExportError("onnx2tf is not installed in this environment; `make install` adds it "
                              "(requirements/nodeps.txt), or use --converter litert-torch")
        self.device, self.sample, self.layout = device.eval(), sample, layout
        self.calibration = calibration
        self.tmp = Path(tempfile.mkdtemp(prefix="hybridsplit-onnx2tf-"))
        self._runs: dict[str, Path] = {}
        self._layouts: tuple[bool, bool] | None = None

    def close(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> Onnx2TfRoute:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _run(self, quant_type: str) -> Path:
        if quant_type in self._runs:
            return self._runs[quant_type]
        work = self.tmp / quant_type
        work.mkdir()
        export_onnx(self.device, self.sample, work / "device.onnx", "input", "features", dynamic_batch=False)
        np.save(work / DUMMY_CALIBRATION, np.zeros((20, 128, 128, 3), np.float32))
        cal = to_channels_last(np.asarray(self.calibration, np.float32))
        np.save(work / "calibration.npy", cal)
        channels = int(self.sample.shape[1])
        cmd = [str(_onnx2tf_bin()), "-i", "device.onnx", "-o", "out", "-oiqt", "-qt", quant_type,
               "-cind", "input", "calibration.npy", str([0.0] * channels), str([1.0] * channels),
               "-iqd", "int8", "-oqd", "int8", "-n"]
        env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
                   TF_CPP_MIN_LOG_LEVEL="3")
        try:
            proc = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=900)
        except subprocess.TimeoutExpired:
            raise ExportError("onnx2tf took over 15 minutes on the device half; try an earlier cut") from None
        out = work / "out"
        if not (out / "device_float32.tflite").is_file():
            self._raise(proc.stdout + proc.stderr, proc.returncode)
        self._runs[quant_type] = out
        return out

    def _raise(self, log: str, rc: int) -> None:
        node = _NODE.search(log)
        if node:
            op_type, op_name = node.groups()
            raise ExportError(
                f"onnx2tf cannot convert ONNX node '{op_name}' ({op_type}) from layer '{_layer_of(op_name)}'; "
                "try --converter litert-torch, an earlier cut (--cut), or replace that layer"
            )
        lines = [ln.strip() for ln in log.splitlines() if "error" in ln.lower() and ln.strip()]
        first = (lines[-1] if lines else f"exit status {rc}")[:200]
        raise ExportError(f"onnx2tf failed on the device half ({first}); try --converter litert-torch or an earlier cut")

    def _detect_layouts(self, fp32: Path) -> tuple[bool, bool]:
        """(input channels-last, output channels-last) for this model's onnx2tf files."""
        if self._layouts is not None:
            return self._layouts
        from hybridsplit.bundle.runtime import TFLiteRunner

        r = TFLiteRunner(fp32)
        x = self.calibration[:4].astype(np.float32)
        with torch.no_grad():
            ref = self.device(torch.from_numpy(x)).numpy()
        t_in, t_out = list(self.sample.shape), [1, *ref.shape[1:]]
        in_opts = [c for c in (False, True) if (channels_last_shape(t_in) if c else t_in) == r.input_shape]
        out_opts = [c for c in (False, True) if (channels_last_shape(t_out) if c else t_out) == r.output_shape]
        if not in_opts or not out_opts:
            raise ExportError(
                f"Layout mismatch: onnx2tf gave input {r.input_shape} / output {r.output_shape} for torch "
                f"{t_in} / {t_out}, neither channels-first nor channels-last; use --converter litert-torch"
            )
        best, best_err = None, np.inf
        for ci in in_opts:
            for co in out_opts:
                y = r(to_channels_last(x) if ci else x)
                y = from_channels_last(y) if co else y
                err = float(np.abs(y - ref).max())
                if err < best_err:
                    best, best_err = (ci, co), err
        self._layouts = best
        return best

    def export(self, cfg: TFLiteConfig, path: Path) -> ExportedArtifact:
        quant_type = "per-tensor" if cfg.mode is TFLiteMode.int8_per_tensor else "per-channel"
        out = self._run(quant_type)
        src = out / f"device{_SUFFIX[cfg.mode]}"
        if not src.is_file():
            raise ExportError(f"onnx2tf wrote no {cfg.mode.value} model for this device half; try --converter litert-torch")
        ci, co = self._detect_layouts(out / "device_float32.tflite")
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, path)
        art = tflite_artifact(path, cfg.mode.value, CONVERTER, list(self.sample.shape), self.layout,
                              input_channels_last=ci, output_channels_last=co)
        return art
