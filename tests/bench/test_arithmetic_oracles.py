"""The bench arithmetic against answers worked out by hand: per-layer latency as the difference of
successive prefixes (energy per inference from varying readings: tests/bench/test_adb_energy.py).

The readings vary (no constant fake battery, no equal prefix times), so a formula that skips the
subtraction or inverts a term gives a different number. The phone is a stand-in (tests/bench/standin.py:
a real `adb` client cannot reach a device here); the arithmetic is the product's.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hybridsplit.bench.profile import PrefixModels, StageStats, layer_table, profile_on_target
from hybridsplit.bench.targets import BenchConfig, make_target

from . import standin

# Cumulative medians of prefixes 0..3 (µs) and the layer costs they imply, by hand.
CUMULATIVE = [10.0, 25.0, 27.0, 60.0]
LAYERS = [10.0, 15.0, 2.0, 33.0]


def _stages(n: int) -> list[StageStats]:
    return [StageStats(name=f"op{i}", kind="CONV_2D", output_shape=[4], output_bytes_fp32=16, output_bytes_int8=4,
                       macs=100 * (i + 1), params=10, weight_bytes_int8=10, weight_bytes_fp32=40) for i in range(n)]


def _prefixes(paths: list[Path]) -> PrefixModels:
    return PrefixModels(_stages(len(paths)), paths, "as the file", paths[0].parent, [1, 6, 100])


def _row(name: str, median: float, samples: list[float] | None = None) -> dict:
    return {"model": name, "file_bytes": 1, "latency_us": {"median": median, "p90": None}, "samples_us": samples or []}


def test_layer_latency_is_the_difference_of_successive_prefix_medians(tmp_path):
    paths = [tmp_path / f"p{i}.tflite" for i in range(4)]
    result = {"models": [_row(p.name, m) for p, m in zip(paths, CUMULATIVE, strict=True)]}
    table = layer_table(_prefixes(paths), result)
    assert [r["latency_us_median"] for r in table] == LAYERS
    assert [r["cumulative_us_median"] for r in table] == CUMULATIVE
    assert [r["latency_method"] for r in table] == ["prefix"] + ["difference of medians"] * 3


def test_paired_samples_give_the_median_of_per_round_differences(tmp_path):
    paths = [tmp_path / "p0.tflite", tmp_path / "p1.tflite"]
    # rounds: prefix 1 - prefix 0 = [5, 1, 9, 3, 7] -> median 5 (the difference of medians would be 12 - 6 = 6)
    rows = [_row("p0", 6.0, [4, 8, 2, 6, 9]), _row("p1", 12.0, [9, 9, 11, 9, 16])]
    table = layer_table(_prefixes(paths), {"models": rows})
    assert table[1]["latency_us_median"] == 5.0 and table[1]["latency_method"] == "paired difference"
    assert table[1]["latency_us_p90"] == pytest.approx(8.2)  # numpy's linear p90 of [1, 3, 5, 7, 9]


# A stand-in benchmark_model whose timings depend on the model file: each fake prefix file holds
# its own median in µs, so the adb flow's parsed medians are known and all different.
VARYING_BENCHMARK_MODEL = r'''#!__PY__
import sys
flags = dict(a[2:].split("=", 1) for a in sys.argv[1:] if a.startswith("--") and "=" in a)
m = float(open(flags["graph"]).read())
print(f"INFO: Initialized session in 1.0ms.")
print(f"INFO: count=50 first={m} curr={m} min={m} max={m} avg={m} std=0 p5={m} median={m} p95={m}")
print(f"INFO: Inference timings in us: Init: 1000, First inference: {m}, Warmup (avg): {m}, Inference (avg): {m}")
'''


def test_adb_per_layer_flow_subtracts_prefixes(tmp_path, monkeypatch):
    s = standin.install(tmp_path, monkeypatch, "emu-5554\tdevice")
    standin._write(s["benchmark_model"], VARYING_BENCHMARK_MODEL)
    paths = []
    for i, m in enumerate(CUMULATIVE):
        paths.append(tmp_path / f"prefix_{i}.tflite")
        paths[-1].write_text(str(m))
    whole = tmp_path / "device.tflite"
    whole.write_text("64")
    target = make_target("adb", benchmark_binary=str(s["benchmark_model"]))
    prof = profile_on_target(_prefixes(paths), whole, target, BenchConfig(runs=50, timeout_s=60))
    assert [r["latency_us_median"] for r in prof["layers"]] == LAYERS
    assert prof["check"]["sum_of_layer_medians_us"] == 60.0 and prof["check"]["whole_median_us"] == 64.0
    assert prof["check"]["ratio"] == pytest.approx(60 / 64) and prof["check"]["within_15pct"] is True
