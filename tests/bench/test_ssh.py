"""ssh target, for real: an OpenSSH server this test starts on 127.0.0.1 (own host key, key auth only).

The "board" is this machine reached over loopback ssh; its Python is the venv's (a board
needs Python 3 + numpy + ai-edge-litert). The test checks that the ssh target returns the
same JSON schema as the local one, and that a refused key gives one clear line.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hybridsplit.bench.profile import layer_table
from hybridsplit.bench.targets import BenchConfig, LocalTarget, SshTarget, make_target
from hybridsplit.errors import TargetError

from needs import SSHD, need_sshd


@pytest.fixture(autouse=True, scope="module")
def _sshd_installed():
    need_sshd()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _keygen(path: Path) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True, timeout=30)
    return path


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    d = tmp_path_factory.mktemp("sshd")
    host_key, client_key, other_key = _keygen(d / "host_key"), _keygen(d / "client_key"), _keygen(d / "other_key")
    (d / "authorized_keys").write_text((d / "client_key.pub").read_text())
    port = _free_port()
    config = d / "sshd_config"
    config.write_text(f"""Port {port}
ListenAddress 127.0.0.1
HostKey {host_key}
PidFile {d / "sshd.pid"}
AuthorizedKeysFile {d / "authorized_keys"}
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
AllowUsers {getpass.getuser()}
Subsystem sftp internal-sftp
LogLevel ERROR
""")
    made_privsep = False
    if os.geteuid() == 0 and not os.path.isdir("/run/sshd"):  # sshd's privilege-separation directory
        os.makedirs("/run/sshd", mode=0o755)
        made_privsep = True
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    known = d / "known_hosts"
    host_pub = (d / "host_key.pub").read_text().split()
    known.write_text(f"[127.0.0.1]:{port} {host_pub[0]} {host_pub[1]}\n")
    try:
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                pytest.fail(f"sshd exited: {proc.stdout.read().decode(errors='replace')[-500:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("sshd did not listen within 20 s")
                time.sleep(0.1)
        yield {"port": port, "key": str(client_key), "other_key": str(other_key), "known_hosts": str(known)}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        if made_privsep:
            shutil.rmtree("/run/sshd", ignore_errors=True)


def _target(sshd, key: str) -> SshTarget:
    t = make_target(f"ssh://{getpass.getuser()}@127.0.0.1:{sshd['port']}", ssh_key=key,
                    known_hosts=sshd["known_hosts"], remote_python=sys.executable)
    assert isinstance(t, SshTarget)
    return t


def _schema(obj, depth: int = 0):
    """The key structure of a JSON document (values' types ignored below the first level of lists)."""
    if isinstance(obj, dict):
        return {k: _schema(v, depth + 1) for k, v in obj.items()}
    if isinstance(obj, list) and obj and isinstance(obj[0], dict):
        return [_schema(obj[0], depth + 1)]
    return type(obj).__name__ if obj is not None else "null"


@pytest.mark.slow
def test_ssh_target_returns_the_same_json_schema_as_local(sshd, local_bench):
    _, models_dir, _ = local_bench
    prefixes = sorted((models_dir / "prefix").glob("prefix_*.tflite"))
    assert len(prefixes) == 16  # one per op of the default int8 device.tflite
    cfg = BenchConfig(runs=200, warmup=10, threads=1, timeout_s=120)
    remote = _target(sshd, sshd["key"]).run(prefixes, cfg)
    local = LocalTarget().run(prefixes, cfg)
    assert _schema(remote) == _schema(local)
    assert remote["runner"] == local["runner"] == "litert-python"
    assert [m["model"] for m in remote["models"]] == [p.name for p in prefixes]
    for r, loc in zip(remote["models"], local["models"], strict=True):
        assert r["latency_us"]["count"] == 200 and r["latency_us"]["median"] > 0
        assert r["file_bytes"] == loc["file_bytes"] and r["output"] == loc["output"]
    # per-layer tables built from either result have identical rows/keys
    from hybridsplit.bench.profile import PrefixModels, StageStats

    stats = [StageStats(f"s{i}", "k", [1], 4, 1, 1, 1, 1, 4) for i in range(len(prefixes))]
    pm = PrefixModels(stats, prefixes, "int8", models_dir, [1, 6, 100])
    assert [sorted(r) for r in layer_table(pm, remote)] == [sorted(r) for r in layer_table(pm, local)]


def test_ssh_auth_failure_is_one_clear_line(sshd):
    with pytest.raises(TargetError) as err:
        _target(sshd, sshd["other_key"]).check(BenchConfig(timeout_s=30))
    msg = str(err.value)
    assert msg.startswith(f"ssh authentication to ssh://{getpass.getuser()}@127.0.0.1:{sshd['port']} failed")
    assert "Permission denied" in msg and "--ssh-key" in msg and "\n" not in msg


def test_ssh_unreachable_and_missing_litert_are_one_line(sshd, tmp_path):
    closed = _free_port()
    t = make_target(f"ssh://nobody@127.0.0.1:{closed}", ssh_key=sshd["key"], known_hosts=sshd["known_hosts"])
    with pytest.raises(TargetError, match=r"cannot reach ssh://nobody@127.0.0.1:\d+ over ssh \(.*Connection refused"):
        t.check(BenchConfig(timeout_s=30))
    t = _target(sshd, sshd["key"])
    t.python = "/nonexistent/python3"  # a board without the runtime
    with pytest.raises(TargetError, match="cannot import ai_edge_litert and numpy"):
        t.check(BenchConfig(timeout_s=30))
