"""The `adb[:SERIAL]` target: an Android phone through the real `adb` binary, by one of three routes
(bench/adb_routes.py: the benchmark_model binary, the benchmark app via logcat, benchmark_litert_model);
the log is parsed by bench/parse.py into the runner's JSON shape. Energy: bench/adb_energy.py."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from hybridsplit.bench import parse as bm_parse
from hybridsplit.bench import runner as runner_module
from hybridsplit.bench.adb_routes import Route
from hybridsplit.bench.target_base import DEVICE_DIR, BenchConfig, Target, _call, _first_line
from hybridsplit.errors import TargetError


@dataclass
class AdbTarget(Target):
    """An Android phone or emulator through the real `adb` binary and a user-supplied benchmark_model.

    Flow: `adb devices` (pick/validate the serial) -> install the route's tool -> push each model ->
    run it (shell or `am start`) -> read the log (`adb pull` or `adb logcat -d`) -> parse it.
    Every adb call has cfg.timeout_s as its limit.
    """

    serial: str | None = None
    route: Route = field(default_factory=lambda: Route("binary"))
    adb_path: str = "adb"
    kind: str = field(default="adb", init=False)

    @property
    def spec(self) -> str:  # type: ignore[override]
        return f"adb:{self.serial}" if self.serial else "adb"

    # -- plumbing
    def adb(self, args: list[str], timeout: float, what: str, serial: bool = True) -> subprocess.CompletedProcess:
        cmd = [self.adb_path, *(["-s", self.serial] if serial and self.serial else []), *args]
        proc = _call(cmd, timeout, f"adb {what}")
        if proc.returncode != 0:
            raise TargetError(f"adb {what} failed on {self.spec}: {_first_line(proc.stderr + proc.stdout)}")
        return proc

    def devices(self, timeout: float = 30) -> dict[str, str]:
        """{serial: state} from `adb devices` (state: device, offline, unauthorized, ...)."""
        if shutil.which(self.adb_path) is None:
            raise TargetError("adb is not installed; install Android platform-tools (Debian/Ubuntu: apt-get install adb) "
                              "and put adb on PATH")
        proc = self.adb(["devices"], timeout, "devices", serial=False)
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

    def shell(self, command: str, cfg: BenchConfig, what: str) -> subprocess.CompletedProcess:
        return self.adb(["shell", command], cfg.timeout_s, what)

    def pull_text(self, remote: str, cfg: BenchConfig) -> str:
        with tempfile.TemporaryDirectory(prefix="hybridsplit-adb-") as tmp:
            local = Path(tmp) / Path(remote).name
            self.adb(["pull", remote, str(local)], cfg.timeout_s, f"pull {Path(remote).name}")
            return local.read_text(errors="replace")

    def transport(self) -> str:
        """`wifi` for a serial of the form host:port (`adb connect`), else `usb` (or an emulator)."""
        s = self.serial or ""
        return "emulator" if s.startswith("emulator-") else "wifi" if re.fullmatch(r"[\w.\-]+:\d+", s) else "usb"

    def device_info(self, timeout: float) -> dict:
        props = {}
        for key in ("ro.product.model", "ro.product.manufacturer", "ro.board.platform", "ro.product.cpu.abi",
                    "ro.build.version.release"):
            proc = self.adb(["shell", "getprop", key], timeout, f"getprop {key}")
            props[key] = proc.stdout.decode(errors="replace").strip()
        return {"hostname": self.serial, "model": props["ro.product.model"],
                "manufacturer": props["ro.product.manufacturer"], "cpu": props["ro.board.platform"],
                "machine": props["ro.product.cpu.abi"], "system": "Android",
                "release": props["ro.build.version.release"], "transport": self.transport()}

    def check(self, cfg: BenchConfig) -> None:
        self.route.check()
        self.resolve(cfg.timeout_s)

    def prepare(self, cfg: BenchConfig) -> None:
        """Resolve the device and install the route's tool (binary or app)."""
        self.route.check()
        self.resolve(cfg.timeout_s)
        self.route.prepare(self, cfg)

    def run(self, models: list[Path], cfg: BenchConfig) -> dict:
        self.prepare(cfg)
        host = self.device_info(cfg.timeout_s)
        rows = []
        for i, model in enumerate(models):
            remote, log = f"{DEVICE_DIR}/m{i}.tflite", f"{DEVICE_DIR}/m{i}.log"
            self.adb(["push", str(model), remote], cfg.timeout_s, f"push {Path(model).name}")
            text = self.route.run_one(self, remote, cfg, log, Path(model).name)
            try:
                parsed = bm_parse.parse_benchmark_output(text)
            except bm_parse.BenchmarkLogError as exc:
                raise TargetError(f"{self.route.tool} on {self.spec} for {Path(model).name}: {exc}") from None
            rows.append(_row_from_benchmark_model(Path(model), parsed, self.route.delegate))
        self.shell(f"rm -f {DEVICE_DIR}/m*.tflite {DEVICE_DIR}/m*.log", cfg, "shell cleanup")
        return {"schema": runner_module.SCHEMA, "runner": self.route.tool, "host": host,
                "config": {"runs": cfg.runs, "warmup": cfg.warmup, "threads": cfg.threads, "cpu_mask": cfg.cpu_mask,
                           "interleaved": False, "adb_route": self.route.name, "delegate": self.route.delegate},
                "models": rows}

    def measure_energy(self, model: Path, cfg: BenchConfig, seconds: float = 20.0, interval_s: float = 0.25,
                       method: str = "auto") -> dict:
        """Energy per inference on the phone; see bench/adb_energy.py for the methods and caveats."""
        from hybridsplit.bench import adb_energy

        return adb_energy.measure(self, model, cfg, seconds=seconds, interval_s=interval_s, method=method)


def _row_from_benchmark_model(model: Path, p: dict, delegate: str) -> dict:
    inf = p.get("inference_us") or {}
    median = inf.get("median")
    mem = p.get("memory_mb") or {}
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
        "memory": {"init_delta_mb": mem.get("init_delta"), "overall_delta_mb": mem.get("overall_delta"),
                   "peak_rss_mb": mem.get("peak"), "peak_rss_delta_mb": mem.get("overall_delta")},
        "ops": bm_parse.op_times(p),
        "ops_note": f"per-op times hidden: {p['ops_hidden_by']} runs the delegated ops as one kernel"
        if p.get("ops_hidden_by") else None,
        "delegate": {"requested": delegate, "seen_in_log": p.get("delegates") or []},
        "benchmark_model_format": p.get("format"),
        "missing": p.get("missing", []),
    }
