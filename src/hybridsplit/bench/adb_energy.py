"""Energy per inference measured on an Android phone, by the best method the phone offers.

Methods (the result names the one used):
- `odpm`: the On-Device Power Monitor rails of Pixel 6 and later,
  `/sys/bus/iio/devices/iio:device*/energy_value` (`t=<ms>` then `CHn(T=<ms>)[RAIL], <µW·s>`
  per rail, cumulative). Rails sit after the charger, so USB power does not distort them.
- `battery`: the fuel gauge, `current_now` x `voltage_now` sampled during the window. It measures
  the battery's current: with a charger attached that is charge going *in*, so it is only credible
  unplugged (wireless adb: `adb tcpip 5555`, `adb connect PHONE:5555`, unplug, `--target adb:PHONE:5555`).
- `batterystats`: `dumpsys batterystats`' estimated mAh for the shell uid (2000). Android computes
  it from time-in-state x the vendor's power_profile.xml, not from a meter: marked model-based.

Every measured method subtracts an idle baseline of the same length, taken just before the loop:
energy per inference = (P_busy - P_idle) x mean latency, the extra energy while one inference runs.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

from hybridsplit.bench import parse as bm_parse
from hybridsplit.bench.target_base import DEVICE_DIR, BenchConfig
from hybridsplit.errors import TargetError

if TYPE_CHECKING:
    from hybridsplit.bench.adb import AdbTarget

METHODS = ("auto", "odpm", "battery", "batterystats")
ODPM_GLOB = "/sys/bus/iio/devices/iio:device*/energy_value"
BATTERY = "/sys/class/power_supply/battery"
SHELL_UID = "2000"
NOMINAL_V = 3.85  # typical Li-ion nominal voltage, used only when voltage_now is unreadable


def per_inference_j(idle_w: float, busy_w: float, latency_us: float) -> float:
    """Extra energy of one inference: the power above idle times the time one inference takes."""
    return (busy_w - idle_w) * latency_us * 1e-6


def parse_dumpsys_battery(text: str) -> dict:
    """`dumpsys battery` -> {ac, usb, wireless, external, status, charging}."""
    def flag(name: str) -> bool:
        m = re.search(rf"{name} powered:\s*(true|false)", text)
        return bool(m and m.group(1) == "true")
    status = re.search(r"\bstatus:\s*(\d+)", text)
    out = {"ac": flag("AC"), "usb": flag("USB"), "wireless": flag("Wireless"),
           "status": int(status.group(1)) if status else None}
    out["external"] = out["ac"] or out["usb"] or out["wireless"]
    out["charging"] = out["status"] == 2  # BatteryManager.BATTERY_STATUS_CHARGING
    return out


def parse_odpm(text: str) -> dict:
    """Every rail of every iio device -> {"t_ms": latest stamp, "rails": {name: µW·s}}."""
    rails: dict[str, float] = {}
    t_ms = 0.0
    for m in re.finditer(r"CH\d+\(T=(\d+)\)\[([^\]]+)\],\s*(\d+)", text):
        t_ms = max(t_ms, float(m.group(1)))
        rails[m.group(2)] = rails.get(m.group(2), 0.0) + float(m.group(3))
    if not rails:
        raise TargetError("ODPM energy_value holds no `CHn(T=..)[RAIL], value` lines; use --energy-method battery")
    return {"t_ms": t_ms, "rails": rails}


def odpm_power_w(a: dict, b: dict) -> tuple[float, dict[str, float]]:
    """Mean power between two ODPM readings: total and per rail (µW·s over ms -> W)."""
    dt_s = (b["t_ms"] - a["t_ms"]) / 1e3
    if dt_s <= 0:
        raise TargetError("ODPM readings did not advance in time; the rails are not updating")
    per_rail = {k: (b["rails"][k] - a["rails"].get(k, 0.0)) * 1e-6 / dt_s for k in b["rails"]}
    return sum(per_rail.values()), per_rail


def parse_batterystats_mah(text: str, uid: str = SHELL_UID) -> float | None:
    """The estimated mAh of one uid in `dumpsys batterystats` ("Uid 2000: 1.23 ..."), or None."""
    m = re.search(rf"^\s*Uid {uid}:\s*([0-9.]+)", text, re.M)
    return float(m.group(1)) if m else None


def _read(t: AdbTarget, cmd: str, cfg: BenchConfig) -> str:
    return t.shell(f"{cmd} 2>/dev/null; true", cfg, "shell read").stdout.decode(errors="replace")


def _battery_w(t: AdbTarget, cfg: BenchConfig) -> float | None:
    vals = _read(t, f"cat {BATTERY}/current_now {BATTERY}/voltage_now", cfg).split()
    try:  # µA (sign differs between vendors) x µV
        return abs(float(vals[0])) * 1e-6 * abs(float(vals[1])) * 1e-6
    except (IndexError, ValueError):
        return None


def _sample(t: AdbTarget, cfg: BenchConfig, seconds: float, interval_s: float) -> list[float]:
    watts, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        if (w := _battery_w(t, cfg)) is not None:
            watts.append(w)
        time.sleep(interval_s)
    return watts


def choose(method: str, has_odpm: bool, has_battery: bool, external: bool) -> str:
    if method not in METHODS:
        raise TargetError(f"unknown energy method '{method}'; use one of: {', '.join(METHODS)}")
    if method == "odpm" and not has_odpm:
        raise TargetError(f"this phone has no ODPM rails ({ODPM_GLOB}, Pixel 6 and later); use --energy-method battery")
    if method == "battery" and not has_battery:
        raise TargetError(f"this phone exposes no {BATTERY}/current_now and voltage_now; use --energy-method batterystats")
    if method != "auto":
        return method
    return "odpm" if has_odpm else "battery" if has_battery and not external else "batterystats"


def _start_loop(t: AdbTarget, remote: str, cfg: BenchConfig, seconds: float) -> tuple[subprocess.Popen, str]:
    """The benchmark looping for `seconds` (+1 s margin) in the background; waits until it has started."""
    started, log = f"{DEVICE_DIR}/energy.started", f"{DEVICE_DIR}/energy.log"
    args = t.route.args(remote, cfg, runs=1_000_000, profile=False) + [f"--max_secs={seconds + 1:g}", f"--min_secs={seconds:g}"]
    cmd = f"touch {started}; {t.route.remote_binary} {' '.join(args)} > {log} 2>&1; rm -f {started}"
    proc = subprocess.Popen([t.adb_path, "-s", str(t.serial), "shell", cmd], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + cfg.timeout_s
    while "yes" not in _read(t, f"test -e {started} && echo yes", cfg):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise TargetError(f"the energy loop did not start on {t.spec} within {cfg.timeout_s:g} s")
        time.sleep(0.05)
    return proc, log


def measure(t: AdbTarget, model: Path, cfg: BenchConfig, *, seconds: float = 30.0, interval_s: float = 0.25,
            method: str = "auto") -> dict:
    """Idle window, then the same-length busy window with the model looping; energy per inference."""
    if t.route.name == "app":
        raise TargetError("--measure-energy runs the benchmark from `adb shell`; use --adb-route binary or litert")
    t.prepare(cfg)
    remote = f"{DEVICE_DIR}/energy.tflite"
    t.adb(["push", str(model), remote], cfg.timeout_s, f"push {model.name}")
    power = parse_dumpsys_battery(_read(t, "dumpsys battery", cfg))
    has_odpm = "energy_value" in _read(t, f"ls {ODPM_GLOB}", cfg)
    chosen = choose(method, has_odpm, _battery_w(t, cfg) is not None, power["external"])
    warnings = _warnings(power, t.transport(), chosen)
    if chosen == "batterystats":
        t.shell("dumpsys batterystats --reset" + ("; dumpsys battery unplug" if power["external"] else ""), cfg, "batterystats reset")
    idle = _window(t, cfg, chosen, seconds, interval_s)
    proc, log = _start_loop(t, remote, cfg, seconds)
    try:
        busy = _window(t, cfg, chosen, seconds, interval_s)
        proc.wait(timeout=seconds + cfg.timeout_s)
    finally:
        if proc.poll() is None:
            proc.kill()
    parsed = bm_parse.parse_benchmark_output(t.pull_text(log, cfg))
    out = _result(t, cfg, chosen, idle, busy, parsed, power)
    out.update(seconds=seconds, warnings=warnings, transport=t.transport(), power_source=power, caveats=CAVEATS[chosen])
    return out


def _window(t: AdbTarget, cfg: BenchConfig, method: str, seconds: float, interval_s: float):
    if method == "odpm":
        a = parse_odpm(_read(t, f"cat {ODPM_GLOB}", cfg))
        time.sleep(seconds)
        return odpm_power_w(a, parse_odpm(_read(t, f"cat {ODPM_GLOB}", cfg)))
    if method == "battery":
        return _sample(t, cfg, seconds, interval_s)
    time.sleep(seconds)
    return None


def _result(t: AdbTarget, cfg: BenchConfig, method: str, idle, busy, parsed: dict, power: dict) -> dict:
    latency = parsed["inference_avg_us"]
    runs = int((parsed.get("warmup_us") or {}).get("count", 0) + (parsed.get("inference_us") or {}).get("count", 0))
    base = {"method": method, "inference_avg_us": latency, "inferences": runs}
    if method == "odpm":
        (p_idle, rails_idle), (p_busy, rails_busy) = idle, busy
        return {**base, "model_based": False, "credible": True, "idle_w": p_idle, "busy_w": p_busy,
                "energy_per_inference_j": per_inference_j(p_idle, p_busy, latency),
                "rails_delta_w": {k: rails_busy[k] - rails_idle.get(k, 0.0) for k in rails_busy},
                "method_detail": f"ODPM rails ({ODPM_GLOB}), busy minus idle power x mean latency"}
    if method == "battery":
        p_idle, p_busy = sum(idle) / max(len(idle), 1), sum(busy) / max(len(busy), 1)
        return {**base, "model_based": False, "credible": not power["external"], "idle_w": p_idle, "busy_w": p_busy,
                "samples": [len(idle), len(busy)], "energy_per_inference_j": per_inference_j(p_idle, p_busy, latency),
                "method_detail": f"fuel gauge ({BATTERY}/current_now x voltage_now), busy minus idle power x mean latency"}
    text = _read(t, "dumpsys batterystats", cfg)
    if power["external"]:
        t.shell("dumpsys battery reset", cfg, "battery reset")
    mah = parse_batterystats_mah(text)
    if mah is None:
        raise TargetError(f"`dumpsys batterystats` on {t.spec} has no estimate for uid {SHELL_UID} (the shell); "
                          "the window may be too short, use a longer --energy-seconds")
    volts = _volts(t, cfg) or NOMINAL_V
    joules = mah * 3.6 * volts  # 1 mAh = 3.6 C; x volts = J
    return {**base, "model_based": True, "credible": False, "idle_w": None, "busy_w": None, "estimated_mah": mah,
            "energy_per_inference_j": joules / runs if runs else None,
            "method_detail": "dumpsys batterystats estimate for uid 2000 (power_profile.xml model, not a meter)"}


def _volts(t: AdbTarget, cfg: BenchConfig) -> float | None:
    try:
        return abs(float(_read(t, f"cat {BATTERY}/voltage_now", cfg).split()[0])) * 1e-6
    except (IndexError, ValueError):
        return None


def _warnings(power: dict, transport: str, method: str) -> list[str]:
    out = []
    if power["external"]:
        src = "USB" if power["usb"] else "AC" if power["ac"] else "wireless charger"
        out.append(f"the phone is on external power ({src}{', charging' if power['charging'] else ''}): "
                   + {"odpm": "ODPM rails are unaffected",
                      "battery": "battery readings mix in the charger; unplug and use wireless adb (adb tcpip 5555; "
                                 "adb connect PHONE:5555)",
                      "batterystats": "batterystats ran as if unplugged (dumpsys battery unplug); its estimate is a model"}[method])
    if transport == "usb" and method != "odpm":
        out.append("connected over USB: for a credible battery measurement run unplugged over wireless adb")
    return out


CAVEATS = {
    "odpm": ["ODPM covers the SoC/memory/radio rails it has; the display and battery losses are outside them",
             "rail names and update rates are device-specific; the idle window absorbs background load"],
    "battery": ["current_now is the fuel gauge's (often averaged) reading; sign and update rate differ by vendor",
                "screen, radios and other apps are in both windows; only the difference is attributed to inference"],
    "batterystats": ["model-based: Android's estimate from time-in-state x power_profile.xml, not a measurement",
                     "includes the loop's init and warmup; no idle baseline is subtracted (it is per-uid attribution)"],
}
