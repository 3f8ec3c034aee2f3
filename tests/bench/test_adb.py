"""adb target: the real adb binary without a device, and the push/run/pull flow against a stand-in adb."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from hybridsplit.bench.adb_routes import Route
from hybridsplit.bench.targets import AdbTarget, BenchConfig, make_target
from hybridsplit.errors import TargetError

from . import standin
from needs import need_adb


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_real_adb_binary_with_no_device_gives_one_clear_line(monkeypatch, tmp_path):
    need_adb()
    # a private adb server port, so this test neither sees nor disturbs another adb server
    port = str(_free_port())
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", port)
    monkeypatch.setenv("HOME", str(tmp_path))  # adb writes ~/.android keys
    bm = tmp_path / "benchmark_model"
    bm.write_text("not used")
    try:
        with pytest.raises(TargetError) as err:
            AdbTarget(route=Route("binary", binary=str(bm))).check(BenchConfig(timeout_s=60))
        msg = str(err.value)
        assert "no Android device found" in msg and "\n" not in msg
        # the same through the CLI: exit 2, one line, before any model export starts
        env = {**os.environ, "ANDROID_ADB_SERVER_PORT": port, "HOME": str(tmp_path)}
        proc = subprocess.run([sys.executable, "-m", "hybridsplit.cli", "bench", "--target", "adb",
                               "--benchmark-binary", str(bm), "--bundle", str(tmp_path), "--timeout", "60"],
                              capture_output=True, text=True, env=env, timeout=120)
        assert proc.returncode == 2
        lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
        assert len(lines) == 1 and "no Android device found" in lines[0], proc.stdout + proc.stderr
    finally:
        subprocess.run(["adb", "-P", port, "kill-server"], capture_output=True, timeout=30)


def test_adb_missing_binary_and_tool_errors(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no adb anywhere
    monkeypatch.delenv("HYBRIDSPLIT_BENCHMARK_MODEL", raising=False)
    with pytest.raises(TargetError, match="adb is not installed"):
        AdbTarget().devices()
    with pytest.raises(TargetError, match="no benchmark_model binary given; pass --benchmark-binary"):
        AdbTarget().check(BenchConfig())
    with pytest.raises(TargetError, match="benchmark_model binary '/nope' not found"):
        AdbTarget(route=Route("binary", binary="/nope")).check(BenchConfig())


@pytest.mark.parametrize(("devices", "spec", "message"), [
    ("", "adb", "no Android device found"),
    ("emu-5554\tdevice\nR58M\tdevice", "adb", "several Android devices are connected (R58M, emu-5554); pick one with --target adb:SERIAL"),
    ("R58M\tunauthorized", "adb:R58M", "is unauthorized; unlock it and accept"),
    ("R58M\toffline", "adb", "is offline; reconnect"),
    ("R58M\tdevice", "adb:XYZ", "Android device 'XYZ' is not connected"),
])
def test_device_states_with_standin_adb(tmp_path, monkeypatch, devices, spec, message):
    s = standin.install(tmp_path, monkeypatch, devices)
    target = make_target(spec, benchmark_binary=str(s["benchmark_model"]))
    with pytest.raises(TargetError) as err:
        target.check(BenchConfig(timeout_s=30))
    assert message in str(err.value) and "\n" not in str(err.value)


def test_push_run_pull_flow_against_standin_adb_script(tmp_path, monkeypatch):
    s = standin.install(tmp_path, monkeypatch, "emu-5554\tdevice")
    target = make_target("adb", benchmark_binary=str(s["benchmark_model"]))
    models = [tmp_path / "device.tflite", tmp_path / "device_fp32.tflite"]  # the stand-in only needs the files
    for i, m in enumerate(models):
        m.write_bytes(bytes(range(256)) * (i + 1))
    result = target.run(models, BenchConfig(runs=100, warmup=5, threads=4, cpu_mask="f0", timeout_s=60))

    calls = [json.loads(line) for line in s["log"].read_text().splitlines()]
    flat = [" ".join(c) for c in calls]
    assert calls[0] == ["devices"]
    assert any(c[:3] == ["-s", "emu-5554", "push"] and c[3] == str(s["benchmark_model"])
               and c[4].endswith("/benchmark_model") for c in calls)
    assert any("chmod 755 /data/local/tmp/hybridsplit/benchmark_model" in f for f in flat)
    runs = [f for f in flat if "--graph=" in f]
    assert len(runs) == 2
    for r in runs:
        assert "taskset f0 " in r and "--num_threads=4" in r and "--enable_op_profiling=true" in r
        assert "--num_runs=100" in r and "--warmup_runs=5" in r
    pulls = [c for c in calls if "pull" in c]
    assert len(pulls) == 2 and all(c[-2].endswith(".log") for c in pulls)
    assert not (s["root"] / "data/local/tmp/hybridsplit/m0.tflite").exists()  # models removed after the run
    assert result["runner"] == "benchmark_model" and result["host"]["model"] == "Standin Phone"
    assert [m["model"] for m in result["models"]] == ["device.tflite", "device_fp32.tflite"]
    m = result["models"][0]
    assert m["latency_us"]["median"] == 72 and m["latency_us"]["mean"] == pytest.approx(76.8)
    assert m["memory"]["peak_rss_mb"] == pytest.approx(7.98047)
    assert len(m["ops"]) == 7 and m["ops"][1]["node_type"] == "Convolution (NHWC, QC8) IGEMM"
    assert m["file_bytes"] == models[0].stat().st_size
    assert result["config"]["adb_route"] == "binary" and m["delegate"] == {"requested": "default", "seen_in_log": ["xnnpack"]}


def test_benchmark_model_failure_on_device_is_one_line(tmp_path, monkeypatch):
    s = standin.install(tmp_path, monkeypatch, "emu-5554\tdevice")
    broken = tmp_path / "broken.tflite"
    broken.write_bytes(b"")
    s["benchmark_model"].write_text("#!/bin/sh\necho 'ERROR: Failed to allocate tensors!'\nexit 1\n")
    target = make_target("adb:emu-5554", benchmark_binary=str(s["benchmark_model"]))
    with pytest.raises(TargetError, match=r"benchmark_model exited 1 on adb:emu-5554 for broken.tflite: ERROR: Failed to allocate"):
        target.run([broken], BenchConfig(runs=10, timeout_s=30))


def test_real_adb_binary_drives_a_standin_device_over_tcp(tmp_path, monkeypatch):
    """The real adb client and server, `adb connect` to a stand-in device speaking the adb protocol
    (tests/bench/standin_adbd.py): devices, push, shell, pull of the binary route, end to end."""
    need_adb()
    from .standin_adbd import StandinAdbd

    port = str(_free_port())
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", port)
    monkeypatch.setenv("HOME", str(tmp_path))
    device = StandinAdbd(tmp_path / "device-root")
    serial = f"127.0.0.1:{device.port}"
    bm = tmp_path / "benchmark_model"
    standin._write(bm, standin.BENCHMARK_MODEL)
    model = tmp_path / "device.tflite"
    model.write_bytes(bytes(range(256)) * 3)
    try:
        connect = subprocess.run(["adb", "connect", serial], capture_output=True, text=True, timeout=60)
        assert f"connected to {serial}" in connect.stdout, connect.stdout + connect.stderr
        target = make_target(f"adb:{serial}", benchmark_binary=str(bm), delegate="xnnpack")
        result = target.run([model], BenchConfig(runs=40, warmup=4, threads=2, cpu_mask="f0", timeout_s=60))
        m = result["models"][0]
        assert result["host"]["model"] == "Standin_Phone" and result["host"]["transport"] == "wifi"
        assert m["latency_us"]["mean"] == pytest.approx(76.8) and len(m["ops"]) == 7
        assert m["delegate"]["requested"] == "xnnpack"
        services = device.commands
        assert services.count("sync:") == 3  # push binary, push model, pull log
        run = [c for c in services if "--graph=" in c]
        assert len(run) == 1 and run[0].startswith("shell:taskset f0 /data/local/tmp/hybridsplit/benchmark_model")
        assert "--use_xnnpack=true" in run[0] and "--num_threads=2" in run[0]
        assert not (tmp_path / "device-root/data/local/tmp/hybridsplit/m0.tflite").exists()
    finally:
        subprocess.run(["adb", "-P", port, "kill-server"], capture_output=True, timeout=30)
        device.close()
