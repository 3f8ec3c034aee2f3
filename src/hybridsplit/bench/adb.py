"""The `adb[:SERIAL]` target: an Android phone through the real `adb` binary and the user's
`benchmark_model` build; its log is parsed by bench/parse.py into the runner's JSON shape."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from hybridsplit.bench import parse as bm_parse
from hybridsplit.bench import runner as runner_module
from hybridsplit.bench.target_base import (
    BENCHMARK_BINARY_ENV,
    DEVICE_DIR,
    BenchConfig,
    Target,
    _call,
    _first_line,
)
from hybridsplit.errors import TargetError


@dataclass
class AdbTarget(Target):
    """An Android phone or emulator through the real `adb` binary and a user-supplied benchmark_model.

    Flow: `adb devices` (pick/validate the serial) -> push benchmark_model + chmod -> push each
    model -> `adb shell "[taskset MASK] benchmark_model --graph=... --num_threads=N
    --enable_op_profiling=true ... > log 2>&1"` -> `adb pull` the log -> parse it.
    """

    serial: str | None = None
    binary: str | None = None
    adb: str = "adb"
    extra_args: tuple[str, ...] = ()
    kind: str = field(default="adb", init=False)

    @property
    def spec(self) -> str:  # type: ignore[override]
        return f"adb:{self.serial}" if self.serial else "adb"

    # -- plumbing
    def _adb(self, args: list[str], timeout: float, what: str, serial: bool = True) -> subprocess.CompletedProcess:
        cmd = [self.adb, *(["-s", self.serial] if serial and self.serial else []), *args]
        proc = _call(cmd, timeout, f"adb {what}")
        if proc.returncode != 0:
            raise TargetError(f"adb {what} failed on {self.spec}: {_first_line(proc.stderr + proc.stdout)}")
        return proc

    def devices(self, timeout: float = 30) -> dict[str, str]:
        """{serial: state} from `adb devices` (state: device, offline, unauthorized, ...)."""
        if shutil.which(self.adb) is None:
            raise TargetError("adb is not installed; install Android platform-tools (Debian/Ubuntu: apt-get install adb) "
                              "and put adb on PATH")
        proc = self._adb(["devices"], timeout, "devices", serial=False)
        found = {}
        for line in proc.stdout.decode(errors="replace").splitlines():
            if "\t" in line and not line.startswith(("*", "List of devices")):
                s, state = line.split("\t", 1)
                found[s.strip()] = state.strip()
        return found

    def resolve(self, timeout: float = 30) -> str:
        found = self.devices(timeout)
        if not found:
            raise TargetError("no Android device found (`adb devices` lists none); connect a phone with USB debugging "
                              "on, or start an emulator")
        if self.serial is None:
            if len(found) > 1:
                raise TargetError(f"several Android devices are connected ({', '.join(sorted(found))}); pick one with "
                                  f"--target adb:SERIAL")
            self.serial = next(iter(found))
        if self.serial not in found:
            raise TargetError(f"Android device '{self.serial}' is not connected (`adb devices` lists "
                              f"{', '.join(sorted(found))})")
        state = found[self.serial]
        if state == "unauthorized":
            raise TargetError(f"Android device '{self.serial}' is unauthorized; unlock it and accept the "
                              "'Allow USB debugging' prompt, then retry")
        if state == "offline":
            raise TargetError(f"Android device '{self.serial}' is offline; reconnect the cable or run "
                              "`adb reconnect`, then retry")
        if state != "device":
            raise TargetError(f"Android device '{self.serial}' is in state '{state}', not ready; wait for it to boot")
        return self.serial

    def _binary(self) -> Path:
        path = self.binary or os.environ.get(BENCHMARK_BINARY_ENV)
        if not path:
            raise TargetError(f"no benchmark_model binary given; pass --benchmark-binary PATH or set "
                              f"${BENCHMARK_BINARY_ENV} (an Android build of LiteRT's "
                              "tflite/tools/benchmark:benchmark_model for the phone's ABI)")
        if not Path(path).is_file():
            raise TargetError(f"benchmark_model binary '{path}' not found; pass --benchmark-binary PATH or set "
                              f"${BENCHMARK_BINARY_ENV}")
        return Path(path)

    def device_info(self, timeout: float) -> dict:
        props = {}
        for key in ("ro.product.model", "ro.product.manufacturer", "ro.board.platform", "ro.product.cpu.abi",
                    "ro.build.version.release"):
            proc = self._adb(["shell", "getprop", key], timeout, f"getprop {key}")
            props[key] = proc.stdout.decode(errors="replace").strip()
        return {"hostname": self.serial, "model": props["ro.product.model"],
                "manufacturer": props["ro.product.manufacturer"], "cpu": props["ro.board.platform"],
                "machine": props["ro.product.cpu.abi"], "system": "Android",
                "release": props["ro.build.version.release"]}

    def _command(self, model_remote: str, cfg: BenchConfig, log: str, runs: int | None = None) -> str:
        args = [f"{DEVICE_DIR}/benchmark_model", f"--graph={model_remote}", f"--num_threads={cfg.threads}",
                "--enable_op_profiling=true", f"--num_runs={runs or cfg.runs}", f"--warmup_runs={cfg.warmup}",
                *self.extra_args]
        pin = f"taskset {cfg.cpu_mask.removeprefix('0x')} " if cfg.cpu_mask else ""
        return f"{pin}{shlex.join(args)} > {log} 2>&1; echo rc=$?"

    def check(self, cfg: BenchConfig) -> None:
        self._binary()
        self.resolve(cfg.timeout_s)

    def prepare(self, cfg: BenchConfig) -> Path:
        """Resolve the device and push benchmark_model; returns the local binary path."""
        binary = self._binary()
        self.resolve(cfg.timeout_s)
        self._adb(["shell", f"mkdir -p {DEVICE_DIR}"], cfg.timeout_s, "shell mkdir")
        self._adb(["push", str(binary), f"{DEVICE_DIR}/benchmark_model"], cfg.timeout_s, "push benchmark_model")
        self._adb(["shell", f"chmod 755 {DEVICE_DIR}/benchmark_model"], cfg.timeout_s, "shell chmod")
        return binary

    def run(self, models: list[Path], cfg: BenchConfig) -> dict:
        self.prepare(cfg)
        host = self.device_info(cfg.timeout_s)
        rows = []
        with tempfile.TemporaryDirectory(prefix="hybridsplit-adb-") as tmp:
            for i, model in enumerate(models):
                remote, log = f"{DEVICE_DIR}/m{i}.tflite", f"{DEVICE_DIR}/m{i}.log"
                self._adb(["push", str(model), remote], cfg.timeout_s, f"push {Path(model).name}")
                proc = self._adb(["shell", self._command(remote, cfg, log)], cfg.timeout_s, "shell benchmark_model")
                local_log = Path(tmp) / f"m{i}.log"
                self._adb(["pull", log, str(local_log)], cfg.timeout_s, "pull log")
                text = local_log.read_text(errors="replace")
                rc = re.search(r"rc=(\d+)", proc.stdout.decode(errors="replace"))
                if rc and rc.group(1) != "0":
                    raise TargetError(f"benchmark_model exited {rc.group(1)} on {self.spec} for {Path(model).name}: "
                                      f"{_first_line(text)}")
                try:
                    parsed = bm_parse.parse_benchmark_output(text)
                except ValueError:
                    raise TargetError(f"benchmark_model printed no timings on {self.spec}: {_first_line(text)}") from None
                rows.append(_row_from_benchmark_model(Path(model), parsed, text))
            self._adb(["shell", f"rm -f {DEVICE_DIR}/m*.tflite {DEVICE_DIR}/m*.log"], cfg.timeout_s, "shell cleanup")
        return {"schema": runner_module.SCHEMA, "runner": "benchmark_model", "host": host,
                "config": {"runs": cfg.runs, "warmup": cfg.warmup, "threads": cfg.threads,
                           "cpu_mask": cfg.cpu_mask, "interleaved": False},
                "models": rows}

    # -- measured energy (battery current x voltage while a long loop runs)
    def measure_energy(self, model: Path, cfg: BenchConfig, seconds: float = 20.0, interval_s: float = 0.25) -> dict:
        """Battery power sampled during a long benchmark loop, minus an idle baseline of equal length.

        Caveats (also returned): on USB the phone is charging, so the battery current mixes the
        charger's current in (use wireless adb or a USB power-blocker, or read a power monitor);
        current_now is an instantaneous reading with vendor-specific sign and units (µA assumed)
        and update rate; screen, radios and other apps add to the baseline.
        """
        self.prepare(cfg)
        remote = f"{DEVICE_DIR}/energy.tflite"
        self._adb(["push", str(model), remote], cfg.timeout_s, f"push {model.name}")
        base = "/sys/class/power_supply/battery"
        read = f"cat {base}/current_now {base}/voltage_now 2>/dev/null; true"  # missing files -> empty, not a failure
        probe = self._adb(["shell", read], cfg.timeout_s, "read battery")
        if len(probe.stdout.split()) < 2:
            raise TargetError(f"{self.spec} exposes no {base}/current_now and voltage_now; use "
                              "`adb shell dumpsys batterystats` or an external power monitor")

        def sample(duration: float) -> list[float]:
            watts, end = [], time.monotonic() + duration
            while time.monotonic() < end:
                vals = self._adb(["shell", read], cfg.timeout_s, "read battery").stdout.split()
                try:
                    current_ua, voltage_uv = abs(float(vals[0])), abs(float(vals[1]))
                except (IndexError, ValueError):
                    continue
                watts.append(current_ua * 1e-6 * voltage_uv * 1e-6)
                time.sleep(interval_s)
            return watts

        idle = sample(seconds / 2)
        runs = 1_000_000  # benchmark_model stops at --max_secs; a huge count keeps it busy the whole window
        cmd = self._command(remote, cfg, f"{DEVICE_DIR}/energy.log", runs) .replace(
            "--enable_op_profiling=true", "--enable_op_profiling=false")
        cmd = cmd.replace(f"--num_runs={runs}", f"--num_runs={runs} --max_secs={seconds:g} --min_secs={seconds:g}")
        busy_proc = subprocess.Popen([self.adb, "-s", self.serial, "shell", cmd],  # type: ignore[list-item]
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            busy = sample(seconds)
            busy_proc.wait(timeout=cfg.timeout_s)
        finally:
            if busy_proc.poll() is None:
                busy_proc.kill()
        log = Path(tempfile.mkdtemp(prefix="hybridsplit-adb-")) / "energy.log"
        self._adb(["pull", f"{DEVICE_DIR}/energy.log", str(log)], cfg.timeout_s, "pull energy log")
        parsed = bm_parse.parse_benchmark_output(log.read_text(errors="replace"))
        shutil.rmtree(log.parent, ignore_errors=True)
        count = parsed.get("inference", {}).get("count")
        p_idle = sum(idle) / len(idle) if idle else float("nan")
        p_busy = sum(busy) / len(busy) if busy else float("nan")
        per_inf = (p_busy - p_idle) * seconds / count if count else None
        return {
            "method": f"adb battery sampling ({base}/current_now x voltage_now, every {interval_s:g} s)",
            "idle_w": p_idle, "busy_w": p_busy, "samples": [len(idle), len(busy)], "seconds": seconds,
            "inferences": count, "energy_per_inference_j": per_inf,
            "caveats": [
                "USB-connected phones charge: the battery current then includes the charger; disconnect "
                "(adb over Wi-Fi) or use an external power monitor for real numbers",
                "current_now sign, units (µA assumed) and update rate differ between vendors",
                "screen, radios and background apps are in both idle and busy readings; only the "
                "difference is attributed to inference",
            ],
        }


def _row_from_benchmark_model(model: Path, p: dict, text: str) -> dict:
    inf = p.get("inference", {})
    median = inf.get("median")
    mem = p.get("memory", {})
    return {
        "model": model.name, "path": str(model), "file_bytes": model.stat().st_size,
        "input": None, "output": None,
        "init_ms": p.get("init_ms"),
        "latency_us": {
            "count": int(inf.get("count", 0)), "mean": p.get("inference_avg_us"),
            "median": median if median is not None else p.get("inference_avg_us"),
            "median_is_mean": median is None,
            "p90": None, "p95": inf.get("p95"), "min": inf.get("min"), "max": inf.get("max"), "std": inf.get("std"),
        },
        "samples_us": [],
        "memory": {"init_delta_mb": mem.get("init_delta_mb"), "overall_delta_mb": mem.get("overall_delta_mb"),
                   "peak_rss_mb": mem.get("peak_mb"), "peak_rss_delta_mb": mem.get("overall_delta_mb")},
        "ops": bm_parse.op_times(p),
        "benchmark_model_format": p.get("format"),
    }
