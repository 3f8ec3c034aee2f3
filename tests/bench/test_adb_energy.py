"""Energy per inference on the stand-in phone, with readings that change between idle and busy.

The right answers follow from the fake readings alone: energy per inference = (busy W - idle W)
x the mean latency the stand-in benchmark prints (76.8 µs, tests/bench/data/benchmark_model_current.txt).
"""

from __future__ import annotations

import json

import pytest

from hybridsplit.bench.adb_energy import (
    choose,
    odpm_power_w,
    parse_batterystats_mah,
    parse_dumpsys_battery,
    parse_odpm,
    per_inference_j,
)
from hybridsplit.bench.targets import BenchConfig, make_target
from hybridsplit.errors import TargetError

from . import standin

LATENCY_US = 76.8
UNPLUGGED = "  AC powered: false\n  USB powered: false\n  Wireless powered: false\n  status: 3\n"


def _odpm(t_ms: int, tpu_uws: int, modem_uws: int) -> str:
    return f"t={t_ms}\nCH0(T={t_ms})[S10M_VDD_TPU], {tpu_uws}\nCH1(T={t_ms})[VSYS_PWR_MODEM], {modem_uws}\n"


def _setup(tmp_path, monkeypatch, serial="R58M"):
    s = standin.install(tmp_path, monkeypatch, f"{serial}\tdevice")
    model = tmp_path / "device.tflite"
    model.write_bytes(b"\0" * 64)
    return s, model, make_target(f"adb:{serial}", benchmark_binary=str(s["benchmark_model"]))


def _battery(root, idle_ua: int, busy_ua: int | None, uv: int = 4_000_000):
    b = root / "sys/class/power_supply/battery"
    b.mkdir(parents=True)
    (b / "current_now").write_text(f"{idle_ua}\n")
    (b / "voltage_now").write_text(f"{uv}\n")
    if busy_ua is not None:
        (b / "current_now.busy").write_text(f"{busy_ua}\n")


def test_arithmetic_from_varying_readings():
    # ODPM: 10 s idle at 0.5 W + 0.5 W, then 10 s busy at 2.5 W + 0.5 W (µW·s counters, ms stamps)
    r = [parse_odpm(_odpm(*x)) for x in ((1000, 0, 0), (11000, 5_000_000, 5_000_000),
                                          (12000, 6_000_000, 5_500_000), (22000, 31_000_000, 10_500_000))]
    idle, busy = odpm_power_w(r[0], r[1]), odpm_power_w(r[2], r[3])
    assert idle[0] == pytest.approx(1.0) and busy[0] == pytest.approx(3.0)
    assert busy[1] == pytest.approx({"S10M_VDD_TPU": 2.5, "VSYS_PWR_MODEM": 0.5})
    assert per_inference_j(idle[0], busy[0], 500.0) == pytest.approx(2.0 * 500e-6)
    assert parse_odpm("t=5\nCH0(T=5)[A], 7\n" * 1)["rails"] == {"A": 7.0}
    with pytest.raises(TargetError, match="did not advance"):
        odpm_power_w(r[1], r[1])
    assert parse_batterystats_mah("Estimated power use (mAh):\n    Uid 2000: 2.5 ( cpu=2.5 )\n    Uid 1000: 9") == 2.5
    assert parse_batterystats_mah("Uid 1000: 9") is None
    usb = parse_dumpsys_battery("  AC powered: false\n  USB powered: true\n  status: 2\n")
    assert usb["external"] and usb["usb"] and usb["charging"] and not parse_dumpsys_battery(UNPLUGGED)["external"]
    assert choose("auto", True, True, True) == "odpm"
    assert choose("auto", False, True, False) == "battery" and choose("auto", False, True, True) == "batterystats"
    with pytest.raises(TargetError, match="no ODPM rails"):
        choose("odpm", False, True, False)


def test_odpm_rails_busy_minus_idle(tmp_path, monkeypatch):
    s, model, target = _setup(tmp_path, monkeypatch)
    dev = s["root"] / "sys/bus/iio/devices/iio:device0"
    dev.mkdir(parents=True)
    (dev / "energy_value").write_text(_odpm(0, 0, 0))
    seq = [_odpm(1000, 0, 0), _odpm(11000, 5_000_000, 5_000_000),  # idle window: 1.0 W
           _odpm(12000, 6_000_000, 5_500_000), _odpm(22000, 31_000_000, 10_500_000)]  # busy: 3.0 W
    (dev / "energy_value.seq").write_text(json.dumps(seq))
    m = target.measure_energy(model, BenchConfig(timeout_s=30), seconds=0.3)
    assert m["method"] == "odpm" and not m["model_based"] and m["credible"]
    assert m["idle_w"] == pytest.approx(1.0) and m["busy_w"] == pytest.approx(3.0)
    assert m["energy_per_inference_j"] == pytest.approx(2.0 * LATENCY_US * 1e-6)
    assert m["rails_delta_w"] == pytest.approx({"S10M_VDD_TPU": 2.0, "VSYS_PWR_MODEM": 0.0})
    assert json.loads((dev / "energy_value.seq").read_text()) == []  # exactly four readings
    assert m["inferences"] == 6210 + 12873 and any("ODPM rails are unaffected" in w for w in m["warnings"])


def test_battery_gauge_unplugged_over_wireless_adb(tmp_path, monkeypatch):
    s, model, target = _setup(tmp_path, monkeypatch, serial="192.168.1.20:5555")
    (s["root"] / "dumpsys_battery.txt").write_text(UNPLUGGED)
    _battery(s["root"], idle_ua=-250_000, busy_ua=-750_000)  # discharging: 1.0 W idle, 3.0 W busy at 4 V
    m = target.measure_energy(model, BenchConfig(timeout_s=30), seconds=0.6, interval_s=0.05)
    assert m["method"] == "battery" and m["credible"] and m["transport"] == "wifi" and m["warnings"] == []
    assert m["idle_w"] == pytest.approx(1.0) and m["busy_w"] == pytest.approx(3.0)
    assert m["energy_per_inference_j"] == pytest.approx(2.0 * LATENCY_US * 1e-6)
    assert min(m["samples"]) >= 1
    loop = [c for c in map(json.loads, s["log"].read_text().splitlines()) if "--min_secs=0.6" in " ".join(c)]
    assert len(loop) == 1 and "--enable_op_profiling=false" in " ".join(loop[0]) and "--max_secs=1.6" in " ".join(loop[0])


def test_usb_power_is_detected_and_warned(tmp_path, monkeypatch):
    s, model, target = _setup(tmp_path, monkeypatch)
    _battery(s["root"], idle_ua=500_000, busy_ua=500_000)  # charging: the gauge sees the charger's current
    m = target.measure_energy(model, BenchConfig(timeout_s=30), seconds=0.3, interval_s=0.05, method="battery")
    assert m["method"] == "battery" and not m["credible"] and m["power_source"]["usb"]
    assert any("external power (USB, charging)" in w and "adb tcpip 5555" in w for w in m["warnings"])
    assert any("connected over USB" in w for w in m["warnings"])


def test_batterystats_fallback_is_marked_model_based(tmp_path, monkeypatch):
    s, model, target = _setup(tmp_path, monkeypatch)
    _battery(s["root"], idle_ua=500_000, busy_ua=None)
    (s["root"] / "batterystats.txt").write_text("Estimated power use (mAh):\n    Capacity: 4614, Computed drain: 10.5\n"
                                                "    Uid 2000: 2.5 ( cpu=2.5 )\n    Screen: 5.0\n")
    m = target.measure_energy(model, BenchConfig(timeout_s=30), seconds=0.3)  # auto: USB-powered, no ODPM
    assert m["method"] == "batterystats" and m["model_based"] and not m["credible"]
    assert m["estimated_mah"] == 2.5 and m["busy_w"] is None
    assert m["energy_per_inference_j"] == pytest.approx(2.5 * 3.6 * 4.0 / (6210 + 12873))
    dumpsys = (s["root"] / "dumpsys.log").read_text().splitlines()
    assert dumpsys.index("dumpsys batterystats --reset") < dumpsys.index("dumpsys battery unplug") \
        < dumpsys.index("dumpsys batterystats") < dumpsys.index("dumpsys battery reset")
    assert any("model-based" in c for c in m["caveats"]) and any("as if unplugged" in w for w in m["warnings"])
    (s["root"] / "batterystats.txt").write_text("Estimated power use (mAh):\n    Uid 1000: 3\n")
    with pytest.raises(TargetError, match="no estimate for uid 2000"):
        target.measure_energy(model, BenchConfig(timeout_s=30), seconds=0.2)


def test_energy_refuses_the_app_route(tmp_path, monkeypatch):
    _, model, _ = _setup(tmp_path, monkeypatch)
    with pytest.raises(TargetError, match="use --adb-route binary or litert"):
        make_target("adb", adb_route="app").measure_energy(model, BenchConfig(timeout_s=30), seconds=0.2)
