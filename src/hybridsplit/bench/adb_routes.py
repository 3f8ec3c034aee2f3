"""The three ways to run LiteRT's benchmark on an Android phone, chosen with `--adb-route`.

- `binary`: the `benchmark_model` C++ binary pushed to /data/local/tmp and run from `adb shell`.
- `app`: the Android benchmark app (`org.tensorflow.lite.benchmark`), started with `am start ...
  --es args '"..."'`; its result is read back from `adb logcat`. It runs as a foreground app, so
  the scheduler treats it as it treats a real app (the TF docs' reason for the app).
- `litert`: the new `benchmark_litert_model` (LiteRT's CompiledModel API), pushed and run like the binary.

Each route knows its flags: the delegate (`--delegate`, recorded in the result) and op profiling.
"""

from __future__ import annotations

import os
import shlex
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hybridsplit.bench.target_base import BENCHMARK_BINARY_ENV, DEVICE_DIR, BenchConfig, _first_line
from hybridsplit.errors import TargetError

if TYPE_CHECKING:
    from hybridsplit.bench.adb import AdbTarget

ROUTES = ("binary", "app", "litert")
DELEGATES = ("default", "cpu", "xnnpack", "gpu", "nnapi", "npu")
APP_PACKAGE = "org.tensorflow.lite.benchmark"
APP_ACTIVITY = f"{APP_PACKAGE}/.BenchmarkModelActivity"
APK_ENV = "HYBRIDSPLIT_BENCHMARK_APK"
LITERT_BINARY_ENV = "HYBRIDSPLIT_BENCHMARK_LITERT_MODEL"

# benchmark_model / the app (tflite/tools/delegates/*_provider.cc flags) and benchmark_litert_model
_TFLITE_FLAGS = {"default": [], "cpu": ["--use_xnnpack=false"], "xnnpack": ["--use_xnnpack=true"],
                 "gpu": ["--use_gpu=true"], "nnapi": ["--use_nnapi=true"]}
_LITERT_FLAGS = {"default": [], "cpu": ["--use_cpu=true"], "xnnpack": ["--use_cpu=true"],
                 "gpu": ["--use_gpu=true"], "npu": ["--use_npu=true"]}


def delegate_flags(route: str, delegate: str) -> list[str]:
    table = _LITERT_FLAGS if route == "litert" else _TFLITE_FLAGS
    if delegate not in table:
        ok = ", ".join(table)
        raise TargetError(f"delegate '{delegate}' is not available on the '{route}' route; use one of: {ok}")
    return list(table[delegate])


def _local_file(path: str | None, env: str, what: str, flag: str, hint: str = "") -> Path:
    path = path or os.environ.get(env)
    if not path:
        raise TargetError(f"no {what} given; pass {flag} PATH or set ${env}{hint}")
    if not Path(path).is_file():
        raise TargetError(f"{what} '{path}' not found; pass {flag} PATH or set ${env}")
    return Path(path)


@dataclass
class Route:
    """What differs between routes: the files to install, the command, and where the log comes from."""

    name: str
    delegate: str = "default"
    binary: str | None = None
    apk: str | None = None

    def __post_init__(self) -> None:
        if self.name not in ROUTES:
            raise TargetError(f"unknown adb route '{self.name}'; use one of: {', '.join(ROUTES)}")
        delegate_flags(self.name, self.delegate)  # fail before anything runs

    @property
    def tool(self) -> str:
        return {"binary": "benchmark_model", "app": "benchmark app (logcat)", "litert": "benchmark_litert_model"}[self.name]

    @property
    def remote_binary(self) -> str:
        return f"{DEVICE_DIR}/{'benchmark_litert_model' if self.name == 'litert' else 'benchmark_model'}"

    def local_binary(self) -> Path:
        if self.name == "litert":
            return _local_file(self.binary, LITERT_BINARY_ENV, "benchmark_litert_model binary", "--benchmark-binary")
        return _local_file(self.binary, BENCHMARK_BINARY_ENV, "benchmark_model binary", "--benchmark-binary",
                           " (an Android build of LiteRT's tflite/tools/benchmark:benchmark_model for the phone's ABI)")

    def check(self) -> None:
        if self.name == "app":
            if self.apk:
                _local_file(self.apk, APK_ENV, "benchmark app APK", "--benchmark-apk")
        else:
            self.local_binary()

    def args(self, model_remote: str, cfg: BenchConfig, runs: int | None = None, profile: bool = True) -> list[str]:
        prof = ("--use_profiler=" if self.name == "litert" else "--enable_op_profiling=") + ("true" if profile else "false")
        return [f"--graph={model_remote}", f"--num_threads={cfg.threads}", f"--num_runs={runs or cfg.runs}",
                f"--warmup_runs={cfg.warmup}", prof, *delegate_flags(self.name, self.delegate)]

    def command(self, model_remote: str, cfg: BenchConfig, log_remote: str) -> str:
        """The `adb shell` line of the binary routes: pinned with taskset, output to a log, exit code echoed."""
        pin = f"taskset {cfg.cpu_mask.removeprefix('0x')} " if cfg.cpu_mask else ""
        return f"{pin}{shlex.join([self.remote_binary, *self.args(model_remote, cfg)])} > {log_remote} 2>&1; echo rc=$?"

    # -- install
    def prepare(self, t: AdbTarget, cfg: BenchConfig) -> None:
        t.shell(f"mkdir -p {DEVICE_DIR}", cfg, "shell mkdir")
        if self.name == "app":
            self._prepare_app(t, cfg)
            return
        t.adb(["push", str(self.local_binary()), self.remote_binary], cfg.timeout_s, f"push {self.tool}")
        t.shell(f"chmod 755 {self.remote_binary}", cfg, "shell chmod")

    def _prepare_app(self, t: AdbTarget, cfg: BenchConfig) -> None:
        apk = self.apk or os.environ.get(APK_ENV)
        if apk:
            t.adb(["install", "-r", "-d", "-g", str(_local_file(apk, APK_ENV, "benchmark app APK", "--benchmark-apk"))],
                  cfg.timeout_s, "install the benchmark app")
        listed = t.shell(f"pm list packages {APP_PACKAGE}", cfg, "shell pm list packages").stdout.decode(errors="replace")
        if f"package:{APP_PACKAGE}" not in listed.split():
            raise TargetError(f"the benchmark app ({APP_PACKAGE}) is not installed on {t.spec}; pass --benchmark-apk "
                              "android_aarch64_benchmark_model.apk (LiteRT's nightly build) or run `adb install -r -d -g` it")

    # -- one model
    def run_one(self, t: AdbTarget, model_remote: str, cfg: BenchConfig, log_remote: str, label: str) -> str:
        """Benchmark one pushed model; returns the raw log text (stdout of the tool, or the logcat dump)."""
        if self.name == "app":
            return self._run_app(t, model_remote, cfg)
        proc = t.shell(self.command(model_remote, cfg, log_remote), cfg, f"shell {self.tool}")
        text = t.pull_text(log_remote, cfg)
        rc = proc.stdout.decode(errors="replace").rsplit("rc=", 1)[-1].strip()
        if rc not in ("", "0"):
            raise TargetError(f"{self.tool} exited {rc} on {t.spec} for {label}: {_first_line(text)}")
        return text

    def _run_app(self, t: AdbTarget, model_remote: str, cfg: BenchConfig) -> str:
        t.adb(["logcat", "-c"], cfg.timeout_s, "logcat -c")
        args = " ".join(self.args(model_remote, cfg))
        t.shell(f"am start -S -n {APP_ACTIVITY} --es args '\"{args}\"'", cfg, "shell am start (benchmark app)")
        return wait_for_logcat(t, cfg)


_DONE = ("Inference timings in us", "Average inference timings", "Benchmarking failed")


def wait_for_logcat(t: AdbTarget, cfg: BenchConfig, poll_s: float = 1.0) -> str:
    """Poll `adb logcat -d` until the app's result is in and the log stops growing, within cfg.timeout_s."""
    deadline, last = time.monotonic() + cfg.timeout_s, None
    while time.monotonic() < deadline:
        text = t.adb(["logcat", "-d", "-v", "threadtime", "-s", "tflite", "tflite_BenchmarkModelActivity"],
                     min(cfg.timeout_s, 60), "logcat -d").stdout.decode(errors="replace")
        if any(d in text for d in _DONE) and text == last:
            return text
        last = text
        time.sleep(poll_s)
    raise TargetError(f"the benchmark app printed no result in {cfg.timeout_s:g} s on {t.spec} (see `adb logcat -s tflite`); "
                      "raise --timeout for slow models")
