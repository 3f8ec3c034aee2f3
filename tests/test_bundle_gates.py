"""Every gate and check fails when it should: a tampered or missing bundle file (refused by `verify`
and by the server at start), broken manifests, the parity gates at their boundary (just inside
passes, just outside fails). Quantize's rounding: tests/test_quantize_oracle.py."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from typer.testing import CliRunner

from hybridsplit.bundle.manifest import Parity, load_manifest, verify_bundle
from hybridsplit.errors import BundleError, ExportError
from hybridsplit.exporters.bundle import check_gates
from hybridsplit.exporters.config import TFLiteMode
from hybridsplit.recipe import ExportConfig

HS = [sys.executable, "-m", "hybridsplit.cli"]
REGULAR_FILES = ["device.tflite", "device_fp32.tflite", "cloud.onnx", "export_report.json"]


def _copy(bundle: Path, tmp_path: Path) -> Path:
    out = tmp_path / "bundle"
    shutil.copytree(bundle, out)
    return out


def _flip_one_byte(path: Path) -> None:
    """Same size, one bit different: only the sha256 can tell."""
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def _verify_cli(bundle: Path) -> tuple[int, list[str]]:
    from hybridsplit.cli import app

    res = CliRunner().invoke(app, ["verify", "--bundle", str(bundle)])
    return res.exit_code, [ln for ln in res.output.splitlines() if ln.strip()]


# -- tampering, missing files, broken manifests ----------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("name", REGULAR_FILES)
def test_a_tampered_regular_file_is_refused_by_verify(default_bundle, tmp_path, name):
    b = _copy(default_bundle, tmp_path)
    verify_bundle(b)  # the untouched copy passes
    _flip_one_byte(b / name)
    assert (b / name).stat().st_size == (default_bundle / name).stat().st_size
    with pytest.raises(BundleError, match=f"'{b / name}' does not match the sha256"):
        verify_bundle(b)
    code, lines = _verify_cli(b)
    assert code == 2 and len(lines) == 1 and "does not match the sha256" in lines[0]


@pytest.mark.slow
def test_the_server_refuses_a_tampered_bundle_at_start(default_bundle, tmp_path):
    from hybridsplit.serving.cloud import CloudHalf

    b = _copy(default_bundle, tmp_path)
    _flip_one_byte(b / "device.tflite")  # a file the server never runs: still refused
    with pytest.raises(BundleError, match="does not match the sha256"):
        CloudHalf(b)
    env = {"HYBRIDSPLIT_TOKEN": "oracle-token-0123456789", "TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin",
           "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    r = subprocess.run([*HS, "serve", "--bundle", str(b), "--port", "9"], env=env, capture_output=True, text=True,
                       timeout=180)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "does not match the sha256" in r.stdout and "ready" not in r.stdout
    assert "Traceback" not in r.stdout + r.stderr


@pytest.mark.slow
def test_a_listed_file_that_is_missing_is_named(default_bundle, tmp_path):
    b = _copy(default_bundle, tmp_path)
    (b / "device_fp32.tflite").unlink()
    with pytest.raises(BundleError, match="lacks 'device_fp32.tflite' listed in its manifest"):
        verify_bundle(b)
    code, lines = _verify_cli(b)
    assert code == 2 and len(lines) == 1 and "lacks 'device_fp32.tflite'" in lines[0]


def _edit(raw: dict, change: str) -> str:
    if change == "truncated":
        return json.dumps(raw)[:-40]
    raw = json.loads(json.dumps(raw))
    if change == "version":
        raw["schema_version"] = 2
    elif change == "missing_field":
        del raw["feature"]["dtype"]
    elif change == "extra_field":
        raw["surprise"] = 1
    elif change == "wrong_type":
        raw["input"]["shape"] = "1x6x100"
    return json.dumps(raw)


@pytest.mark.slow
@pytest.mark.parametrize(("change", "message"), [
    ("truncated", "is not valid JSON"),
    ("version", "has schema_version 2; this hybridsplit reads 1"),
    ("missing_field", "feature.dtype: Field required"),
    ("extra_field", "surprise: Extra inputs are not permitted"),
    ("wrong_type", "input.shape"),
])
def test_broken_manifests_are_one_clear_line(default_bundle, tmp_path, change, message):
    b = _copy(default_bundle, tmp_path)
    raw = json.loads((b / "manifest.json").read_text())
    (b / "manifest.json").write_text(_edit(raw, change))
    with pytest.raises(BundleError, match=message):
        load_manifest(b)
    code, lines = _verify_cli(b)
    assert code == 2 and len(lines) == 1 and message in lines[0]


# -- the parity gates at their boundary ------------------------------------------------------

OK = Parity(max_abs=0.0, mean_abs=0.0, rel=0.0)
ACC = {"torch_fp32": 0.95, "tflite_int8": 0.95}


@pytest.mark.parametrize("name", ["tflite_fp32", "cloud_onnx"])
def test_fp32_parity_gate_at_its_boundary(name):
    cfg = ExportConfig(parity_rtol=1e-4)
    inside = {"tflite_fp32": OK, "cloud_onnx": OK, "tflite_int8": OK, name: Parity(max_abs=0, mean_abs=0, rel=0.99e-4)}
    check_gates(inside, ACC, cfg)
    at = {**inside, name: Parity(max_abs=0, mean_abs=0, rel=1e-4)}
    check_gates(at, ACC, cfg)  # the tolerance itself is allowed
    outside = {**inside, name: Parity(max_abs=0, mean_abs=0, rel=1.01e-4)}
    with pytest.raises(ExportError, match=f"Parity gate: {name} differs from torch by 1.01e-04"):
        check_gates(outside, ACC, cfg)


def test_int8_accuracy_gate_at_its_boundary():
    cfg = ExportConfig(max_int8_drop=2.0)
    parity = {"tflite_fp32": OK, "cloud_onnx": OK, "tflite_int8": OK}
    check_gates(parity, {"torch_fp32": 0.95, "tflite_int8": 0.95 - 0.0199}, cfg)  # 1.99 points
    # the bound itself is allowed (binary-exact numbers: 0.75 - 0.71875 is 3.125 points exactly)
    check_gates(parity, {"torch_fp32": 0.75, "tflite_int8": 0.71875}, ExportConfig(max_int8_drop=3.125))
    with pytest.raises(ExportError, match="2.01 points below"):
        check_gates(parity, {"torch_fp32": 0.95, "tflite_int8": 0.95 - 0.0201}, cfg)


def test_int8_parity_gate_at_its_boundary():
    cfg = ExportConfig(int8_rtol=0.15)
    fine = {"tflite_fp32": OK, "cloud_onnx": OK}
    check_gates({**fine, "tflite_int8": Parity(max_abs=0, mean_abs=0, rel=0.15)}, ACC, cfg)  # the bound itself
    with pytest.raises(ExportError, match="tflite_int8 differs from torch fp32 by 0.160"):
        check_gates({**fine, "tflite_int8": Parity(max_abs=0, mean_abs=0, rel=0.16)}, ACC, cfg)


@pytest.mark.slow
def test_the_parity_gate_stops_a_real_export_just_below_its_measured_error(tmp_path, trained_run, default_bundle,
                                                                          watch_data):
    """parity_rtol set to half the fp32 artifact's error recomputed here (tests/oracle.py): refused."""
    from oracle import litert_features, relative_error

    from hybridsplit.checkpoint import Checkpoint
    from hybridsplit.exporters.bundle import build_bundle
    from hybridsplit.models import split_model
    from hybridsplit.train import load_model, predict

    ckpt = Checkpoint.load(trained_run)
    split = split_model(load_model(ckpt), ckpt.recipe.model.cut)
    x = watch_data.test.x[:256]
    measured = relative_error(predict(split.device, x), litert_features(default_bundle / "device_fp32.tflite", x))
    assert 0 < measured < 1e-4
    ckpt.recipe = ckpt.recipe.model_copy(update={"export": ExportConfig(parity_rtol=measured / 2)})
    ckpt.save(tmp_path / "run")
    out = tmp_path / "bundles" / "strict"
    with pytest.raises(ExportError, match="Parity gate: (tflite_fp32|cloud_onnx)"):
        build_bundle(tmp_path / "run", out)
    assert not out.exists() and list((tmp_path / "bundles").iterdir()) == []


class StandinArtifact:
    """Stands in for a converted .tflite (named as such): calling it returns the torch reference scaled
    by (1 + delta), so its relative parity error is delta by construction."""

    format, converter, input_layout, output_layout = "tflite", "standin", "NCW", "NCW"

    def __init__(self, path: Path, mode: str, out: np.ndarray):
        self.path, self.mode, self.out = path, mode, out

    def size_bytes(self) -> int:
        return self.path.stat().st_size

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.out


class StandinTFLiteExporter:
    def __init__(self, ref: np.ndarray, delta: float):
        self.out = (ref.astype(np.float64) * (1 + delta)).astype(np.float32)

    def export(self, cfg, path: Path) -> StandinArtifact:
        path.write_bytes(b"standin")
        return StandinArtifact(path, cfg.mode.value, self.out)


def _extra_stage(tmp_path: Path, delta: float, strict: bool):
    from hybridsplit.exporters.session import ExportContext, ExportPlan, extra_tflite_stage

    ref = np.random.default_rng(0).normal(size=(16, 4, 5)).astype(np.float32)
    p = SimpleNamespace(recipe=SimpleNamespace(export=ExportConfig(parity_rtol=1e-4, calibration_samples=8)),
                        ref_features=ref, x_check=np.zeros((16, 6, 100), np.float32), accuracy_of=lambda fn: 0.9,
                        scores_of=lambda fn: {"accuracy": 0.9, "balanced_accuracy": 0.9, "recall": [0.9]})
    ctx = ExportContext(p=p, workdir=tmp_path, plan=ExportPlan(modes=(TFLiteMode.fp16,), strict=strict),
                        log=lambda msg: None, tflite=StandinTFLiteExporter(ref, delta))
    return extra_tflite_stage(ctx)


def test_an_over_tolerance_tflite_mode_is_refused_at_its_boundary(tmp_path):
    from hybridsplit.exporters.config import TFLITE_TOLERANCE

    tol = TFLITE_TOLERANCE[TFLiteMode.fp16]
    (inside,) = _extra_stage(tmp_path, tol * 0.99, strict=True)
    assert inside.row.status == "ok" and inside.parity.rel == pytest.approx(tol * 0.99, rel=1e-4)
    with pytest.raises(ExportError, match=r"tflite_fp16: parity 1\.01e-02 \(relative\) > tolerance 0\.01 for fp16"):
        _extra_stage(tmp_path, tol * 1.01, strict=True)
    (outside,) = _extra_stage(tmp_path, tol * 1.01, strict=False)  # --format all: a failed row, no artifact kept
    assert outside.row.status == "failed" and outside.artifact is None and outside.row.file is None
    assert not (tmp_path / "device_fp16.tflite").exists()
