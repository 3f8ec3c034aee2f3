"""Benchmark targets behind one interface: `local`, `adb[:SERIAL]`, `ssh://user@host[:port]`.

Every target takes a list of .tflite files and returns the runner JSON described in
`bench/runner.py` ({"host", "config", "models": [{"model", "latency_us", "memory", ...}]}).
`local` and `ssh://` run that very runner (here in a child process, there over ssh);
`adb` pushes the user's `benchmark_model` binary and the models to the phone, runs it with
op profiling, pulls its log and parses it (`bench/parse.py`) into the same shape.

Every external call has a timeout; every failure the user can fix is one `TargetError` line.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from hybridsplit.bench import parse as bm_parse
from hybridsplit.bench import runner as runner_module
from hybridsplit.errors import TargetError

RUNNER = Path(runner_module.__file__)
BENCHMARK_BINARY_ENV = "HYBRIDSPLIT_BENCHMARK_MODEL"
SSH_KEY_ENV = "HYBRIDSPLIT_SSH_KEY"
SSH_PYTHON_ENV = "HYBRIDSPLIT_SSH_PYTHON"
DEVICE_DIR = "/data/local/tmp/hybridsplit"


@dataclass(frozen=True)
class BenchConfig:
    runs: int = 1000
    warmup: int = 50
    threads: int = 1
    cpu_mask: str | None = None
    """Hex CPU mask (taskset syntax, e.g. f0 = CPUs 4-7, the big cores of many phones)."""
    timeout_s: float = 300.0
    """Limit for each external call (one adb/ssh command, one runner process)."""

    def __post_init__(self) -> None:
        if self.runs < 1 or self.warmup < 0 or self.threads < 1:
            raise TargetError(f"runs ({self.runs}) and threads ({self.threads}) must be >= 1, warmup >= 0")
        if self.cpu_mask is not None and not re.fullmatch(r"(0x)?[0-9a-fA-F]+", self.cpu_mask):
            raise TargetError(f"CPU mask '{self.cpu_mask}' is not hex (taskset syntax, e.g. f0)")


def _call(cmd: list[str], timeout: float, what: str, stdin: bytes | None = None,
          env: dict | None = None) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(cmd, input=stdin, capture_output=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        raise TargetError(f"{what} timed out after {timeout:g} s (raise --timeout, or check the target)") from None
    except FileNotFoundError:
        raise TargetError(f"{what}: '{cmd[0]}' not found on PATH") from None


def _first_line(data: bytes | str) -> str:
    text = data.decode(errors="replace") if isinstance(data, bytes) else data
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    errs = [ln for ln in lines if ln.startswith("ERROR:") or "error" in ln.lower()]
    return (errs or lines or ["(no output)"])[-1][:300]


class Target(ABC):
    kind: str
    spec: str

    def check(self, cfg: BenchConfig) -> None:  # noqa: B027 - optional hook, local needs none
        """Fail fast (one TargetError line) before any expensive export when the target is unusable."""

    @abstractmethod
    def run(self, models: list[Path], cfg: BenchConfig) -> dict:
        """Benchmark each model; the runner JSON with one `models` row per input, same order."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.spec!r})"


# ---------------------------------------------------------------------------------- local


class LocalTarget(Target):
    """This host: the runner in a child process (its own RSS), the venv's ai-edge-litert."""

    kind = "local"

    def __init__(self, python: str | None = None):
        self.spec = "local"
        self.python = python or sys.executable

    def run(self, models: list[Path], cfg: BenchConfig) -> dict:
        cmd = [self.python, str(RUNNER), *map(str, models), "--runs", str(cfg.runs),
               "--warmup", str(cfg.warmup), "--threads", str(cfg.threads)]
        if cfg.cpu_mask:
            cmd += ["--cpu-mask", cfg.cpu_mask]
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
        proc = _call(cmd, cfg.timeout_s, "local benchmark runner", env=env)
        if proc.returncode != 0:
            raise TargetError(f"local benchmark failed: {_first_line(proc.stderr)}")
        return json.loads(proc.stdout)


# ------------------------------------------------------------------------------------ ssh


@dataclass
class SshTarget(Target):
    """A board reached by `ssh` (OpenSSH client, key auth, BatchMode: never prompts).

    The runner and the models are copied to a fresh `mktemp -d` directory, the runner is run
    with the board's Python (`python3`, or --remote-python / $HYBRIDSPLIT_SSH_PYTHON), its JSON
    read back, and the directory removed.
    """

    user: str | None
    host: str
    port: int = 22
    key: str | None = None
    known_hosts: str | None = None
    python: str = "python3"
    connect_timeout: int = 10
    kind: str = field(default="ssh", init=False)

    @property
    def spec(self) -> str:  # type: ignore[override]
        who = f"{self.user}@{self.host}" if self.user else self.host
        return f"ssh://{who}:{self.port}"

    def _opts(self) -> list[str]:
        opts = ["-o", "BatchMode=yes", "-o", f"ConnectTimeout={self.connect_timeout}",
                "-o", "StrictHostKeyChecking=accept-new", "-o", "LogLevel=ERROR"]
        if self.known_hosts:
            opts += ["-o", f"UserKnownHostsFile={self.known_hosts}"]
        if self.key:
            opts += ["-i", self.key, "-o", "IdentitiesOnly=yes"]
        return opts

    def _dest(self) -> str:
        return f"{self.user}@{self.host}" if self.user else self.host

    def _check(self, proc: subprocess.CompletedProcess, what: str) -> None:
        if proc.returncode == 0:
            return
        err = proc.stderr.decode(errors="replace")
        if proc.returncode == 255 or "Permission denied" in err:
            if "Permission denied" in err or "Too many authentication failures" in err:
                raise TargetError(
                    f"ssh authentication to {self.spec} failed ({_first_line(err)}); add your public key to the "
                    f"board's ~/.ssh/authorized_keys or pass --ssh-key (or ${SSH_KEY_ENV})")
            if "Host key verification failed" in err or "REMOTE HOST IDENTIFICATION HAS CHANGED" in err:
                raise TargetError(f"ssh host key of {self.spec} does not match known_hosts; check the board, "
                                  "then remove the stale line with `ssh-keygen -R <host>`")
            raise TargetError(f"cannot reach {self.spec} over ssh ({_first_line(err)})")
        raise TargetError(f"{what} on {self.spec} failed: {_first_line(err)}")

    def ssh(self, command: str, timeout: float, what: str) -> subprocess.CompletedProcess:
        proc = _call(["ssh", *self._opts(), "-p", str(self.port), self._dest(), command], timeout, f"ssh {what}")
        self._check(proc, what)
        return proc

    def check(self, cfg: BenchConfig) -> None:
        if not shutil.which("ssh") or not shutil.which("scp"):
            raise TargetError("the OpenSSH client (ssh, scp) is not installed; apt-get install openssh-client")
        probe = f"{shlex.quote(self.python)} -c 'import ai_edge_litert, numpy' 2>&1 || echo NO_LITERT"
        out = self.ssh(probe, cfg.timeout_s, "probe").stdout.decode(errors="replace")
        if "NO_LITERT" in out:
            raise TargetError(f"'{self.python}' on {self.spec} cannot import ai_edge_litert and numpy "
                              f"({_first_line(out.replace('NO_LITERT', ''))}); pip install ai-edge-litert numpy there, "
                              "or pass --remote-python")

    def run(self, models: list[Path], cfg: BenchConfig) -> dict:
        self.check(cfg)
        remote_dir = self.ssh("mktemp -d /tmp/hybridsplit-bench.XXXXXX", cfg.timeout_s, "mktemp").stdout.decode().strip()
        if not remote_dir.startswith("/tmp/hybridsplit-bench."):
            raise TargetError(f"unexpected reply from mktemp on {self.spec}: {remote_dir[:80]!r}")
        try:
            # one scp per file keeps remote names unique even when local basenames collide
            uploads = [(RUNNER, "runner.py")] + [(Path(m), f"m{i}_{Path(m).name}") for i, m in enumerate(models)]
            for local, name in uploads:
                proc = _call(["scp", "-q", *self._opts(), "-P", str(self.port), str(local),
                              f"{self._dest()}:{remote_dir}/{name}"], cfg.timeout_s, f"scp {local.name}")
                self._check(proc, f"copying {local.name}")
            args = [self.python, f"{remote_dir}/runner.py", *[f"{remote_dir}/{n}" for _, n in uploads[1:]],
                    "--runs", str(cfg.runs), "--warmup", str(cfg.warmup), "--threads", str(cfg.threads)]
            if cfg.cpu_mask:
                args += ["--cpu-mask", cfg.cpu_mask]
            proc = self.ssh("TF_CPP_MIN_LOG_LEVEL=3 " + shlex.join(args), cfg.timeout_s, "the benchmark runner")
        finally:
            try:
                _call(["ssh", *self._opts(), "-p", str(self.port), self._dest(), f"rm -rf {shlex.quote(remote_dir)}"],
                      min(cfg.timeout_s, 30), "ssh cleanup")
            except TargetError:
                pass
        try:
            result = json.loads(proc.stdout)
        except json.JSONDecodeError:
            raise TargetError(f"the runner on {self.spec} printed no JSON: {_first_line(proc.stdout + proc.stderr)}") from None
        for row, model in zip(result["models"], models, strict=True):  # report local names, not the remote temp paths
            row["model"], row["path"] = Path(model).name, str(model)
        return result


def parse_ssh_spec(spec: str, **kw) -> SshTarget:
    u = urlparse(spec)
    if u.scheme != "ssh" or not u.hostname:
        raise TargetError(f"'{spec}' is not an ssh target; use ssh://user@host[:port]")
    try:
        port = u.port or 22
    except ValueError:
        raise TargetError(f"'{spec}' has a bad port; use ssh://user@host[:port]") from None
    return SshTarget(user=u.username, host=u.hostname, port=port, **kw)


# ------------------------------------------------------------------------------------ adb


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


# --------------------------------------------------------------------------------- factory


def make_target(spec: str, *, benchmark_binary: str | None = None, ssh_key: str | None = None,
                known_hosts: str | None = None, remote_python: str | None = None) -> Target:
    """`local`, `adb`, `adb:SERIAL` or `ssh://user@host[:port]` -> a Target."""
    if spec == "local":
        return LocalTarget()
    if spec == "adb" or spec.startswith("adb:"):
        serial = spec.split(":", 1)[1] if ":" in spec else None
        return AdbTarget(serial=serial or None, binary=benchmark_binary)
    if spec.startswith("ssh://"):
        return parse_ssh_spec(spec, key=ssh_key or os.environ.get(SSH_KEY_ENV), known_hosts=known_hosts,
                              python=remote_python or os.environ.get(SSH_PYTHON_ENV) or "python3")
    raise TargetError(f"Unknown target '{spec}'; use local, adb, adb:SERIAL or ssh://user@host[:port]")


TARGET_KINDS = ("local", "adb[:SERIAL]", "ssh://user@host[:port]")
