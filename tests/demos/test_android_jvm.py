"""Android demo, compiled: the app's Kotlin is compiled with Debian's kotlinc against stand-in Android
SDK / LiteRT classes (no phone or Android SDK exists here), then its pure parts run on the JVM on
a freshly exported bundle. Their bytes are compared with the Python client's; the phone-sensor
mapping with the sensor conventions Android and Core Motion document. kotlinc runs once per
session (the build folder is reused) plus once on a deliberately broken copy."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hybridsplit.demos.android import AndroidCheckError
from hybridsplit.demos.android_jvm import DRIVER, compile_app, driver_inputs, expected_inputs, run_driver, tools

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "android_demo"
G = 9.80665  # m/s^2 per g: Android's SensorManager.STANDARD_GRAVITY

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def jvm_tools() -> dict:
    try:
        return tools()
    except AndroidCheckError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def android_build_dir(tmp_path_factory, jvm_tools) -> Path:
    out = tmp_path_factory.mktemp("android-jvm")
    compile_app(APP, out)
    return out


@pytest.fixture(scope="session")
def jvm_run(android_build_dir, default_bundle, fresh_samples, tmp_path_factory):
    """The driver run on the fresh bundle: (out dir, the Python client's messages)."""
    work = tmp_path_factory.mktemp("jvm-run")
    messages = driver_inputs(default_bundle, fresh_samples, work / "in")
    build = compile_app(APP, android_build_dir)  # cached: returns at once
    run_driver(build, work / "in", work / "out")
    return work / "out", messages


def _json(out: Path, name: str) -> dict:
    return json.loads((out / name).read_text())


def test_kotlin_int8_inputs_equal_python_preprocess(jvm_run, default_bundle, fresh_samples):
    out, _ = jvm_run
    got = (out / "input.bin").read_bytes()
    assert len(got) == len(fresh_samples["samples"]) * 600
    assert got == expected_inputs(default_bundle, fresh_samples)


def test_kotlin_wire_messages_equal_python_client(jvm_run, default_bundle):
    from hybridsplit.serving import wire

    out, messages = jvm_run
    body = (out / "wire.bin").read_bytes()
    size = len(messages[0])
    got = [body[i:i + size] for i in range(0, len(body), size)]
    assert got == messages
    manifest = json.loads((default_bundle / "manifest.json").read_text())
    msg = wire.decode(got[0])
    assert msg.bundle_id == hashlib.sha256((default_bundle / "manifest.json").read_bytes()).digest()
    assert list(msg.tensor.shape) == manifest["feature"]["shape"]
    assert size == 48 + 4 * len(manifest["feature"]["shape"]) + manifest["feature"]["bytes_per_inference"]


def test_kotlin_reads_manifest_and_samples_as_written(jvm_run, default_bundle, fresh_samples):
    out, _ = jvm_run
    parsed = _json(out, "parsed.json")
    m = json.loads((default_bundle / "manifest.json").read_text())
    assert parsed["labels"] == m["labels"] and parsed["channels"] == m["input"]["channels"]
    assert parsed["input_shape"] == m["input"]["shape"] and parsed["feature_shape"] == m["feature"]["shape"]
    assert parsed["units"] == ["g"] * 3 + ["rad/s"] * 3
    assert parsed["android_sensors"] == m["input"]["android_sensors"]
    assert parsed["input_scale"] == float(np.float32(m["input"]["quantization"]["scale"]))
    assert parsed["feature_zero_point"] == m["feature"]["zero_point"]
    assert parsed["mean"] == [float(np.float32(v)) for v in m["input"]["normalisation"]["mean"]]
    assert parsed["model_sha256"] == m["files"]["device.tflite"]["sha256"]
    assert parsed["sample_index"] == [s["index"] for s in fresh_samples["samples"]]
    assert parsed["sample_label_name"] == [s["label_name"] for s in fresh_samples["samples"]]
    assert parsed["sample_x0"] == [float(np.float32(v)) for v in fresh_samples["samples"][0]["x"]]
    assert parsed["live_unsupported"] is None


def test_phone_sensors_map_to_watch_channels(jvm_run):
    """Android: +9.81 m/s^2 on the axis pointing up at rest; Core Motion (the watch): -1 g there.
    So a phone lying face up must give the watch channels (0, 0, -1) g, and gyroscopes agree."""
    live = _json(jvm_run[0], "live.json")
    assert live["flat_face_up"] == pytest.approx([0, 0, -1, 0, 0, 0], abs=1e-6)
    assert live["upright_portrait"] == pytest.approx([0, -1, 0, 0, 0, 0], abs=1e-6)
    assert live["left_edge_down"] == pytest.approx([-1, 0, 0, 0, 0, 0], abs=1e-6)
    assert live["gyro_0.5_-1_2"] == pytest.approx([0, 0, 0, 0.5, -1, 2])
    units = _json(jvm_run[0], "units.json")
    assert units["+accelerometer.x g"] == pytest.approx(1 / G, rel=1e-6)
    assert units["+accelerometer.x m/s^2"] == 1 and units["+gyroscope.x rad/s"] == 1
    assert units["+gyroscope.x deg/s"] == pytest.approx(180 / np.pi, rel=1e-6)
    assert "is not [+-](accelerometer|gyroscope)" in units["error accelerometer.x g"]
    assert "'g' cannot be read from the gyroscope" in units["error +gyroscope.x g"]


def test_live_windows_fixed_rate_and_stride(jvm_run):
    live = _json(jvm_run[0], "live.json")
    steps, stride = 100, 25  # the watch model: 6 x 100 samples at 50 Hz, a window every 0.5 s
    assert live["stride"] == stride
    assert live["windows_at_ticks"] == [steps - 1, steps - 1 + stride, steps - 1 + 2 * stride]
    last_tick = steps - 1 + 2 * stride
    want = [t + c / 10 for c in range(6) for t in range(last_tick - steps + 1, last_tick + 1)]
    assert live["last_window"] == pytest.approx(want, rel=1e-6)
    # tick k at start + k * 20 ms, even 9,000,000 ticks (50 h) in: no accumulated rounding; 30 Hz rounds per tick
    assert live["due_ms"] == [1000, 1020, 1040, 1060, 1000 + 20_000_000, 1000 + 50 * 3600 * 1000]
    assert live["due_ms_30hz"] == [33, 67, 100, 1000, 100_000_000]


def test_interpreter_work_runs_on_one_thread_and_closes_last(jvm_run):
    """100 jobs offered from 4 threads at once: never two at a time, all on the one worker thread,
    and the resource (the Interpreter in the app) closed on that thread after every job."""
    w = _json(jvm_run[0], "serial_worker.json")
    assert w["jobs_done"] == 100 and w["max_concurrent"] == 1
    assert w["job_threads"] == ["interpreter"] and w["close_thread"] == "interpreter"
    assert w["closed_after_jobs"] == 100
    assert w["accepted_after_close"] is False and w["terminated"] is True


@pytest.mark.parametrize("edit,message", [
    (lambda d: d.update(schema_version=2), "schema_version 2; this app reads 1"),
    (lambda d: d["feature"].update(dtype="float32"), "feature dtype is float32"),
    (lambda d: d["input"].pop("shape"), "the bundle lacks 'input/shape'"),
    (lambda d: d["input"]["normalisation"]["mean"].pop(), "normalisation has 5 means for 6 channels"),
])
def test_kotlin_rejects_a_bad_manifest_with_one_line(android_build_dir, default_bundle, jvm_tools, tmp_path, edit, message):
    doc = json.loads((default_bundle / "manifest.json").read_text())
    edit(doc)
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(doc))
    build = compile_app(APP, android_build_dir)
    r = subprocess.run([jvm_tools["java"], "-cp", build.classpath, DRIVER, "manifest", str(path)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1


def _make_android_check(bundle: Path, app: Path, build: Path) -> subprocess.CompletedProcess:
    venv = Path(sys.prefix)
    return subprocess.run(["make", "-s", "android-check", f"VENV={venv}", "-o", str(venv / ".installed"),
                           f"BUNDLE={bundle}", f"ANDROID_APP={app}", f"ANDROID_BUILD={build}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)


def test_make_android_check_compiles_and_runs_the_jvm_checks(android_build_dir, default_bundle):
    r = _make_android_check(default_bundle, APP, android_build_dir)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "static check ok" in r.stdout
    assert "Kotlin compile ok; JVM check ok: 16 windows" in " ".join(r.stdout.split())


def test_make_android_check_fails_on_a_broken_kotlin_file(default_bundle, jvm_tools, tmp_path):
    """The KDoc bug this check was added for: `*/` inside a comment ends it early."""
    app = tmp_path / "android_demo"
    shutil.copytree(APP, app, ignore=shutil.ignore_patterns("assets", "gradle*", ".gradle", "build"))
    src = app / "app/src/main/java/dev/hybridsplit/demo/ImuWindow.kt"
    text = src.read_text()
    anchor = "        /** Why live mode cannot feed this model"
    assert anchor in text
    src.write_text(text.replace(anchor, "        /** Whether live mode can feed it (channels all a*/w* axes). */\n" + anchor))
    r = _make_android_check(default_bundle, app, tmp_path / "build")
    out = " ".join((r.stdout + r.stderr).split())  # the console may wrap long lines
    assert r.returncode != 0
    assert "kotlinc (the app's Kotlin) failed" in out
    assert "app/src/main/java/dev/hybridsplit/demo/ImuWindow.kt:" in out
    assert not (tmp_path / "build" / "inputs.sha256").exists()
