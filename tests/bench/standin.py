"""Stand-in `adb`, stand-in phone tools and stand-in benchmark binaries for tests (no phone exists here).

The stand-in adb keeps a fake device filesystem under $STANDIN_ADB_ROOT, logs every call (one
JSON line each) to $STANDIN_ADB_LOG, lists $STANDIN_ADB_DEVICES (lines 'serial<TAB>state') for
`adb devices`, and runs `adb shell` commands with sh after mapping /data/local/tmp and /sys into
the fake root and stripping a leading `taskset MASK`. The fake phone's PATH holds stand-in `am`,
`pm` and `dumpsys` (bin/ under the root): `am start ... --es args '"..."'` runs the stand-in
benchmark_model as the benchmark app would and appends its lines, logcat-prefixed, to the fake
logcat that `adb logcat -d` prints. Varying readings: `adb shell cat ...energy_value` first
moves the next reading of `energy_value.seq` (JSON list) into `energy_value`, and while the
energy loop runs (`energy.started` exists) `current_now` reads `current_now.busy` when present.
The stand-in benchmark binaries print recorded logs: tests/bench/data/benchmark_model_current.txt
(benchmark_model) and a published benchmark_litert_model log (fixtures/real/).
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

DATA = Path(__file__).parent / "data"
LITERT_LOG = Path(__file__).parent / "fixtures" / "real" / "arm_litert_kleidiai_sme2.log"

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
elif cmd == "install":
    with open(root + "/installed_packages", "a") as f:
        f.write("org.tensorflow.lite.benchmark\n")
    print("Success")
elif cmd == "logcat":
    path = root + "/logcat.txt"
    if "-c" in args:
        open(path, "w").close()
    elif os.path.exists(path):
        sys.stdout.write(open(path).read())
elif cmd == "shell":
    line = " ".join(args[1:])
    if line.startswith("getprop "):
        print({"ro.product.model": "Standin Phone", "ro.product.cpu.abi": "arm64-v8a"}.get(line.split()[1], "standin"))
        sys.exit(0)
    line = re.sub(r"^taskset [0-9a-fA-Fx]+ ", "", line)
    if line.startswith("cat") and "energy_value" in line:  # the next ODPM reading
        for dirpath, _, files in os.walk(root + "/sys"):
            if "energy_value.seq" in files:
                seq_path = os.path.join(dirpath, "energy_value.seq")
                seq = json.load(open(seq_path))
                open(os.path.join(dirpath, "energy_value"), "w").write(seq.pop(0))
                json.dump(seq, open(seq_path, "w"))
    battery = root + "/sys/class/power_supply/battery"
    if os.path.exists(root + "/data/local/tmp/hybridsplit/energy.started") and os.path.exists(battery + "/current_now.busy"):
        line = line.replace("/sys/class/power_supply/battery/current_now", "/sys/class/power_supply/battery/current_now.busy")
    line = line.replace("/data/local/tmp", root + "/data/local/tmp").replace("/sys/", root + "/sys/")
    env = {**os.environ, "PATH": root + "/bin:" + os.environ["PATH"]}
    sys.exit(subprocess.call(["sh", "-c", line], env=env))
else:
    print(f"stand-in adb: unsupported command {args}", file=sys.stderr)
    sys.exit(1)
'''

BENCHMARK_MODEL = r'''#!__PY__
import os, sys, time
flags = dict(a[2:].split("=", 1) for a in sys.argv[1:] if a.startswith("--") and "=" in a)
graph = flags.get("graph", "")
if not os.path.isfile(graph):
    print(f"ERROR: Could not open '{graph}'."); print("ERROR: Benchmarking failed."); sys.exit(1)
if "min_secs" in flags:  # the energy loop: busy for the whole window, a little longer than asked
    time.sleep(float(flags["min_secs"]) + 0.5)
text = open(__FIXTURE__).read()
text = text.replace("Num threads: [4]", "Num threads: [" + flags.get("num_threads", "1") + "]")
text = text.replace("/data/local/tmp/hybridsplit/device.tflite", graph)
sys.stdout.write(text)
'''

# The fake phone's `am`: the benchmark app writes the tool's output to logcat under the tag tflite.
AM = r'''#!__PY__
import os, re, subprocess, sys, time
root = os.environ["STANDIN_ADB_ROOT"]
line = " ".join(sys.argv[1:])
m = re.search(r"--es args '\"(.*)\"'", line) or re.search(r'--es args "(.*)"', line)
if not m or "org.tensorflow.lite.benchmark/.BenchmarkModelActivity" not in line:
    print("Error: Activity not started, unable to resolve Intent", file=sys.stderr); sys.exit(1)
print("Starting: Intent { cmp=org.tensorflow.lite.benchmark/.BenchmarkModelActivity }")
args = m.group(1).split()  # paths already mapped into the fake root by the stand-in adb
out = subprocess.run([os.environ["STANDIN_APP_TOOL"], *args], capture_output=True, text=True).stdout
stamp = time.strftime("%m-%d %H:%M:%S.000")
with open(root + "/logcat.txt", "a") as f:
    f.write(f"{stamp}  4242  4242 I tflite_BenchmarkModelActivity: Running TensorFlow Lite benchmark with args: {m.group(1)}\n")
    for l in out.splitlines():
        f.write(f"{stamp}  4242  4242 I tflite  : {l}\n")
'''

PM = r'''#!/bin/sh
[ -f "$STANDIN_ADB_ROOT/installed_packages" ] && sed 's/^/package:/' "$STANDIN_ADB_ROOT/installed_packages"
exit 0
'''

DUMPSYS = r'''#!/bin/sh
echo "dumpsys $*" >> "$STANDIN_ADB_ROOT/dumpsys.log"
case "$*" in
  "battery") cat "$STANDIN_ADB_ROOT/dumpsys_battery.txt" ;;
  "batterystats") cat "$STANDIN_ADB_ROOT/batterystats.txt" ;;
esac
exit 0
'''


def _write(path: Path, text: str, fixture: Path | None = None) -> Path:
    fixture = fixture or DATA / "benchmark_model_current.txt"
    path.write_text(text.replace("__PY__", sys.executable).replace("__FIXTURE__", repr(str(fixture))))
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def install(tmp: Path, monkeypatch, devices: str) -> dict:
    """Put the stand-in adb first on PATH; returns paths of its log, fake root and the stand-in tools."""
    bindir = tmp / "standin-bin"
    bindir.mkdir(exist_ok=True)
    _write(bindir / "adb", ADB)
    bm = _write(tmp / "benchmark_model", BENCHMARK_MODEL)
    litert = _write(tmp / "benchmark_litert_model", BENCHMARK_MODEL, LITERT_LOG)
    root, log = tmp / "device-root", tmp / "adb.log"
    (root / "bin").mkdir(parents=True, exist_ok=True)
    _write(root / "bin" / "am", AM)
    _write(root / "bin" / "pm", PM)
    _write(root / "bin" / "dumpsys", DUMPSYS)
    (root / "dumpsys_battery.txt").write_text("Current Battery Service state:\n  AC powered: false\n  USB powered: true\n"
                                             "  Wireless powered: false\n  status: 2\n  level: 80\n")
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("STANDIN_ADB_ROOT", str(root))
    monkeypatch.setenv("STANDIN_ADB_LOG", str(log))
    monkeypatch.setenv("STANDIN_ADB_DEVICES", devices)
    monkeypatch.setenv("STANDIN_APP_TOOL", str(bm))
    return {"log": log, "root": root, "benchmark_model": bm, "benchmark_litert_model": litert, "bindir": bindir}
