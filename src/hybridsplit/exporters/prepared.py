"""Export stage 1 and the TFLite exporter every stage shares.

`prepare_device(prep, scratch)` -> `PreparedDevice`: the device half ready to convert, with what
every exporter and every check reads (sample, int8 calibration windows, the torch reference
features, the torch-layout cloud half in ONNX Runtime that scores each device artifact). It is a
frozen value: stages read it, none changes it.

`TFLiteExporter` is the one composite exporter for .tflite: litert-torch, onnx2tf, or `auto`
(litert-torch, and onnx2tf when litert-torch cannot convert), one `export(cfg, path)` for all.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from hybridsplit.bundle.runtime import OnnxRunner
from hybridsplit.data.base import calibration_sample
from hybridsplit.errors import ExportError
from hybridsplit.exporters import onnx as onnx_export
from hybridsplit.exporters import tflite as tflite_export
from hybridsplit.exporters.artifact import ExportedArtifact
from hybridsplit.exporters.config import Converter, TFLiteConfig
from hybridsplit.exporters.onnx2tf_route import Onnx2TfRoute
from hybridsplit.privacy.metrics import class_scores
from hybridsplit.train import predict

PARITY_SAMPLES = 256
Log = Callable[[str], None]


@dataclass(frozen=True)
class PreparedDevice:
    recipe: object
    split: object
    data: object
    device: nn.Module
    sample: torch.Tensor
    calibration: np.ndarray
    layout: str
    x_check: np.ndarray
    """The test windows parity is measured on."""
    ref_features: np.ndarray
    """torch fp32 features of x_check: every device artifact's reference."""
    feature_sample: torch.Tensor
    cloud_nc: OnnxRunner
    """The cloud half in torch layout (ONNX Runtime), scoring each device artifact's test accuracy."""
    torch_accuracy: float
    torch_scores: dict
    """torch fp32's accuracy, balanced accuracy and per-class recall (privacy/metrics.class_scores)."""

    def scores_of(self, device_fn: Callable[[np.ndarray], np.ndarray]) -> dict:
        """Primary test accuracy, balanced accuracy and per-class recall of `device_fn` (float NC...
        windows -> float features) + the cloud half."""
        pred = self.cloud_nc(device_fn(self.data.test.x)).argmax(1)
        return class_scores(pred, self.data.test.primary, len(self.data.primary_names))

    def accuracy_of(self, device_fn: Callable[[np.ndarray], np.ndarray]) -> float:
        return self.scores_of(device_fn)["accuracy"]


def prepare_device(prep, scratch: Path) -> PreparedDevice:
    recipe, split, data = prep.ckpt.recipe, prep.split, prep.data
    torch.manual_seed(recipe.seed)
    device = split.device.eval()
    sample = torch.from_numpy(data.test.x[:1])
    x_check = data.test.x[:PARITY_SAMPLES]
    feature_sample = device(sample).detach()
    onnx_export.export_onnx(split.cloud, feature_sample, scratch / "cloud_nc.onnx", "features", "logits")
    torch_scores = class_scores(predict(split.full, data.test.x).argmax(1), data.test.primary, len(data.primary_names))
    return PreparedDevice(
        recipe=recipe, split=split, data=data, device=device, sample=sample,
        calibration=calibration_sample(data.train.x, recipe.export.calibration_samples, recipe.seed),
        layout=data.input_layout, x_check=x_check, ref_features=predict(device, x_check),
        feature_sample=feature_sample, cloud_nc=OnnxRunner(scratch / "cloud_nc.onnx"),
        torch_accuracy=torch_scores["accuracy"], torch_scores=torch_scores,
    )


class TFLiteExporter:
    """.tflite through the configured route; `auto` falls back from litert-torch to onnx2tf.

    Every converter's output is loaded into LiteRT and run on one sample before it is accepted:
    a file LiteRT cannot prepare (e.g. a BROADCAST_TO it refuses) counts as a failed conversion,
    so `auto` falls back and an explicit converter fails in one line. Once `auto` has fallen back,
    every later mode goes through onnx2tf too, so a bundle never mixes layouts.
    The onnx2tf route (an ONNX export and a TensorFlow model, reused across modes) is built on
    first use and removed by `close()`."""

    def __init__(self, prepared: PreparedDevice, log: Log):
        self.p, self.log = prepared, log
        self._onnx2tf: Onnx2TfRoute | None = None
        self.fell_back: str | None = None
        """Why `auto` moved to onnx2tf (the litert-torch failure), once it has."""

    def __enter__(self) -> TFLiteExporter:
        return self

    def __exit__(self, *exc) -> None:
        if self._onnx2tf is not None:
            self._onnx2tf.close()

    def _route(self) -> Onnx2TfRoute:
        if self._onnx2tf is None:
            self._onnx2tf = Onnx2TfRoute(self.p.device, self.p.sample, self.p.calibration, self.p.layout)
        return self._onnx2tf

    def _checked(self, convert: Callable[[], ExportedArtifact], who: str, cfg: TFLiteConfig,
                 path: Path) -> ExportedArtifact:
        """Convert, then load and run the file once; a file LiteRT cannot run is an ExportError."""
        try:
            art = convert()
            art(self.p.x_check[:1])
            return art
        except ExportError:
            raise
        except Exception as exc:  # noqa: BLE001 - LiteRT's load / prepare / invoke errors are RuntimeErrors
            path.unlink(missing_ok=True)
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            raise ExportError(f"{who} wrote a {cfg.mode.value} model LiteRT cannot run ({first})") from exc

    def export(self, cfg: TFLiteConfig, path: Path) -> ExportedArtifact:
        onnx2tf = lambda: self._checked(lambda: self._route().export(cfg, path), "onnx2tf", cfg, path)  # noqa: E731
        if cfg.converter is Converter.onnx2tf:
            return onnx2tf()
        if cfg.converter is Converter.auto and self.fell_back:
            return self._fallback(onnx2tf, self.fell_back)
        try:
            return self._checked(lambda: tflite_export.export(self.p.device, self.p.sample, cfg, path,
                                                              self.p.calibration, self.p.layout),
                                 "litert-torch", cfg, path)
        except ExportError as exc:
            if cfg.converter is not Converter.auto:
                raise
            self.log(f"litert-torch could not make {cfg.mode.value}: {exc}; falling back to onnx2tf")
            self.fell_back = str(exc)
            return self._fallback(onnx2tf, self.fell_back)

    def _fallback(self, onnx2tf: Callable[[], ExportedArtifact], cause: str) -> ExportedArtifact:
        try:
            art = onnx2tf()
        except ExportError as exc2:  # both routes failed: neither message may advise the other converter
            raise ExportError(f"both converters failed. litert-torch: {_no_advice(cause)}; "
                              f"onnx2tf: {_no_advice(str(exc2))}; try an earlier or later cut (--cut)") from exc2
        art.converter = "onnx2tf (fallback: litert-torch failed)"
        art.notes.append(f"litert-torch failed: {cause}")
        return art


def _no_advice(message: str) -> str:
    """A converter's message without its '; try ...' advice (which names the other converter)."""
    return message.split("; try ")[0].rstrip(". ")


def scratch_dir(workdir: Path) -> Path:
    """A directory beside the bundle's temporary directory for files that do not ship."""
    path = workdir.parent / f"{workdir.name}.scratch"
    path.mkdir(exist_ok=True)
    return path


def remove_scratch(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
