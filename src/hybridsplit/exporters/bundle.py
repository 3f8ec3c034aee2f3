"""Build a bundle: run dir -> device.tflite (int8) + device_fp32.tflite + cloud.onnx + manifest.json,
plus the variants an `ExportPlan` asks for (TFLite modes and converters, Core ML, ONNX, .pte)
and export_report.json.

Stages are plain functions returning values (ExecuTorch's staged-export shape): load the
checkpoint and split, export each artifact into a temporary directory, measure parity and
accuracy through the real runtimes, gate, then rename the directory into place. A failed
gate or conversion leaves no bundle behind.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

from hybridsplit import __version__
from hybridsplit.bundle.layout import is_channels_last, torch_layout
from hybridsplit.bundle.manifest import (
    MANIFEST_NAME,
    Artifact,
    FeatureSpec,
    InputSpec,
    Manifest,
    Parity,
    Quantization,
    file_entry,
)
from hybridsplit.checkpoint import Checkpoint
from hybridsplit.data import Dataset, build_data
from hybridsplit.defences import apply_defences, feature_defence_info
from hybridsplit.errors import ExportError
from hybridsplit.exporters.artifact import ExportedArtifact
from hybridsplit.exporters.prepared import Log
from hybridsplit.exporters.session import (  # noqa: F401 - file names are part of the bundle API
    CLOUD_ONNX,
    COREML_FP16,
    COREML_INT8W,
    DEVICE_FP32,
    DEVICE_INT8,
    DEVICE_ONNX,
    ExportPlan,
    Measured,
    run_exports,
)
from hybridsplit.models import SplitModel, split_model
from hybridsplit.recipe import ExportConfig
from hybridsplit.train import load_model

_VERSIONED = ("torch", "litert-torch", "ai-edge-litert", "ai-edge-quantizer", "onnx", "onnxruntime", "numpy",
              "onnx2tf", "tensorflow-cpu", "coremltools", "executorch")


@dataclass
class Prepared:
    """Stage 1: a trained model cut at the chosen point, with the data to check it on."""

    ckpt: Checkpoint
    split: SplitModel
    data: Dataset


def prepare(run_dir: str | Path, cut: str | None = None) -> Prepared:
    ckpt = Checkpoint.load(run_dir)
    model = load_model(ckpt)
    split = split_model(model, cut or ckpt.recipe.model.cut)  # unknown cut -> SpecError, before any I/O
    split = apply_defences(split, ckpt.extra.get("defence"))
    for module in (split.full, split.device, split.cloud):  # defences may build new modules in train mode
        module.eval()
    data = build_data(ckpt.recipe.data, ckpt.recipe.seed)
    if data.input_shape != tuple(ckpt.input_shape):
        raise ExportError(f"Data now gives inputs {data.input_shape}, the checkpoint was trained on "
                          f"{tuple(ckpt.input_shape)}; re-train or restore the recipe's data settings")
    return Prepared(ckpt, split, data)


def _versions() -> dict[str, str]:
    out = {"hybridsplit": __version__}
    for name in _VERSIONED:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    return out


def check_gates(parity: dict[str, Parity], acc: dict[str, float], cfg: ExportConfig) -> None:
    """The parity gate: fp32 artifacts must match torch, int8 must stay within int8_rtol of torch and
    lose at most max_int8_drop points of accuracy."""
    for name in ("tflite_fp32", "cloud_onnx"):
        p = parity[name]
        if p.rel > cfg.parity_rtol:
            raise ExportError(
                f"Parity gate: {name} differs from torch by {p.rel:.2e} (relative) > export.parity_rtol="
                f"{cfg.parity_rtol:g}; no bundle written. Check the converter, or raise the tolerance"
            )
    p8 = parity["tflite_int8"]
    if p8.rel > cfg.int8_rtol:
        raise ExportError(
            f"Parity gate: tflite_int8 differs from torch fp32 by {p8.rel:.3f} (relative) > export.int8_rtol="
            f"{cfg.int8_rtol:g}; no bundle written. Raise export.calibration_samples, try --converter onnx2tf "
            "or another cut, or raise export.int8_rtol"
        )
    drop = 100 * (acc["torch_fp32"] - acc["tflite_int8"])
    if drop > cfg.max_int8_drop:
        raise ExportError(
            f"Parity gate: int8 accuracy {acc['tflite_int8']:.4f} is {drop:.2f} points below torch fp32 "
            f"{acc['torch_fp32']:.4f} (> export.max_int8_drop={cfg.max_int8_drop:g}); no bundle written. "
            "Raise export.calibration_samples or try another cut"
        )


def export_artifacts(prep: Prepared, workdir: Path, plan: ExportPlan | None = None, log: Log | None = None) -> Measured:
    """Stage 2: write the artifacts into workdir, measure them, apply the recipe's gates."""
    measured = run_exports(prep, workdir, plan or ExportPlan(), log)
    check_gates(measured.parity, measured.accuracy, prep.ckpt.recipe.export)
    measured.report.speed_quant = _speed_quant(measured)
    measured.report.save(workdir)
    return measured


def _speed_quant(measured: Measured) -> dict:
    """The speed / quantisation check of every .tflite artifact (exporters/speedcheck.py)."""
    from hybridsplit.exporters.speedcheck import speed_quant_report

    files = {k: a.path for k, a in measured.artifacts.items() if a.format == "tflite" and a.path.is_file()}
    pairs = [(k, k.replace("int8", "fp32")) for k in files if "int8" in k and "per_tensor" not in k]
    return speed_quant_report(files, pairs)


def _quant(q: tuple[float, int] | None) -> Quantization | None:
    return Quantization(scale=q[0], zero_point=q[1]) if q else None


def _artifact_entry(art: ExportedArtifact) -> Artifact:
    return Artifact(
        file=art.path.name, role=art.role, format=art.format, mode=art.mode, converter=art.converter,
        layout=art.input_layout, output_layout=art.output_layout, input_dtype=art.input_dtype,
        output_dtype=art.output_dtype, input_name=art.input_name, output_name=art.output_name,
        input_shape=art.input_shape, output_shape=art.output_shape,
        input_quantization=_quant(art.input_quant), output_quantization=_quant(art.output_quant),
        opset=art.opset, bytes=art.size_bytes(), runs_on=art.runs_on, notes=art.notes,
    )


def make_manifest(prep: Prepared, workdir: Path, measured: Measured) -> Manifest:
    """Stage 3: describe the artifacts; every shape and qparam is read off the real files."""
    recipe, split, data = prep.ckpt.recipe, prep.split, prep.data
    device = measured.artifacts["tflite_int8"]
    in_q, out_q = device.input_quant, device.output_quant
    if in_q is None or out_q is None:
        raise RuntimeError("full-int8 device.tflite lacks input/output quantization")
    feature_numel = int(np.prod(device.output_shape[1:]))
    input_numel = int(np.prod(data.input_shape))
    files = {p.name: file_entry(p) for p in sorted(workdir.iterdir()) if p.name != MANIFEST_NAME}
    artifacts = {key: _artifact_entry(art) for key, art in measured.artifacts.items()}
    channel_axis = len(device.input_shape) - 1 if is_channels_last(device.input_layout) else 1
    return Manifest(
        toolkit_version=__version__,
        created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        recipe=recipe.model_dump(mode="json"),
        recipe_sha256=recipe.digest(),
        backbone=recipe.model.backbone,
        cut=split.cut,
        protocol=data.protocol,
        dataset=data.summary(),
        input=InputSpec(
            shape=device.input_shape, layout=device.input_layout,
            normalisation=data.norm.model_copy(update={"axis": channel_axis}),
            quantization=Quantization(scale=in_q[0], zero_point=in_q[1]),
            channels=data.info.get("channels", []), sample_rate_hz=data.info.get("sample_rate_hz"),
            units=data.info.get("units", []), android_sensors=data.info.get("android_sensors", []),
        ),
        feature=FeatureSpec(shape=device.output_shape, dtype="int8",
                            layout="NC..." if device.output_layout == torch_layout(len(device.output_shape)) and len(device.output_shape) > 2
                            else device.output_layout,
                            scale=out_q[0], zero_point=out_q[1], bytes_per_inference=feature_numel,
                            raw_input_bytes=4 * input_numel,
                            **feature_defence_info(prep.ckpt.extra.get("defence"))),
        labels=data.primary_names,
        sensitive_labels=data.sensitive_names,
        artifacts=artifacts,
        files=files,
        parity=measured.parity,
        accuracy=measured.accuracy,
        balanced_accuracy=measured.balanced_accuracy,
        class_recall=measured.recall,
        versions=_versions(),
    )


def make_readable(root: Path) -> None:
    """Directories 0755, files 0644: mkdtemp made the workdir 0700, which a service account or another
    Ray node reading the bundle at the same path could not open. The bundle holds no secret."""
    root.chmod(0o755)
    for p in root.rglob("*"):
        if not p.is_symlink():
            p.chmod(0o755 if p.is_dir() else 0o644)


def write_bundle_atomically(workdir: Path, out_dir: Path) -> None:
    """Rename a finished workdir into place, readable by all; an older bundle is replaced only after success."""
    make_readable(workdir)
    if out_dir.exists():
        old = out_dir.with_name(f".{out_dir.name}.old-{int(time.time() * 1000)}")
        out_dir.rename(old)
        workdir.rename(out_dir)
        shutil.rmtree(old, ignore_errors=True)
    else:
        workdir.rename(out_dir)


def build_bundle(run_dir: str | Path, out_dir: str | Path, cut: str | None = None,
                 plan: ExportPlan | None = None, log: Log | None = None) -> Manifest:
    prep = prepare(run_dir, cut)
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        measured = export_artifacts(prep, workdir, plan, log)
        manifest = make_manifest(prep, workdir, measured)
        (workdir / MANIFEST_NAME).write_text(manifest.model_dump_json(indent=2) + "\n")
        write_bundle_atomically(workdir, out_dir)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    return manifest
