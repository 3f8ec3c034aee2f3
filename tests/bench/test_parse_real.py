"""The parser on logs people published from real phones, boards and PCs (tests/bench/fixtures/real/).

Each fixture's first line names where it was published. The expected numbers below were read
off each log by hand; `missing` lists what that log does not print. Failed, cut-off and
tables-only logs must be refused with one line, never half-parsed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hybridsplit.bench.parse import FIELDS, BenchmarkLogError, parse_benchmark_output
from hybridsplit.bench.parse_tables import op_rows, parse_section

REAL = Path(__file__).parent / "fixtures" / "real"

# fixture: (expected values, expected `missing`)
PARSED = {
    "arm_litert_kleidiai_sme2.log": (
        {"tool": "benchmark_litert_model", "format": "litert", "inference_avg_us": 464.545, "init_ms": 4.48,
         "first_inference_us": 1030.0, "warmup_avg_us": 470.0, "model_size_mb": 3.27774,
         "memory_mb": {"init_footprint": 8.94, "overall_footprint": 11.51}, "n_ops": 4, "delegates": ["xnnpack"]},
        ["num_threads"]),
    "arm_litert_xnnpack_no_kleidiai.log": (
        {"format": "litert", "inference_avg_us": 1379.64, "init_ms": 4.49, "first_inference_us": 1930.0,
         "memory_mb": {"init_footprint": 9.07, "overall_footprint": 11.25}, "n_ops": 4}, ["num_threads"]),
    "ti_am62x_cpu.log": (
        {"format": "current", "inference_avg_us": 1.24027e6, "init_ms": 5.579, "warmup_avg_us": 1.3576e6,
         "model_size_mb": 67.3128, "memory_mb": {"init_delta": 6.36328, "overall_delta": 109.832}, "n_ops": 0},
        ["num_threads", "ops", "delegates"]),
    "ti_am62x_xnnpack.log": (
        {"inference_avg_us": 899641.0, "init_ms": 614.333, "memory_mb": {"init_delta": 146.363, "overall_delta": 150.141},
         "delegates": ["xnnpack"]}, ["num_threads", "ops"]),
    "yolov5s_mi11_cpu_peak_memory.log": (  # the older line: same growth as the later delta line
        {"inference_avg_us": 249684.0, "init_ms": 16.242, "memory_mb": {"init_delta": 4.92969, "overall_delta": 138.809}},
        ["model_size_mb", "num_threads", "warmup_us", "ops", "delegates"]),
    "yolov5s_mi11_cpu_memory_delta.log": (
        {"inference_avg_us": 220000.0, "init_ms": 1.43, "memory_mb": {"init_delta": 5.66016, "overall_delta": 140.508}},
        ["model_size_mb", "num_threads", "warmup_us", "ops", "delegates"]),
    "tf_readme_mobilenet_ops_older.log": (
        {"format": "older", "inference_avg_us": 79760.9, "warmup_avg_us": 83235.0, "init_ms": 38.467, "n_ops": 31},
        ["model_size_mb", "num_threads", "first_inference_us", "warmup_us", "inference_us", "memory_mb", "delegates"]),
    "tf_android_readme_logcat_older.log": (
        {"format": "older", "source": "logcat", "inference_avg_us": 80660.1, "warmup_avg_us": 91471.0, "init_ms": 4.108},
        ["model_size_mb", "num_threads", "first_inference_us", "warmup_us", "inference_us", "memory_mb", "ops", "delegates"]),
    "tf_android_readme_logcat_current.log": (
        {"source": "logcat", "inference_avg_us": 1687.92, "first_inference_us": 4098.0, "init_ms": 1007.529},
        ["model_size_mb", "num_threads", "warmup_us", "inference_us", "memory_mb", "ops", "delegates"]),
    "gh_tf56301_logcat_nnapi.log": (
        {"source": "logcat", "inference_avg_us": 12167.6, "init_ms": 126.059, "model_size_mb": 0.113392,
         "delegates": ["nnapi"]}, ["num_threads", "memory_mb", "ops"]),
    "gh_tf73862_x86_info.log": (
        {"inference_avg_us": 13520.2, "init_ms": 12.75, "model_size_mb": 16.9008, "delegates": ["xnnpack"]},
        ["num_threads", "memory_mb", "ops"]),
    "gh_tf43541_gpu.log": (
        {"inference_avg_us": 119375.0, "init_ms": 870.557, "num_threads": 4, "delegates": ["gpu"]}, ["memory_mb", "ops"]),
    "gh_google_research_802_plain.log": (
        {"inference_avg_us": 1039.66, "init_ms": 17.851, "num_threads": 1, "model_size_mb": 1.41812},
        ["memory_mb", "ops", "delegates"]),
}
REFUSED = {
    "yolov5s_mi11_nnapi_failed.log": "run failed .*ANEURALNETWORKS_OP_FAILED",
    "yolov5s_mi11_nnapi_profile_only.log": "op-profiling tables but no timing lines",
    "gh_tf42507_espcn_cut_in_table.log": "ends inside an op-profiling table",
    "gh_xnnpack999_rpi_cut_in_profile.log": "ends inside an op-profiling table",
    "gh_tf66025_ios_cut_after_warmup.log": r"truncated after the warmup stats line \(count=3\)",
    "gh_tf58379_windows_gpu_cut_after_warmup.log": r"truncated after the warmup stats line \(count=20\)",
}


def test_every_fixture_is_covered_and_cites_its_source():
    files = {p.name for p in REAL.glob("*.log")}
    assert files == set(PARSED) | set(REFUSED) and len(files) >= 15
    for name in files:
        first = (REAL / name).read_text().splitlines()[0]
        assert first.startswith("# source: https://"), name


@pytest.mark.parametrize("name", sorted(PARSED))
def test_fields_present_are_parsed_and_the_rest_listed_missing(name):
    want, missing = PARSED[name]
    p = parse_benchmark_output((REAL / name).read_text())
    for key, value in want.items():
        if key == "n_ops":
            assert len(p["ops"]) == value
        elif isinstance(value, dict):
            assert p[key] == pytest.approx(value)
        elif isinstance(value, float):
            assert p[key] == pytest.approx(value, rel=1e-9)
        else:
            assert p[key] == value, key
    assert p["missing"] == missing
    assert all((p.get(f) not in (None, [], {})) == (f not in missing) for f in FIELDS)


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_failed_and_truncated_logs_are_refused_with_one_line(name):
    with pytest.raises(BenchmarkLogError, match=REFUSED[name]) as err:
        parse_benchmark_output((REAL / name).read_text())
    assert "\n" not in str(err.value)


def test_stats_lines_go_to_their_phase():
    p = parse_benchmark_output((REAL / "ti_am62x_cpu.log").read_text())
    assert p["warmup_us"] == {"count": 1, "curr": 1357602, "p5": 1357602, "median": 1357602, "p95": 1357602}
    assert p["inference_us"]["median"] == 1239807 and p["inference_us"]["count"] == 50
    # a lone stats line is the timed runs' when its average is the summary's inference average
    p = parse_benchmark_output((REAL / "yolov5s_mi11_cpu_peak_memory.log").read_text())
    assert p["inference_us"]["avg"] == 249684 and "warmup_us" not in p


def test_headerless_and_litert_tables():
    p = parse_benchmark_output((REAL / "tf_readme_mobilenet_ops_older.log").read_text())
    assert p["ops"][0] == {"node_type": "CONV_2D", "name": "[MobilenetV1/MobilenetV1/Conv2d_0/Relu6]", "avg_ms": 4.269,
                           "first_ms": 4.269, "pct": 0.107, "times_called": 0}
    assert p["ops"][-1]["node_type"] == "SOFTMAX" and p["profile_columns"] == "with_start"
    p = parse_benchmark_output((REAL / "arm_litert_kleidiai_sme2.log").read_text())
    # AllocateTensors (an init event the LiteRT tool lists among the run rows) is not an op
    assert [o["node_type"] for o in p["ops"]] == ["LiteRT::Run[buffer registration]", "Static Reshape (NC)",
                                                  "Fully Connected (NC, PF32) GEMM", "LiteRT::Run[Buffer sync]"]
    assert p["ops"][2]["avg_ms"] == 0.382 and p["ops"][2]["pct"] == 92.948


def test_a_delegate_hiding_the_per_op_breakdown_is_named():
    lines = [ln.strip() for ln in (REAL / "yolov5s_mi11_nnapi_profile_only.log").read_text().splitlines()]
    start = next(i for i, ln in enumerate(lines) if ln.startswith("Operator-wise"))
    section, _, complete = parse_section(lines, start + 1)
    ops, hidden = op_rows(section["run_order"])
    assert complete and len(ops) == 11 and hidden == "TfLiteNnapiDelegate"
    assert sum(o["avg_ms"] for o in ops if o["node_type"] == "TfLiteNnapiDelegate") == pytest.approx(149.486)


def test_crlf_and_several_runs_in_one_log():
    text = (REAL / "gh_tf43541_gpu.log").read_text()
    assert parse_benchmark_output(text.replace("\n", "\r\n")) == parse_benchmark_output(text)
    first, second = (REAL / "gh_google_research_802_plain.log").read_text(), (REAL / "ti_am62x_cpu.log").read_text()
    both = parse_benchmark_output(first + second)
    assert both["runs_in_log"] == 2 and both["inference_avg_us"] == pytest.approx(1.24027e6)
    assert both["memory_mb"] == parse_benchmark_output(second)["memory_mb"]
