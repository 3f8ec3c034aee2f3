"""Export stage 2: every requested format x mode written and measured, as values.

`ExportPlan` says what to export (validated when built). Each stage takes the frozen
`PreparedDevice` (stage 1, exporters/prepared.py) and returns `Outcome`s: a report row, and for
an artifact that passed, the artifact with its parity against torch fp32 (features) and its test
accuracy with the ONNX cloud half. Nothing is added and then taken back: an artifact that fails
its check is an outcome without an artifact. `run_exports` collects them into `Measured`.

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
from hybridsplit.errors import ExportError
from hybridsplit.exporters import coreml as coreml_export
from hybridsplit.exporters import onnx as onnx_export
from hybridsplit.exporters import pte as pte_export
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
from hybridsplit.exporters.parity import measure_parity
from hybridsplit.exporters.prepared import (
    Log,
    PreparedDevice,
    TFLiteExporter,
    prepare_device,
    remove_scratch,
    scratch_dir,
)
from hybridsplit.results.export import ExportReport, ExportRow
from hybridsplit.train import predict

DEVICE_INT8 = "device.tflite"
DEVICE_FP32 = "device_fp32.tflite"
CLOUD_ONNX = "cloud.onnx"
DEVICE_ONNX = "device.onnx"
COREML_FP16 = "device.mlpackage"
COREML_INT8W = "device_int8w.mlpackage"
DEVICE_PTE = "device.pte"
BASE_MODES = (TFLiteMode.int8, TFLiteMode.fp32)


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


@dataclass(frozen=True)
class Outcome:
    """One thing tried: its report row; for a kept artifact, the artifact, parity and accuracy."""

    key: str
    row: ExportRow
    artifact: ExportedArtifact | None = None
    parity: Parity | None = None
    accuracy: float | None = None
    scores: dict | None = None
    """accuracy, balanced accuracy and per-class recall (privacy/metrics.class_scores)"""


@dataclass
class Measured:
    artifacts: dict[str, ExportedArtifact]
    parity: dict[str, Parity]
    accuracy: dict[str, float]
    report: ExportReport
    balanced_accuracy: dict[str, float] = field(default_factory=dict)
    recall: dict[str, list] = field(default_factory=dict)
    device_key: str = "tflite_int8"
    files_notes: dict[str, str] = field(default_factory=dict)

    @classmethod
    def collect(cls, prepared: PreparedDevice, outcomes: list[Outcome]) -> Measured:
        report = ExportReport(backbone=prepared.recipe.model.backbone, cut=prepared.split.cut,
                              torch_fp32_accuracy=prepared.torch_accuracy,
                              torch_fp32_balanced_accuracy=prepared.torch_scores["balanced_accuracy"],
                              rows=[o.row for o in outcomes])
        scores = {"torch_fp32": prepared.torch_scores, **{o.key: o.scores for o in outcomes if o.scores is not None}}
        report.ratio("tflite_fp32_over_int8", "tflite_fp32", "tflite_int8")
        for suffix in ("_onnx2tf", "_litert"):
            report.ratio(f"tflite_fp32_over_int8{suffix}", f"tflite_fp32{suffix}", f"tflite_int8{suffix}")
        report.ratio("coreml_fp16_over_int8_weights", "coreml_fp16", "coreml_int8_weights")
        return cls(artifacts={o.key: o.artifact for o in outcomes if o.artifact is not None},
                   parity={o.key: o.parity for o in outcomes if o.parity is not None},
                   accuracy={"torch_fp32": prepared.torch_accuracy,
                             **{o.key: o.accuracy for o in outcomes if o.accuracy is not None}},
                   report=report, balanced_accuracy={k: s["balanced_accuracy"] for k, s in scores.items()},
                   recall={k: s["recall"] for k, s in scores.items()})


@dataclass(frozen=True)
class ExportContext:
    """What every stage reads: the prepared device half, where files go, the plan, the TFLite exporter."""

    p: PreparedDevice
    workdir: Path
    plan: ExportPlan
    log: Log
    tflite: TFLiteExporter


def _row(key: str, art: ExportedArtifact, **kw) -> ExportRow:
    return ExportRow(artifact=key, format=art.format, mode=art.mode, converter=art.converter, file=art.path.name,
                     bytes=art.size_bytes(), layout=f"{art.input_layout}->{art.output_layout}", **kw)


def measured(p: PreparedDevice, key: str, art: ExportedArtifact, tolerance: float | None,
             device_fn: Callable[[np.ndarray], np.ndarray] | None = None, **row_kw) -> Outcome:
    """An artifact run on the parity windows and the test split (through its own runtime by default)."""
    fn = device_fn or art
    par = measure_parity(p.ref_features, fn(p.x_check), tolerance)
    scores = p.scores_of(fn)
    acc = scores["accuracy"]
    row = _row(key, art, max_abs=par.max_abs, rel=par.rel, tolerance=tolerance, accuracy=acc,
               balanced_accuracy=scores["balanced_accuracy"], **row_kw)
    return Outcome(key, row, art, par, acc, scores)


def failed(ctx: ExportContext, key: str, fmt: str, mode: str, converter: str, exc: Exception,
           status: str = "failed") -> Outcome:
    """The row of a variant that could not be made; in a strict plan a failure stops the export."""
    if ctx.plan.strict and status == "failed":
        raise exc
    ctx.log(f"{key}: {status}: {exc}")
    return Outcome(key, ExportRow(artifact=key, format=fmt, mode=mode, converter=converter, status=status,
                                  message=str(exc)))


def _tflite_cfg(ctx: ExportContext, mode: TFLiteMode, converter: Converter) -> TFLiteConfig:
    rtol = ctx.p.recipe.export.parity_rtol
    tol = {TFLiteMode.fp32: rtol, TFLiteMode.int8: ctx.p.recipe.export.int8_rtol}.get(mode)
    return TFLiteConfig(mode, converter, ctx.p.recipe.export.calibration_samples, tolerance=tol)


# -- stages: (ctx) -> list[Outcome] --------------------------------------------------------

def base_stage(ctx: ExportContext) -> list[Outcome]:
    """device.tflite (int8) and device_fp32.tflite: always, any failure stops the export."""
    def one(mode: TFLiteMode) -> Outcome:
        cfg = _tflite_cfg(ctx, mode, ctx.plan.converter)
        art = ctx.tflite.export(cfg, ctx.workdir / _file_key(mode, ""))
        return measured(ctx.p, f"tflite_{mode.value}", art, cfg.tolerance)

    outs = [one(mode) for mode in BASE_MODES]
    if ctx.tflite.fell_back and not outs[0].artifact.converter.startswith("onnx2tf"):
        outs[0] = one(BASE_MODES[0])  # fp32 needed onnx2tf after int8 did not: redo int8, one layout per bundle
    return outs


def cloud_stage(ctx: ExportContext, device_art: ExportedArtifact) -> list[Outcome]:
    """cloud.onnx in the layout device.tflite emits."""
    p = ctx.p
    channels_last = is_channels_last(device_art.output_layout)
    module = _CloudLayout(p.split.cloud).eval() if channels_last else p.split.cloud
    sample = torch.movedim(p.feature_sample, 1, -1) if channels_last else p.feature_sample
    art = onnx_export.export(module, sample, OnnxConfig(), ctx.workdir / CLOUD_ONNX, role="cloud",
                             input_name="features", output_name="logits", layout=device_art.output_layout)
    art.output_layout = "NC"
    ref_logits = predict(p.split.cloud, p.ref_features)
    feats = np.moveaxis(p.ref_features, 1, -1).copy() if channels_last else p.ref_features
    par = measure_parity(ref_logits, OnnxRunner(art.path)(feats), p.recipe.export.parity_rtol)
    row = _row("cloud_onnx", art, max_abs=par.max_abs, rel=par.rel, tolerance=par.tolerance,
               message="cloud half: parity of logits given torch features")
    return [Outcome("cloud_onnx", row, art, par)]


def _extra_routes(plan: ExportPlan) -> list[tuple[Converter, str]]:
    primary = Converter.onnx2tf if plan.converter is Converter.onnx2tf else Converter.litert_torch
    routes = [(plan.converter, "")]
    if plan.both_routes:
        other = Converter.litert_torch if primary is Converter.onnx2tf else Converter.onnx2tf
        routes.append((other, "_litert" if other is Converter.litert_torch else "_onnx2tf"))
    return routes


def extra_tflite_stage(ctx: ExportContext) -> list[Outcome]:
    """Every other TFLite mode (and, for --format all, every mode through the other converter)."""
    outs = []
    for conv, suffix in _extra_routes(ctx.plan):
        for mode in ctx.plan.modes:
            if not suffix and mode in BASE_MODES:
                continue
            key, cfg = f"tflite_{mode.value}{suffix}", _tflite_cfg(ctx, mode, conv)
            path = ctx.workdir / _file_key(mode, suffix)
            try:
                out = measured(ctx.p, key, ctx.tflite.export(cfg, path), cfg.tolerance)
            except ExportError as exc:
                path.unlink(missing_ok=True)
                outs.append(failed(ctx, key, "tflite", mode.value, conv.value, exc))
                continue
            if cfg.tolerance is not None and out.parity.rel > cfg.tolerance:
                msg = (f"{key}: parity {out.parity.rel:.2e} (relative) > tolerance {cfg.tolerance:g} for {mode.value}; "
                       "raise export.calibration_samples, try the other converter or another cut")
                path.unlink(missing_ok=True)
                if ctx.plan.strict:
                    raise ExportError(msg + "; no bundle written")
                ctx.log(msg)
                out.row.status, out.row.message, out.row.file = "failed", msg, None
                out = Outcome(key, out.row)  # the row stays; the artifact, its parity and accuracy do not
            outs.append(out)
    return outs


def onnx_stage(ctx: ExportContext) -> list[Outcome]:
    key = "onnx_device"
    try:
        art = onnx_export.export(ctx.p.device, ctx.p.sample, OnnxConfig(), ctx.workdir / DEVICE_ONNX,
                                 layout=ctx.p.layout)
        return [measured(ctx.p, key, art, ctx.p.recipe.export.parity_rtol)]
    except ExportError as exc:
        (ctx.workdir / DEVICE_ONNX).unlink(missing_ok=True)
        return [failed(ctx, key, "onnx", "fp32", "torch.onnx", exc)]


def coreml_stage(ctx: ExportContext) -> list[Outcome]:
    outs = []
    for mode, name in ((CoreMLMode.fp16, COREML_FP16), (CoreMLMode.int8_weights, COREML_INT8W)):
        key, path = f"coreml_{mode.value}", ctx.workdir / name
        try:
            art = coreml_export.export(ctx.p.device, ctx.p.sample, CoreMLConfig(mode), path, layout=ctx.p.layout)
        except ExportError as exc:
            shutil.rmtree(path, ignore_errors=True)
            outs.append(failed(ctx, key, "coreml", mode.value, "coremltools", exc))
            continue
        outs.append(Outcome(key, _row(key, art, message="not run: " + coreml_export.RUNS_ON), art))
        if mode is CoreMLMode.int8_weights:
            outs.append(_coreml_weight_check(ctx.p, key, art))
    return outs


def _coreml_weight_check(p: PreparedDevice, key: str, art: ExportedArtifact) -> Outcome:
    """Linux check of the package's int8 weights: torch with those weights vs torch fp32."""
    sim, replaced = coreml_export.int8_weights_in_torch(p.device, art.path)
    par = measure_parity(p.ref_features, predict(sim, p.x_check))
    par.measured_on = (f"torch with the {replaced} int8 weight tensors stored in {art.path.name} (dequantized); "
                       "covers weight quantization only, not fp16 compute or Core ML kernels")
    acc = p.accuracy_of(lambda x: predict(sim, x))
    art.notes.append(f"Linux check: {par.measured_on}: max_abs {par.max_abs:.3g}, accuracy {acc:.4f}")
    sim_key = f"{key}_torch_sim"
    row = ExportRow(artifact=sim_key, format="torch", mode="int8_weights (Core ML's)", converter="torch (simulation)",
                    max_abs=par.max_abs, rel=par.rel, accuracy=acc, message=par.measured_on)
    return Outcome(sim_key, row, None, par, acc)


def pte_stage(ctx: ExportContext) -> list[Outcome]:
    key, path = "pte_fp32", ctx.workdir / DEVICE_PTE
    if not pte_export.available():
        return [failed(ctx, key, "pte", "fp32", "executorch", ExportError(pte_export.NOT_INSTALLED), status="skipped")]
    try:
        art = pte_export.export(ctx.p.device, ctx.p.sample, PteConfig(), path)
    except ExportError as exc:
        path.unlink(missing_ok=True)
        return [failed(ctx, key, "pte", "fp32", "executorch", exc)]
    try:
        pte_export.run(path, ctx.p.x_check[:1])
    except Exception as exc:  # noqa: BLE001 - runtime bindings missing: size only
        return [Outcome(key, _row(key, art, message=f"not run here ({type(exc).__name__})"), art)]
    return [measured(ctx.p, key, art, ctx.p.recipe.export.parity_rtol, device_fn=lambda x: pte_export.run(path, x))]


# Optional formats, in report order; each stage has the same signature.
FORMAT_STAGES: dict[Format, Callable[[ExportContext], list[Outcome]]] = {
    Format.onnx: onnx_stage, Format.coreml: coreml_stage, Format.pte: pte_stage,
}


def run_exports(prep, workdir: Path, plan: ExportPlan, log: Log | None = None) -> Measured:
    scratch = scratch_dir(workdir)
    try:
        p = prepare_device(prep, scratch)
        with TFLiteExporter(p, log or (lambda _msg: None)) as tflite:
            ctx = ExportContext(p, workdir, plan, log or (lambda _msg: None), tflite)
            outcomes = base_stage(ctx)
            outcomes += cloud_stage(ctx, outcomes[0].artifact)
            outcomes += extra_tflite_stage(ctx)
            for fmt, stage in FORMAT_STAGES.items():
                if fmt in plan.formats:
                    outcomes += stage(ctx)
    finally:
        remove_scratch(scratch)
    return Measured.collect(p, outcomes)
