"""What every benchmark target shares: the run configuration, the Target interface, and one
way to call an external program (adb, ssh, the runner) with a timeout and one-line errors."""

from __future__ import annotations

import re
import subprocess
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

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
