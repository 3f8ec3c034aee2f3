"""The three adb routes and the delegates, against the stand-in adb and stand-in phone (no phone here)."""

from __future__ import annotations

import json

import pytest

from hybridsplit.bench.adb_routes import Route, delegate_flags
from hybridsplit.bench.targets import BenchConfig, make_target
from hybridsplit.errors import TargetError

from . import standin


def _calls(s) -> list[str]:
    return [" ".join(json.loads(line)) for line in s["log"].read_text().splitlines()]


def _model(tmp_path):
    m = tmp_path / "device.tflite"
    m.write_bytes(bytes(range(256)))
    return m


def test_app_route_starts_the_benchmark_app_and_reads_logcat(tmp_path, monkeypatch):
    s = standin.install(tmp_path, monkeypatch, "R58M\tdevice")
    target = make_target("adb", adb_route="app", delegate="gpu")
    with pytest.raises(TargetError, match="benchmark app .* is not installed on adb:R58M; pass --benchmark-apk"):
        target.run([_model(tmp_path)], BenchConfig(runs=20, warmup=2, threads=2, timeout_s=30))
    apk = tmp_path / "android_aarch64_benchmark_model.apk"
    apk.write_bytes(b"PK")
    target = make_target("adb", adb_route="app", delegate="gpu", benchmark_apk=str(apk))
    result = target.run([_model(tmp_path)], BenchConfig(runs=20, warmup=2, threads=2, timeout_s=30))
    calls = _calls(s)
    assert any(c.startswith("-s R58M install -r -d -g") and c.endswith(str(apk)) for c in calls)
    assert any(c == "-s R58M logcat -c" for c in calls)
    start = [c for c in calls if "am start -S -n org.tensorflow.lite.benchmark/.BenchmarkModelActivity --es args" in c]
    assert len(start) == 1 and "--use_gpu=true" in start[0] and "--num_threads=2" in start[0]
    assert "--enable_op_profiling=true" in start[0] and "--graph=/data/local/tmp/hybridsplit/m0.tflite" in start[0]
    assert not any("push" in c and "benchmark_model" in c for c in calls)  # the app route pushes no binary
    m = result["models"][0]
    assert result["runner"] == "benchmark app (logcat)" and result["config"]["adb_route"] == "app"
    assert m["latency_us"]["mean"] == pytest.approx(76.8) and len(m["ops"]) == 7  # read back through logcat
    assert m["delegate"]["requested"] == "gpu" and result["config"]["delegate"] == "gpu"


def test_litert_route_runs_benchmark_litert_model(tmp_path, monkeypatch):
    s = standin.install(tmp_path, monkeypatch, "R58M\tdevice")
    target = make_target("adb:R58M", adb_route="litert", delegate="npu", benchmark_binary=str(s["benchmark_litert_model"]))
    result = target.run([_model(tmp_path)], BenchConfig(runs=30, warmup=3, timeout_s=30))
    calls = _calls(s)
    assert any(c.endswith("/data/local/tmp/hybridsplit/benchmark_litert_model") and " push " in f" {c} " for c in calls)
    run = [c for c in calls if "--graph=" in c]
    assert len(run) == 1 and "--use_npu=true" in run[0] and "--use_profiler=true" in run[0]
    m = result["models"][0]
    assert result["runner"] == "benchmark_litert_model" and m["benchmark_model_format"] == "litert"
    assert m["latency_us"]["mean"] == pytest.approx(464.545) and m["latency_us"]["median"] == 462
    assert [o["node_type"] for o in m["ops"]][2] == "Fully Connected (NC, PF32) GEMM"


def test_delegates_are_checked_per_route_before_anything_runs():
    assert delegate_flags("binary", "nnapi") == ["--use_nnapi=true"]
    assert delegate_flags("app", "xnnpack") == ["--use_xnnpack=true"]
    assert delegate_flags("litert", "gpu") == ["--use_gpu=true"] and delegate_flags("binary", "default") == []
    with pytest.raises(TargetError, match="delegate 'npu' is not available on the 'binary' route; use one of: default"):
        Route("binary", delegate="npu")
    with pytest.raises(TargetError, match="delegate 'nnapi' is not available on the 'litert' route"):
        make_target("adb", adb_route="litert", delegate="nnapi")
    with pytest.raises(TargetError, match="unknown adb route 'apk'; use one of: binary, app, litert"):
        make_target("adb", adb_route="apk")


def test_wireless_serial_and_timeouts(tmp_path, monkeypatch):
    s = standin.install(tmp_path, monkeypatch, "192.168.1.20:5555\tdevice")
    target = make_target("adb:192.168.1.20:5555", benchmark_binary=str(s["benchmark_model"]))
    assert target.serial == "192.168.1.20:5555" and target.transport() == "wifi"
    assert target.device_info(30)["transport"] == "wifi"
    # every external call is bounded: a benchmark that hangs past the limit is one line
    s["benchmark_model"].write_text("#!/bin/sh\nsleep 30\n")
    with pytest.raises(TargetError, match=r"adb shell benchmark_model timed out after 2 s"):
        target.run([_model(tmp_path)], BenchConfig(runs=5, timeout_s=2))


def test_a_delegate_hiding_per_op_times_is_said_in_the_row_and_the_table(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from hybridsplit.cli import app

    # Composed from two pieces of the same published page (yolov5s_android, Mi11, NNAPI qti-gpu fp16):
    # its timing lines, then its op-profile tables, in the order benchmark_model prints them.
    real = standin.LITERT_LOG.parent
    timings = ("count=50 first=96719 curr=90158 min=89745 max=96719 avg=92571.2 std=1638\n"
               "Inference timings in us: Init: 365972, First inference: 120877, Warmup (avg): 108605, Inference (avg): 92571.2\n"
               "INFO: Created TensorFlow Lite delegate for NNAPI.\n")
    log = tmp_path / "nnapi.log"
    log.write_text(timings + (real / "yolov5s_mi11_nnapi_profile_only.log").read_text())
    s = standin.install(tmp_path, monkeypatch, "R58M\tdevice")
    s["benchmark_model"].write_text(f"#!/bin/sh\ncat {log}\n")
    result = make_target("adb", delegate="nnapi", benchmark_binary=str(s["benchmark_model"])).run(
        [_model(tmp_path)], BenchConfig(runs=50, timeout_s=30))
    row = result["models"][0]
    assert row["latency_us"]["mean"] == pytest.approx(92571.2) and len(row["ops"]) == 11
    assert row["ops_note"] == "per-op times hidden: TfLiteNnapiDelegate runs the delegated ops as one kernel"
    assert row["delegate"] == {"requested": "nnapi", "seen_in_log": ["nnapi"]}
    out = CliRunner().invoke(app, ["bench", "parse-log", str(log)], terminal_width=200).output
    assert "per-op times hidden: TfLiteNnapiDelegate" in out and "TfLiteNnapiDelegate" in out.split("per-op times, regular")[1]
