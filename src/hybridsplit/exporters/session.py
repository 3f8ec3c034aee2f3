"""Stage 2 of a bundle: export every requested format x mode, and measure each through its runtime.

`ExportPlan` says what to export (validated when built). `run_exports` writes the artifacts
into the bundle's temporary directory and returns `Measured`: the artifacts, their parity
against torch fp32 (features), their test accuracy with the ONNX cloud half, and the report.

The bundle's contract is kept whatever is asked: device.tflite (full int8, per-channel),
device_fp32.tflite and cloud.onnx are always written and gated. If device.tflite comes out
channels-last (onnx2tf), cloud.onnx takes that layout, so the server follows the manifest.
Extra variants that fail get a report row with the reason; in `--format all` the bundle is
still written, when a variant was asked for by name its failure stops the export.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from hybridsplit.bundle.layout import is_channels_last
from hybridsplit.bundle.manifest import Parity
from hybridsplit.bundle.runtime import OnnxRunner
from hybridsplit.data.base import calibration_sample
from hybridsplit.errors import ExportError
from hybridsplit.exporters import coreml as coreml_export
from hybridsplit.exporters import onnx as onnx_export
from hybridsplit.exporters import pte as pte_export
from hybridsplit.exporters import tflite as tflite_export
from hybridsplit.exporters.artifact import ExportedArtifact
from hybridsplit.exporters.config import (
    Converter,
    CoreMLConfig,
    CoreMLMode,
    Format,
    OnnxConfig,
    PteConfig,
    TFLiteConfig,
    TFLiteMode,
    parse_enum,
)
from hybridsplit.exporters.onnx2tf_route import Onnx2TfRoute
from hybridsplit.exporters.parity import measure_parity
from hybridsplit.exporters.report import ExportReport, ReportRow
from hybridsplit.train import predict

DEVICE_INT8 = "device.tflite"
DEVICE_FP32 = "device_fp32.tflite"
CLOUD_ONNX = "cloud.onnx"
DEVICE_ONNX = "device.onnx"
COREML_FP16 = "device.mlpackage"
COREML_INT8W = "device_int8w.mlpackage"
DEVICE_PTE = "device.pte"
PARITY_SAMPLES = 256
BASE_MODES = (TFLiteMode.int8, TFLiteMode.fp32)
Log = Callable[[str], None]


@dataclass(frozen=True)
class ExportPlan:
    formats: frozenset[Format] = frozenset({Format.tflite})
    modes: tuple[TFLiteMode, ...] = BASE_MODES
    """TFLite modes; int8 and fp32 are always included (device.tflite, device_fp32.tflite)."""
    converter: Converter = Converter.auto
    both_routes: bool = False
    """Also export every TFLite mode through the other converter (litert-torch <-> onnx2tf)."""
    strict: bool = True
    """A failing extra variant stops the export (False in --format all: it becomes a report row)."""

    @classmethod
    def from_cli(cls, formats: list[str] | None = None, modes: list[str] | None = None,
                 converter: str = "auto") -> ExportPlan:
        names = [f.strip().lower() for item in (formats or ["tflite"]) for f in item.split(",") if f.strip()]
        conv = parse_enum(Converter, converter, "converter")
        if "all" in names:
            return cls(frozenset(Format), tuple(TFLiteMode), conv, both_routes=True, strict=False)
        fmts = frozenset(parse_enum(Format, n, "format") for n in names) | {Format.tflite}
        wanted = [parse_enum(TFLiteMode, m.strip(), "TFLite mode") for item in (modes or []) for m in item.split(",") if m.strip()]
        ordered = list(BASE_MODES) + [m for m in wanted if m not in BASE_MODES]
        return cls(fmts, tuple(dict.fromkeys(ordered)), conv)


@dataclass
class Measured:
    artifacts: dict[str, ExportedArtifact]
    parity: dict[str, Parity]
    accuracy: dict[str, float]
    report: ExportReport
    device_key: str = "tflite_int8"
    files_notes: dict[str, str] = field(default_factory=dict)


class _CloudLayout(nn.Module):
    """The cloud half taking features in the device artifact's channels-last layout."""

    def __init__(self, cloud: nn.Module):
        super().__init__()
        self.cloud = cloud

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nd = x.dim()  # explicit non-negative perm: the ONNX exporter writes movedim's -1 as is
        return self.cloud(x.permute(0, nd - 1, *range(1, nd - 1)))


def _file_key(mode: TFLiteMode, suffix: str) -> str:
    base = {TFLiteMode.int8: "device", TFLiteMode.fp32: "device_fp32"}.get(mode, f"device_{mode.value}")
    return f"{base}{suffix}.tflite"


class _Exporter:
    def __init__(self, prep, workdir: Path, plan: ExportPlan, log: Log):
        recipe, split, data = prep.ckpt.recipe, prep.split, prep.data
        self.recipe, self.split, self.data, self.workdir, self.plan, self.log = recipe, split, data, workdir, plan, log
        torch.manual_seed(recipe.seed)
        self.device = split.device.eval()
        self.sample = torch.from_numpy(data.test.x[:1])
        self.calibration = calibration_sample(data.train.x, recipe.export.calibration_samples, recipe.seed)
        self.x_check = data.test.x[:PARITY_SAMPLES]
        self.ref_features = predict(self.device, self.x_check)
        self.layout = data.input_layout
        self._onnx2tf: Onnx2TfRoute | None = None
        self._scratch = workdir.parent / f"{workdir.name}.scratch"
        self._scratch.mkdir(exist_ok=True)
        feature_sample = self.device(self.sample).detach()
        # cloud half in torch layout, for measuring every device artifact the same way
        onnx_export.export_onnx(split.cloud, feature_sample, self._scratch / "cloud_nc.onnx", "features", "logits")
        self.cloud_nc = OnnxRunner(self._scratch / "cloud_nc.onnx")
        self.feature_sample = feature_sample
        self.artifacts: dict[str, ExportedArtifact] = {}
        self.parity: dict[str, Parity] = {}
        x, y = data.test.x, data.test.primary
        self.accuracy: dict[str, float] = {"torch_fp32": float((predict(split.full, x).argmax(1) == y).mean())}
        self.report = ExportReport(recipe.model.backbone, split.cut, self.accuracy["torch_fp32"])

    def close(self) -> None:
        if self._onnx2tf is not None:
            self._onnx2tf.close()
        shutil.rmtree(self._scratch, ignore_errors=True)

    # -- routes ---------------------------------------------------------------------------
    def onnx2tf(self) -> Onnx2TfRoute:
        if self._onnx2tf is None:
            self._onnx2tf = Onnx2TfRoute(self.device, self.sample, self.calibration, self.layout)
        return self._onnx2tf

    def tflite(self, cfg: TFLiteConfig, path: Path) -> ExportedArtifact:
        if cfg.converter is Converter.onnx2tf:
            return self.onnx2tf().export(cfg, path)
        try:
            return tflite_export.export(self.device, self.sample, cfg, path, self.calibration, self.layout)
        except ExportError as exc:
            if cfg.converter is not Converter.auto:
                raise
            self.log(f"litert-torch could not convert {cfg.mode.value} ({exc}); falling back to onnx2tf")
            try:
                art = self.onnx2tf().export(cfg, path)
            except ExportError as exc2:
                raise ExportError(f"{exc2} (the onnx2tf fallback, after {exc})") from exc2
            art.converter = "onnx2tf (fallback: litert-torch failed)"
            art.notes.append(f"litert-torch failed: {exc}")
            return art

    # -- measuring ------------------------------------------------------------------------
    def measure(self, key: str, art: ExportedArtifact, tolerance: float | None) -> ReportRow:
        out = art(self.x_check)
        par = measure_parity(self.ref_features, out, tolerance)
        acc = float((self.cloud_nc(art(self.data.test.x)).argmax(1) == self.data.test.primary).mean())
        self.parity[key], self.accuracy[key] = par, acc
        return self._row(key, art, max_abs=par.max_abs, rel=par.rel, tolerance=tolerance, accuracy=acc)

    def _row(self, key: str, art: ExportedArtifact, **kw) -> ReportRow:
        self.artifacts[key] = art
        return self.report.add(ReportRow(key, art.format, art.mode, art.converter, file=art.path.name,
                                         bytes=art.size_bytes(), layout=f"{art.input_layout}->{art.output_layout}", **kw))

    def _failed(self, key: str, fmt: str, mode: str, converter: str, exc: Exception, status: str = "failed") -> None:
        if self.plan.strict and status == "failed":
            raise exc
        self.log(f"{key}: {status}: {exc}")
        self.report.add(ReportRow(key, fmt, mode, converter, status=status, message=str(exc)))

    # -- formats --------------------------------------------------------------------------
    def base(self) -> None:
        """device.tflite (int8) and device_fp32.tflite: always, any failure stops the export."""
        for mode in BASE_MODES:
            key = f"tflite_{mode.value}"
            cfg = TFLiteConfig(mode, self.plan.converter, self.recipe.export.calibration_samples,
                               tolerance=self.recipe.export.parity_rtol if mode is TFLiteMode.fp32 else None)
            art = self.tflite(cfg, self.workdir / _file_key(mode, ""))
            self.measure(key, art, cfg.tolerance)

    def cloud(self) -> None:
        """cloud.onnx in the layout device.tflite emits."""
        device_art = self.artifacts["tflite_int8"]
        channels_last = is_channels_last(device_art.output_layout)
        module = _CloudLayout(self.split.cloud).eval() if channels_last else self.split.cloud
        sample = torch.movedim(self.feature_sample, 1, -1) if channels_last else self.feature_sample
        art = onnx_export.export(module, sample, OnnxConfig(), self.workdir / CLOUD_ONNX, role="cloud",
                                 input_name="features", output_name="logits", layout=device_art.output_layout)
        art.output_layout = "NC"
        ref_logits = predict(self.split.cloud, self.ref_features)
        feats = np.moveaxis(self.ref_features, 1, -1).copy() if channels_last else self.ref_features
        par = measure_parity(ref_logits, OnnxRunner(art.path)(feats), self.recipe.export.parity_rtol)
        self.parity["cloud_onnx"] = par
        self._row("cloud_onnx", art, max_abs=par.max_abs, rel=par.rel, tolerance=par.tolerance)
        self.report.rows[-1].message = "cloud half: parity of logits given torch features"

    def extra_tflite(self) -> None:
        primary = Converter.onnx2tf if self.plan.converter is Converter.onnx2tf else Converter.litert_torch
        routes = [(self.plan.converter, "")]
        if self.plan.both_routes:
            other = Converter.litert_torch if primary is Converter.onnx2tf else Converter.onnx2tf
            routes.append((other, "_litert" if other is Converter.litert_torch else "_onnx2tf"))
        for conv, suffix in routes:
            for mode in self.plan.modes:
                if not suffix and mode in BASE_MODES:
                    continue
                key = f"tflite_{mode.value}{suffix}"
                cfg = TFLiteConfig(mode, conv, self.recipe.export.calibration_samples,
                                   tolerance=self.recipe.export.parity_rtol if mode is TFLiteMode.fp32 else None)
                path = self.workdir / _file_key(mode, suffix)
                try:
                    art = self.tflite(cfg, path)
                    row = self.measure(key, art, cfg.tolerance)
                except ExportError as exc:
                    path.unlink(missing_ok=True)
                    self._failed(key, "tflite", mode.value, conv.value, exc)
                    continue
                if row.rel > cfg.tolerance:
                    msg = (f"{key}: parity {row.rel:.2e} (relative) > tolerance {cfg.tolerance:g} for {mode.value}; "
                           "raise export.calibration_samples, try the other converter or another cut")
                    self.artifacts.pop(key)
                    self.parity.pop(key)
                    self.accuracy.pop(key)
                    path.unlink(missing_ok=True)
                    row.status, row.message, row.file = "failed", msg, None
                    if self.plan.strict:
                        raise ExportError(msg + "; no bundle written")
                    self.log(msg)

    def onnx_device(self) -> None:
        key = "onnx_device"
        try:
            art = onnx_export.export(self.device, self.sample, OnnxConfig(), self.workdir / DEVICE_ONNX,
                                     layout=self.layout)
            self.measure(key, art, self.recipe.export.parity_rtol)
        except ExportError as exc:
            (self.workdir / DEVICE_ONNX).unlink(missing_ok=True)
            self._failed(key, "onnx", "fp32", "torch.onnx", exc)

    def coreml(self) -> None:
        for mode, name in ((CoreMLMode.fp16, COREML_FP16), (CoreMLMode.int8_weights, COREML_INT8W)):
            key = f"coreml_{mode.value}"
            path = self.workdir / name
            try:
                art = coreml_export.export(self.device, self.sample, CoreMLConfig(mode), path, layout=self.layout)
            except ExportError as exc:
                shutil.rmtree(path, ignore_errors=True)
                self._failed(key, "coreml", mode.value, "coremltools", exc)
                continue
            row = self._row(key, art, message="not run: " + coreml_export.RUNS_ON)
            if mode is CoreMLMode.int8_weights:
                self._coreml_weight_check(key, art, row)

    def _coreml_weight_check(self, key: str, art: ExportedArtifact, row: ReportRow) -> None:
        """Linux check of the package's int8 weights: torch with those weights vs torch fp32."""
        sim, replaced = coreml_export.int8_weights_in_torch(self.device, art.path)
        out = predict(sim, self.x_check)
        par = measure_parity(self.ref_features, out)
        par.measured_on = (f"torch with the {replaced} int8 weight tensors stored in {art.path.name} (dequantized); "
                           "covers weight quantization only, not fp16 compute or Core ML kernels")
        acc = float((self.cloud_nc(predict(sim, self.data.test.x)).argmax(1) == self.data.test.primary).mean())
        sim_key = f"{key}_torch_sim"
        self.parity[sim_key], self.accuracy[sim_key] = par, acc
        art.notes.append(f"Linux check: {par.measured_on}: max_abs {par.max_abs:.3g}, accuracy {acc:.4f}")
        self.report.add(ReportRow(sim_key, "torch", "int8_weights (Core ML's)", "torch (simulation)", file=None,
                                  max_abs=par.max_abs, rel=par.rel, accuracy=acc, message=par.measured_on))

    def pte(self) -> None:
        key = "pte_fp32"
        if not pte_export.available():
            self._failed(key, "pte", "fp32", "executorch", ExportError(pte_export.NOT_INSTALLED), status="skipped")
            return
        path = self.workdir / DEVICE_PTE
        try:
            art = pte_export.export(self.device, self.sample, PteConfig(), path)
        except ExportError as exc:
            path.unlink(missing_ok=True)
            self._failed(key, "pte", "fp32", "executorch", exc)
            return
        try:
            out = pte_export.run(path, self.x_check)
        except Exception as exc:  # noqa: BLE001 - runtime bindings missing: size only
            self._row(key, art, message=f"not run here ({type(exc).__name__})")
            return
        par = measure_parity(self.ref_features, out, self.recipe.export.parity_rtol)
        acc = float((self.cloud_nc(pte_export.run(path, self.data.test.x)).argmax(1) == self.data.test.primary).mean())
        self.parity[key], self.accuracy[key] = par, acc
        self._row(key, art, max_abs=par.max_abs, rel=par.rel, tolerance=par.tolerance, accuracy=acc)


def run_exports(prep, workdir: Path, plan: ExportPlan, log: Log | None = None) -> Measured:
    ex = _Exporter(prep, workdir, plan, log or (lambda _msg: None))
    try:
        ex.base()
        ex.cloud()
        ex.extra_tflite()
        if Format.onnx in plan.formats:
            ex.onnx_device()
        if Format.coreml in plan.formats:
            ex.coreml()
        if Format.pte in plan.formats:
            ex.pte()
    finally:
        ex.close()
    rep = ex.report
    rep.ratio("tflite_fp32_over_int8", "tflite_fp32", "tflite_int8")
    for suffix in ("_onnx2tf", "_litert"):
        rep.ratio(f"tflite_fp32_over_int8{suffix}", f"tflite_fp32{suffix}", f"tflite_int8{suffix}")
    rep.ratio("coreml_fp16_over_int8_weights", "coreml_fp16", "coreml_int8_weights")
    return Measured(ex.artifacts, ex.parity, ex.accuracy, rep)
