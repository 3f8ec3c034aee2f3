"""Benchmark targets behind one interface: `local`, `adb[:SERIAL]`, `ssh://user@host[:port]`.

Every target takes a list of .tflite files and returns the runner JSON described in
`bench/runner.py` ({"host", "config", "models": [{"model", "latency_us", "memory", ...}]}).
`local` and `ssh://` run that very runner (here in a child process, there over ssh);
`adb` runs LiteRT's own benchmark on the phone by one of three routes (`bench/adb_routes.py`:
benchmark_model binary, benchmark app via logcat, benchmark_litert_model), with op profiling,
and parses its log (`bench/parse.py`) into the same shape.

Every external call has a timeout; every failure the user can fix is one `TargetError` line.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from hybridsplit.bench.adb import AdbTarget
from hybridsplit.bench.adb_routes import Route
from hybridsplit.bench.target_base import (  # noqa: F401  (BenchConfig and Target: the package's public names)
    RUNNER,
    SSH_KEY_ENV,
    SSH_PYTHON_ENV,
    BenchConfig,
    Target,
    _call,
    _first_line,
)
from hybridsplit.errors import TargetError

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


# --------------------------------------------------------------------------------- factory


def make_target(spec: str, *, benchmark_binary: str | None = None, ssh_key: str | None = None,
                known_hosts: str | None = None, remote_python: str | None = None, adb_route: str = "binary",
                delegate: str = "default", benchmark_apk: str | None = None) -> Target:
    """`local`, `adb`, `adb:SERIAL` (SERIAL may be host:port, wireless adb) or `ssh://user@host[:port]` -> a Target."""
    if spec == "local":
        return LocalTarget()
    if spec == "adb" or spec.startswith("adb:"):
        serial = spec.split(":", 1)[1] if ":" in spec else None
        return AdbTarget(serial=serial or None,
                         route=Route(adb_route, delegate=delegate, binary=benchmark_binary, apk=benchmark_apk))
    if spec.startswith("ssh://"):
        return parse_ssh_spec(spec, key=ssh_key or os.environ.get(SSH_KEY_ENV), known_hosts=known_hosts,
                              python=remote_python or os.environ.get(SSH_PYTHON_ENV) or "python3")
    raise TargetError(f"Unknown target '{spec}'; use local, adb, adb:SERIAL or ssh://user@host[:port]")


TARGET_KINDS = ("local", "adb[:SERIAL]", "ssh://user@host[:port]")
