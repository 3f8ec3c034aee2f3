"""Target specs and options (no device, no network)."""

from __future__ import annotations

import pytest

from hybridsplit.bench.targets import AdbTarget, BenchConfig, LocalTarget, SshTarget, make_target
from hybridsplit.errors import TargetError


def test_specs_parse_to_targets():
    assert isinstance(make_target("local"), LocalTarget)
    a = make_target("adb:R58M123", benchmark_binary="/bm")
    assert isinstance(a, AdbTarget) and a.serial == "R58M123" and a.spec == "adb:R58M123"
    assert make_target("adb").serial is None
    s = make_target("ssh://pi@raspberrypi.local:2222", remote_python="/opt/venv/bin/python")
    assert isinstance(s, SshTarget) and (s.user, s.host, s.port, s.python) == ("pi", "raspberrypi.local", 2222,
                                                                                "/opt/venv/bin/python")
    assert make_target("ssh://board").port == 22 and make_target("ssh://board").spec == "ssh://board:22"


@pytest.mark.parametrize(("spec", "message"), [
    ("phone", "Unknown target 'phone'; use local, adb, adb:SERIAL or ssh://user@host[:port]"),
    ("ssh://pi@host:99999", "has a bad port"),
])
def test_bad_specs_are_one_line(spec, message):
    with pytest.raises(TargetError, match=message.replace("[", r"\[").replace("]", r"\]").replace("(", r"\(")):
        make_target(spec)


def test_bench_config_validates():
    with pytest.raises(TargetError, match="CPU mask 'zz' is not hex"):
        BenchConfig(cpu_mask="zz")
    with pytest.raises(TargetError, match="must be >= 1"):
        BenchConfig(runs=0)
    assert BenchConfig(cpu_mask="0xf0").cpu_mask == "0xf0"


def test_adb_command_pins_cores_and_threads():
    cmd = AdbTarget(serial="x").route.command("/data/local/tmp/hybridsplit/m0.tflite",
                                              BenchConfig(threads=4, cpu_mask="0xf0", runs=50, warmup=5), "/d/m0.log")
    assert cmd.startswith("taskset f0 /data/local/tmp/hybridsplit/benchmark_model --graph=/data/local/tmp/hybridsplit/m0.tflite")
    assert "--num_threads=4" in cmd and "--num_runs=50" in cmd and cmd.endswith("> /d/m0.log 2>&1; echo rc=$?")
