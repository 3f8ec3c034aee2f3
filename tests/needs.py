"""What a test needs from the machine. `make test` installs all of it (`make deps`, `make install`),
so a missing tool is a failed set-up, reported as a failure naming the fix, never a silent skip."""

from __future__ import annotations

import os
import shutil

import pytest

SSHD = shutil.which("sshd") or ("/usr/sbin/sshd" if os.path.exists("/usr/sbin/sshd") else None)


def need(present: bool, what: str, fix: str = "run `make deps`") -> None:
    if not present:
        pytest.fail(f"{what} is not installed: {fix}", pytrace=False)


def need_adb() -> None:
    need(shutil.which("adb") is not None, "Debian's adb", "run `make deps` (.ci/deps.d/bench.sh)")


def need_sshd() -> None:
    need(SSHD is not None and shutil.which("ssh-keygen") is not None, "openssh-server",
         "run `make deps` (.ci/deps.d/bench.sh)")
