"""Stand-in `adb` and `benchmark_model` scripts for tests (no phone exists here).

The stand-in adb keeps a fake device filesystem under $STANDIN_ADB_ROOT, logs every call
(one JSON line each) to $STANDIN_ADB_LOG, lists $STANDIN_ADB_DEVICES (lines 'serial<TAB>state')
for `adb devices`, and runs `adb shell` commands with sh after mapping /data/local/tmp into
the fake root and stripping a leading `taskset MASK` (logged). The stand-in benchmark_model
prints the recorded current-format output in data/benchmark_model_current.txt.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

DATA = Path(__file__).parent / "data"

ADB = r'''#!__PY__
import json, os, re, shutil, subprocess, sys
root = os.environ["STANDIN_ADB_ROOT"]
args = sys.argv[1:]
with open(os.environ["STANDIN_ADB_LOG"], "a") as f:
    f.write(json.dumps(args) + "\n")
devices = [l.split("\t") for l in os.environ.get("STANDIN_ADB_DEVICES", "").splitlines() if l.strip()]
serial = None
if args[:1] == ["-s"]:
    serial, args = args[1], args[2:]
if args == ["devices"]:
    print("List of devices attached")
    for s, state in devices:
        print(f"{s}\t{state}")
    print()
    sys.exit(0)
if serial is not None and serial not in [s for s, _ in devices]:
    print(f"adb: device '{serial}' not found", file=sys.stderr)
    sys.exit(1)
def local(p):
    return root + p
cmd = args[0]
if cmd == "push":
    os.makedirs(os.path.dirname(local(args[2])), exist_ok=True)
    shutil.copy(args[1], local(args[2]))
    print(f"{args[1]}: 1 file pushed.")
elif cmd == "pull":
    shutil.copy(local(args[1]), args[2])
    print(f"{args[1]}: 1 file pulled.")
elif cmd == "shell":
    line = " ".join(args[1:])
    if line.startswith("getprop "):
        print({"ro.product.model": "Standin Phone", "ro.product.cpu.abi": "arm64-v8a"}.get(line.split()[1], "standin"))
        sys.exit(0)
    line = re.sub(r"^taskset [0-9a-fA-Fx]+ ", "", line)
    line = line.replace("/data/local/tmp", root + "/data/local/tmp")
    line = line.replace("/sys/class/power_supply", root + "/sys/class/power_supply")
    sys.exit(subprocess.call(["sh", "-c", line]))
else:
    print(f"stand-in adb: unsupported command {args}", file=sys.stderr)
    sys.exit(1)
'''

BENCHMARK_MODEL = r'''#!__PY__
import os, sys
flags = dict(a[2:].split("=", 1) for a in sys.argv[1:] if a.startswith("--") and "=" in a)
graph = flags.get("graph", "")
if not os.path.isfile(graph):
    print(f"ERROR: Could not open '{graph}'."); print("ERROR: Benchmarking failed."); sys.exit(1)
text = open(__FIXTURE__).read()
text = text.replace("Num threads: [4]", "Num threads: [" + flags.get("num_threads", "1") + "]")
text = text.replace("/data/local/tmp/hybridsplit/device.tflite", graph)
sys.stdout.write(text)
'''


def _write(path: Path, text: str) -> Path:
    path.write_text(text.replace("__PY__", sys.executable).replace("__FIXTURE__", repr(str(DATA / "benchmark_model_current.txt"))))
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def install(tmp: Path, monkeypatch, devices: str) -> dict:
    """Put the stand-in adb first on PATH; returns paths of its log, fake root and the stand-in benchmark_model."""
    bindir = tmp / "standin-bin"
    bindir.mkdir(exist_ok=True)
    _write(bindir / "adb", ADB)
    bm = _write(tmp / "benchmark_model", BENCHMARK_MODEL)
    root, log = tmp / "device-root", tmp / "adb.log"
    root.mkdir(exist_ok=True)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("STANDIN_ADB_ROOT", str(root))
    monkeypatch.setenv("STANDIN_ADB_LOG", str(log))
    monkeypatch.setenv("STANDIN_ADB_DEVICES", devices)
    return {"log": log, "root": root, "benchmark_model": bm, "bindir": bindir}
