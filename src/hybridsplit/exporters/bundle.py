"""Build a bundle: run dir -> device.tflite (int8) + device_fp32.tflite + cloud.onnx + manifest.json.

Stages are plain functions returning values (ExecuTorch's staged-export shape): load the
checkpoint and split, export each artifact into a temporary directory, measure parity and
accuracy through the real runtimes, gate, then rename the directory into place. A failed
gate or conversion leaves no bundle behind.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import time
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
import torch

from hybridsplit import __version__
from hybridsplit.checkpoint import Checkpoint
from hybridsplit.data import Dataset, build_data
from hybridsplit.defences import apply_defences, feature_defence_info
from hybridsplit.errors import BundleError, ExportError
from hybridsplit.exporters import onnx as onnx_export
from hybridsplit.exporters import tflite as tflite_export
from hybridsplit.exporters.manifest import (
    MANIFEST_NAME, Artifact, FeatureSpec, FileEntry, InputSpec, Manifest, Normalisation, Parity,
    Quantization, load_manifest,
)
from hybridsplit.exporters.parity import measure_parity, split_accuracy
from hybridsplit.models import SplitModel, split_model
from hybridsplit.recipe import ExportConfig
from hybridsplit.runtime import OnnxRunner, TFLiteRunner
from hybridsplit.train import predict, load_model

DEVICE_INT8 = "device.tflite"
DEVICE_FP32 = "device_fp32.tflite"
CLOUD_ONNX = "cloud.onnx"
PARITY_SAMPLES = 256
_VERSIONED = ("torch", "litert-torch", "ai-edge-litert", "onnx", "onnxruntime", "numpy")


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
    data = build_data(ckpt.recipe.data, ckpt.recipe.seed)
    if data.input_shape != tuple(ckpt.input_shape):
        raise ExportError(f"Data now gives inputs {data.input_shape}, the checkpoint was trained on "
                          f"{tuple(ckpt.input_shape)}; re-train or restore the recipe's data settings")
    return Prepared(ckpt, split, data)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _versions() -> dict[str, str]:
    out = {"hybridsplit": __version__}
    for name in _VERSIONED:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    return out


def _calibration(data: Dataset, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(data.train), size=min(n, len(data.train)), replace=False)
    return data.train.x[np.sort(idx)]


def check_gates(parity: dict[str, Parity], acc: dict[str, float], cfg: ExportConfig) -> None:
    """The parity gate: fp32 artifacts must match torch, int8 may lose at most max_int8_drop points."""
    for name in ("tflite_fp32", "cloud_onnx"):
        p = parity[name]
        if p.rel > cfg.parity_rtol:
            raise ExportError(
                f"Parity gate: {name} differs from torch by {p.rel:.2e} (relative) > export.parity_rtol="
                f"{cfg.parity_rtol:g}; no bundle written. Check the converter, or raise the tolerance"
            )
    drop = 100 * (acc["torch_fp32"] - acc["tflite_int8"])
    if drop > cfg.max_int8_drop:
        raise ExportError(
            f"Parity gate: int8 accuracy {acc['tflite_int8']:.4f} is {drop:.2f} points below torch fp32 "
            f"{acc['torch_fp32']:.4f} (> export.max_int8_drop={cfg.max_int8_drop:g}); no bundle written. "
            "Raise export.calibration_samples or try another cut"
        )


def export_artifacts(prep: Prepared, workdir: Path) -> dict:
    """Stage 2: write the artifacts into workdir, measure them, apply the recipe's gates."""
    recipe, split, data = prep.ckpt.recipe, prep.split, prep.data
    torch.manual_seed(recipe.seed)
    sample = torch.from_numpy(data.test.x[:1])
    feature_sample = split.device(sample).detach()

    tflite_export.export_fp32(split.device, sample, workdir / DEVICE_FP32)
    tflite_export.export_int8(split.device, sample,
                              _calibration(data, recipe.export.calibration_samples, recipe.seed),
                              workdir / DEVICE_INT8)
    onnx_export.export_onnx(split.cloud, feature_sample, workdir / CLOUD_ONNX, "features", "logits")

    fp32, int8, cloud = TFLiteRunner(workdir / DEVICE_FP32), TFLiteRunner(workdir / DEVICE_INT8), OnnxRunner(workdir / CLOUD_ONNX)
    x_check = data.test.x[:PARITY_SAMPLES]
    ref_features = predict(split.device, x_check)
    ref_logits = predict(split.cloud, ref_features)
    parity = {
        "tflite_fp32": measure_parity(ref_features, fp32(x_check), recipe.export.parity_rtol),
        "tflite_int8": measure_parity(ref_features, int8(x_check)),
        "cloud_onnx": measure_parity(ref_logits, cloud(ref_features), recipe.export.parity_rtol),
    }
    x, y = data.test.x, data.test.primary
    acc = {
        "torch_fp32": float((predict(split.full, x).argmax(1) == y).mean()),
        "tflite_fp32": split_accuracy(fp32, cloud, x, y),
        "tflite_int8": split_accuracy(int8, cloud, x, y),
    }
    check_gates(parity, acc, recipe.export)
    return {"parity": parity, "accuracy": acc, "runners": (fp32, int8, cloud)}


def make_manifest(prep: Prepared, workdir: Path, measured: dict) -> Manifest:
    """Stage 3: describe the artifacts; every shape and qparam is read off the real files."""
    recipe, split, data = prep.ckpt.recipe, prep.split, prep.data
    fp32, int8, _ = measured["runners"]
    in_q, out_q = int8.input_quant, int8.output_quant
    if in_q is None or out_q is None:
        raise RuntimeError("full-int8 device.tflite lacks input/output quantization")
    feature_numel = int(np.prod(int8.output_shape[1:]))
    input_numel = int(np.prod(data.input_shape))
    files = {p.name: FileEntry(sha256=sha256_file(p), bytes=p.stat().st_size)
             for p in sorted(workdir.iterdir()) if p.is_file()}
    artifacts = {
        "tflite_int8": Artifact(file=DEVICE_INT8, role="device", format="tflite", mode="int8",
                                converter="litert-torch", layout=data.input_layout,
                                input_dtype="int8", output_dtype="int8"),
        "tflite_fp32": Artifact(file=DEVICE_FP32, role="device", format="tflite", mode="fp32",
                                converter="litert-torch", layout=data.input_layout,
                                input_dtype="float32", output_dtype="float32"),
        "cloud_onnx": Artifact(file=CLOUD_ONNX, role="cloud", format="onnx", mode="fp32",
                               converter=f"torch.onnx (opset {onnx_export.OPSET})", layout="NC...",
                               input_dtype="float32", output_dtype="float32"),
    }
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
            shape=int8.input_shape, layout=data.input_layout,
            normalisation=Normalisation(mean=data.norm.mean, std=data.norm.std, axis=data.norm.axis),
            quantization=Quantization(scale=in_q[0], zero_point=in_q[1]),
            channels=data.info.get("channels", []), sample_rate_hz=data.info.get("sample_rate_hz"),
        ),
        feature=FeatureSpec(shape=int8.output_shape, dtype="int8", layout="NC..." if len(int8.output_shape) > 2 else "NC",
                            scale=out_q[0], zero_point=out_q[1], bytes_per_inference=feature_numel,
                            raw_input_bytes=4 * input_numel,
                            **feature_defence_info(prep.ckpt.extra.get("defence"))),
        labels=data.primary_names,
        sensitive_labels=data.sensitive_names,
        artifacts=artifacts,
        files=files,
        parity=measured["parity"],
        accuracy=measured["accuracy"],
        versions=_versions(),
    )


def write_bundle_atomically(workdir: Path, out_dir: Path) -> None:
    """Rename a finished workdir into place; an older bundle is replaced only after success."""
    if out_dir.exists():
        old = out_dir.with_name(f".{out_dir.name}.old-{int(time.time() * 1000)}")
        out_dir.rename(old)
        workdir.rename(out_dir)
        shutil.rmtree(old, ignore_errors=True)
    else:
        workdir.rename(out_dir)


def build_bundle(run_dir: str | Path, out_dir: str | Path, cut: str | None = None) -> Manifest:
    prep = prepare(run_dir, cut)
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        measured = export_artifacts(prep, workdir)
        manifest = make_manifest(prep, workdir, measured)
        (workdir / MANIFEST_NAME).write_text(manifest.model_dump_json(indent=2) + "\n")
        write_bundle_atomically(workdir, out_dir)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    return manifest


def verify_bundle(bundle_dir: str | Path) -> Manifest:
    """Check every file the manifest lists against its sha256 and size."""
    bundle_dir = Path(bundle_dir)
    manifest = load_manifest(bundle_dir)
    for name, entry in manifest.files.items():
        path = bundle_dir / name
        if not path.is_file():
            raise BundleError(f"Bundle '{bundle_dir}' lacks '{name}' listed in its manifest; re-export it")
        if path.stat().st_size != entry.bytes or sha256_file(path) != entry.sha256:
            raise BundleError(f"'{path}' does not match the sha256 in its manifest; the bundle was modified, re-export it")
    return manifest
