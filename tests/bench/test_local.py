"""Local target: the per-layer table of the default device half, its completeness and the 15% check."""

from __future__ import annotations

import math

import pytest

pytestmark = pytest.mark.slow

ROW_KEYS = ("name", "kind", "output_shape", "output_bytes_fp32", "output_bytes_int8", "macs", "params",
            "latency_us_median", "latency_us_p90", "cumulative_us_median", "energy_uj")


def test_layers_sum_to_whole_device_half_within_15_percent(local_bench):
    doc, _, _ = local_bench
    layers = doc["layers"]
    assert doc["run"] is None  # measured from the copied bundle alone
    # one row per op of device.tflite, in execution order; imu_cnn to block3 has three convolutions
    assert [r["name"] for r in layers] == [f"op{k:02d}" for k in range(len(layers))]
    assert [r["kind"] for r in layers].count("CONV_2D") == 3
    for r in layers:  # every row complete
        for k in ROW_KEYS:
            assert r[k] is not None and (not isinstance(r[k], float) or math.isfinite(r[k])), (r["name"], k)
    # the whole device half is the bundle's own device.tflite, timed in the same runner run
    whole = doc["device_half"]["latency_us"]["median"]
    total = sum(r["latency_us_median"] for r in layers)
    assert doc["check"]["whole_median_us"] == whole
    assert abs(total / whole - 1) <= 0.15, (total, whole)
    assert doc["check"]["within_15pct"] is True
    # cumulative = the prefix's own median, and the last prefix is the same graph as device.tflite
    assert layers[-1]["cumulative_us_median"] == pytest.approx(whole, rel=0.15)


def test_static_costs_match_the_model(local_bench):
    doc, _, _ = local_bench
    convs = [r for r in doc["layers"] if r["kind"] == "CONV_2D"]
    # Conv1d(6->32, k5) on 100 steps: 100*32*6*5 MACs; Conv1d(32->64, k5) on 50: 50*64*32*5; (64->64, k3) on 25
    assert [r["macs"] for r in convs] == [100 * 32 * 6 * 5, 50 * 64 * 32 * 5, 25 * 64 * 64 * 3]
    # weights + biases of each conv: 32*6*5+32, 64*32*5+64, 64*64*3+64
    assert [r["params"] for r in convs] == [992, 10304, 12352]
    assert sum(r["macs"] for r in doc["layers"]) == sum(r["macs"] for r in convs)  # pooling etc. count none
    last = doc["layers"][-1]
    assert last["output_shape"] == [64, 12] and last["output_bytes_int8"] == 768 == doc["feature"]["bytes"]
    assert last["output_bytes_fp32"] == 4 * 768
    assert doc["device_half"]["params"] == sum(r["params"] for r in doc["layers"]) == 992 + 10304 + 12352


def test_memory_energy_cloud_and_network_sections(local_bench):
    doc, _, output = local_bench
    dh = doc["device_half"]
    assert dh["file_bytes"] > 0 and dh["memory"]["peak_rss_mb"] > dh["memory"]["rss_before_load_mb"] > 0
    assert doc["energy"]["compute_uj"]["total_uj"] > 0 and "Horowitz" in doc["energy"]["compute_source"]
    assert doc["cloud"]["half"]["median_ms"] > 0 and doc["cloud"]["whole_model"]["median_ms"] > 0
    wifi, lte = doc["networks"]["wifi"], doc["networks"]["lte"]
    # fewer bytes go up in the split than cloud-only (768 int8 vs 2400 float32 bytes)
    assert wifi["split"]["bytes"] < wifi["cloud_only"]["bytes"]
    assert wifi["radio_energy"]["split"]["total_mj"] < wifi["radio_energy"]["cloud_only"]["total_mj"]
    assert lte["split"]["uplink_ms"] > wifi["split"]["uplink_ms"]
    assert doc["target"]["spec"] == "local" and doc["target"]["runner"] == "litert-python"
    assert "per-layer cost of the device half" in output and "sum of layers" in output
