"""benchmark_model output parser: current and older layouts, header-driven tables."""

from __future__ import annotations

from pathlib import Path

import pytest

from hybridsplit.bench.parse import BenchmarkLogError, op_times, parse_benchmark_output, parse_stat_line

DATA = Path(__file__).parent / "data"


def test_current_format_timings_memory_and_ops():
    p = parse_benchmark_output((DATA / "benchmark_model_current.txt").read_text())
    assert p["format"] == "current"
    assert p["model_size_mb"] == pytest.approx(0.031248)
    assert p["init_ms"] == pytest.approx(3.112)
    assert p["inference_avg_us"] == pytest.approx(76.8)
    assert p["first_inference_us"] == 212 and p["warmup_avg_us"] == pytest.approx(79.4)
    assert p["inference_us"]["count"] == 12873 and p["inference_us"]["median"] == 72 and p["inference_us"]["p95"] == 96
    assert p["warmup_us"]["count"] == 6210
    assert p["memory_mb"] == {"init_delta": pytest.approx(2.41797), "overall_delta": pytest.approx(2.86328),
                              "peak": pytest.approx(7.98047)}
    assert p["missing"] == [] and p["delegates"] == ["xnnpack"]
    assert p["num_threads"] == 4
    ops = op_times(p)
    assert [o["node_type"] for o in ops][:2] == ["QUANTIZE", "Convolution (NHWC, QC8) IGEMM"]
    assert ops[1]["name"] == "Delegate/Convolution (NHWC, QC8) IGEMM:0"
    assert ops[3]["avg_ms"] == pytest.approx(0.026) and ops[3]["pct"] == pytest.approx(36.620)
    assert len(ops) == 7 and sum(o["pct"] for o in ops) == pytest.approx(100, abs=0.01)
    # the init section is a separate table, not mixed into the run's ops
    assert [r["node_type"] for r in p["profile"]["init"]["run_order"]] == ["ModifyGraphWithDelegate", "AllocateTensors"]
    assert {r["node_type"] for r in p["profile"]["run"]["by_node_type"]} == {
        "Convolution (NHWC, QC8) IGEMM", "Max Pooling (NHWC, S8)", "QUANTIZE"}


def test_older_format_with_start_column_and_tabs():
    p = parse_benchmark_output((DATA / "benchmark_model_older.txt").read_text())
    assert p["format"] == "older"
    assert p["inference_avg_us"] == pytest.approx(299.3) and p["warmup_avg_us"] == pytest.approx(302.1)
    assert p["init_us"] == 1482 and p["init_ms"] == pytest.approx(1.482)
    assert "median" not in p["inference_us"] and p["inference_us"]["std"] == 22
    assert p["profile_columns"] == "with_start"
    ops = op_times(p)
    assert [o["node_type"] for o in ops] == ["QUANTIZE", "CONV_2D", "MAX_POOL_2D", "CONV_2D", "MAX_POOL_2D",
                                             "CONV_2D", "MAX_POOL_2D"]
    # avg_ms is read from the [avg ms] column although [start] shifts every column by one
    assert [o["avg_ms"] for o in ops] == pytest.approx([0.009, 0.088, 0.011, 0.122, 0.008, 0.056, 0.006])
    assert ops[1]["first_ms"] == pytest.approx(0.101) and ops[-1]["name"] == "[features]"
    assert p["memory_mb"] == {} and "memory_mb" in p["missing"]


def test_tables_are_read_by_header_not_position():
    text = """INFO: Inference timings in us: Init: 10, First inference: 5, Warmup (avg): 4, Inference (avg): 3.5
INFO: Operator-wise Profiling Info for Regular Benchmark Runs:
============================== Run Order ==============================
\t[Name]\t[times called]\t[avg ms]\t[node type]
\t[conv a]\t1\t0.250\tCONV_2D
\t[pool b]\t2\t0.050\tMAX_POOL_2D

1 nodes observed
"""
    ops = op_times(parse_benchmark_output(text))
    assert ops == [
        {"node_type": "CONV_2D", "name": "[conv a]", "avg_ms": 0.25, "first_ms": None, "pct": None, "times_called": 1},
        {"node_type": "MAX_POOL_2D", "name": "[pool b]", "avg_ms": 0.05, "first_ms": None, "pct": None, "times_called": 2},
    ]


def test_stat_line_and_garbage():
    assert parse_stat_line("count=5 first=1 curr=2 min=1 max=3 avg=2 std=0.5 p5=1 median=2 p95=3")["median"] == 2
    assert parse_stat_line("no stats here") is None
    with pytest.raises(BenchmarkLogError, match=r"run failed .*first error: ERROR: Could not open 'x.tflite'"):
        parse_benchmark_output("ERROR: Could not open 'x.tflite'.\nERROR: Benchmarking failed.\n")
    with pytest.raises(BenchmarkLogError, match="no benchmark timings in the log"):
        parse_benchmark_output("hello\n")
