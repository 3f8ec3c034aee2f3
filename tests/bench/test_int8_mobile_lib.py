"""benchmarks/int8_mobile_lib.py at small sizes: the ONNX Runtime int8 QDQ export, the MAC-rate /
peak-share arithmetic and the goal ratios (on made-up timings). The real-size timings are the
benchmark's (`make bench-int8-mobile`), never a test's."""

from __future__ import annotations

import benchmark_scripts
import numpy as np
import pytest
import torch
from torch import nn

from hybridsplit.exporters.config import TFLITE_TOLERANCE, TFLiteMode


@pytest.fixture(scope="module")
def lib():
    return benchmark_scripts.load("int8_mobile_lib")


def test_ort_qdq_export_runs_close_to_fp32(lib, tmp_path):
    import onnx

    from hybridsplit.bundle.runtime import OnnxRunner
    from hybridsplit.exporters.onnx import export_onnx

    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, stride=2, padding=1), nn.ReLU(),
                        nn.Conv2d(8, 4, 1)).eval()
    x = torch.rand(1, 3, 16, 16)
    fp32 = export_onnx(net, x, tmp_path / "fp32.onnx", "input", "features", dynamic_batch=False)
    calib = np.random.default_rng(0).random((32, 3, 16, 16), dtype=np.float32)
    qdq = lib.export_ort_qdq(fp32, calib, tmp_path / "int8_qdq.onnx")

    graph = onnx.load(str(qdq)).graph
    ops = {n.op_type for n in graph.node}
    assert {"QuantizeLinear", "DequantizeLinear", "Conv"} <= ops
    assert any(t.data_type == onnx.TensorProto.INT8 and len(t.dims) == 4 for t in graph.initializer)  # int8 conv weights
    scales = [t for t in graph.initializer if t.name.endswith("_scale") and len(t.dims) == 1]
    assert scales, "per-channel weights carry one scale per output channel"

    probe = np.random.default_rng(1).random((1, 3, 16, 16), dtype=np.float32)  # inside the calibrated range
    ref = OnnxRunner(fp32)(probe)
    got = OnnxRunner(qdq)(probe)  # float32 in, float32 out: the I/O quantisation is inside the graph
    assert got.dtype == np.float32 and got.shape == ref.shape
    rel = np.abs(got - ref).max() / np.abs(ref).max()
    mean_rel = np.abs(got - ref).mean() / np.abs(ref).mean()
    # the gate the project holds its own int8 .tflite to (same metric: max |int8 - fp32| / max |fp32|)
    assert 0 < rel < TFLITE_TOLERANCE[TFLiteMode.int8], rel
    # and on average far closer: 255 steps over each calibrated range, half a step (0.2 % of the range)
    # per quantised tensor on the path, a few of them through three convs -> a few per cent of the mean
    # output; measured 0.043 max and 0.016 mean here. A wrong scale or dropped channel is far off both.
    assert mean_rel < 0.03, mean_rel


def test_mac_rates_share_of_peak(lib):
    times = {"tflite_int8/invoke": {"median_us": 2000.0}, "torch_eager_fp32/e2e": {"median_us": 8000.0}}
    out = lib.mac_rates(times, macs=100_000_000, peak_mac_per_s=1e11)
    # 1e8 MACs in 2 ms = 5e10 MAC/s = half of 1e11; in 8 ms = 1.25e10 = an eighth
    assert out["tflite_int8/invoke"]["mac_per_s"] == pytest.approx(5e10)
    assert out["tflite_int8/invoke"]["share_of_fp32_peak"] == pytest.approx(0.5)
    assert out["torch_eager_fp32/e2e"]["mac_per_s"] == pytest.approx(1.25e10)
    assert out["torch_eager_fp32/e2e"]["share_of_fp32_peak"] == pytest.approx(0.125)


def _times(**invoke_us):
    out = {}
    for k, v in invoke_us.items():
        out[f"{k}/invoke"] = {"median_us": v}
        out[f"{k}/e2e"] = {"median_us": v * 10}  # e2e never decides the ratios
    return out


def test_goal_ratios_and_goals_met(lib):
    times = _times(tflite_fp32=1000.0, tflite_int8=500.0, tflite_int8_before=300.0, onnxruntime_fp32=400.0,
                   torch_eager_fp32=2000.0)
    per_op = {"tflite_fp32": {"check": {"ratio": 1.1}}, "tflite_int8": {"check": {"ratio": 0.9}}}
    r = lib.goal_ratios(times, per_op)
    assert r["int8_over_fp32"] == pytest.approx(0.5)
    assert r["fastest_invoke"] == "onnxruntime_fp32"  # the int8 model without the rewrites is no candidate
    assert r["int8_over_fastest_invoke"] == pytest.approx(1.25)
    assert r["int8_before_over_fp32"] == pytest.approx(0.3) and r["int8_after_over_before"] == pytest.approx(500 / 300)
    assert r["goals_met"] == {"int8_le_0.6x_fp32": True, "int8_le_1.2x_fastest": False, "per_op_within_15pct": True}

    per_op["tflite_int8"]["check"]["ratio"] = 0.8
    times = _times(tflite_fp32=1000.0, tflite_int8=700.0, onnxruntime_fp32=800.0)
    r = lib.goal_ratios(times, per_op)
    assert r["fastest_invoke"] == "tflite_int8" and r["int8_over_fastest_invoke"] == pytest.approx(1.0)
    assert r["goals_met"] == {"int8_le_0.6x_fp32": False, "int8_le_1.2x_fastest": True, "per_op_within_15pct": False}
    assert lib.goal_ratios(times)["goals_met"]["per_op_within_15pct"] is None


def test_cpu_peak_shape(lib):
    p = lib.cpu_peak(1, n=64, reps=1)
    assert p["gemm"]["macs"] == 64**3 and p["conv"]["macs"] == 56 * 56 * 256 * 256 * 9
    assert p["peak_mac_per_s"] == max(p["gemm"]["best_mac_per_s"], p["conv"]["best_mac_per_s"]) > 0


def test_bound_summary_picks_the_best_kernel_and_judges_the_goal(lib):
    ops = {"a": {"fp32_us": 100.0, "int8_us": 91.0, "int8_over_fp32": 0.91},
           "b": {"fp32_us": 50.0, "int8_us": 84.0, "int8_over_fp32": 1.68}}
    out = lib.bound_summary(1, ops)
    assert out["best_op"] == "a" and out["best_int8_over_fp32"] == 0.91 and out["goal_reachable_here"] is False
    ops["c"] = {"fp32_us": 100.0, "int8_us": 40.0, "int8_over_fp32": 0.4}  # a CPU with int8 dot products
    out = lib.bound_summary(1, ops)
    assert out["best_op"] == "c" and out["goal_reachable_here"] is True


def test_time_interleaved_sleeps_between_calls_outside_the_timed_span(lib):
    import time

    order = []
    calls = {"a": lambda: order.append("a"), "b": lambda: order.append("b")}
    t0 = time.perf_counter()
    out = lib.time_interleaved(calls, rounds=3, warmup=1, gap_s=0.01)
    wall = time.perf_counter() - t0
    assert order == ["a", "b", "a", "b", "a", "b", "a", "b"]  # warm-up, then round by round
    assert wall >= 6 * 0.01  # a gap before each of the 6 timed calls
    for stats in out.values():
        assert stats["count"] == 3 and stats["median_us"] < 5_000  # the 10 ms sleeps are not in the samples
