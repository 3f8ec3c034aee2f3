"""Compile the Android demo's Kotlin and run its pure parts on the JVM, against a real bundle.

There is no Android SDK here, so the app is compiled with Debian's `kotlinc` (1.3.31) against
*stand-in* classes (android_demo/jvm/standins: the Android SDK and LiteRT classes the app uses,
same public signatures, bodies that throw) plus an R class generated from the app's res/ XML.
That catches syntax errors, wrong API calls and missing resources. The compiled pure parts
(manifest + samples parsing, preprocessing, wire encoding, channel map, windowing, the
interpreter's one thread) then run in a JVM driver (android_demo/jvm/tests/.../JvmCheck.kt) on
a bundle's manifest and samples, and their bytes are compared with the Python client's.

The compile is cached in the build folder by a hash of every input, so a test session or a
`make android-check` compiles once.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hybridsplit.demos.android import SOURCES_DIR, AndroidCheckError

STANDINS_DIR = Path("jvm/standins")
TESTS_DIR = Path("jvm/tests")
RES_DIR = Path("app/src/main/res")
DRIVER = "dev.hybridsplit.demo.JvmCheckKt"
JARS = {"android-json": Path("/usr/share/java/com.android.json.jar"),
        "kotlin-stdlib": Path("/usr/share/java/kotlin-stdlib.jar")}
_KT_ERROR = re.compile(r"^(?P<file>[^\s:]+\.kt):(?P<line>\d+):(?P<col>\d+): error: (?P<msg>.*)$", re.M)
_JAVA_ERROR = re.compile(r"^(?P<file>[^\s:]+\.java):(?P<line>\d+): error: (?P<msg>.*)$", re.M)
_ANDROID_NS = "{http://schemas.android.com/apk/res/android}"


@dataclass(frozen=True)
class Build:
    classes: Path
    standins: Path

    @property
    def classpath(self) -> str:
        return ":".join(str(p) for p in (self.classes, self.standins, *JARS.values()))


def tools() -> dict[str, str]:
    """kotlinc, javac, java and the two jars, or one error naming what to install."""
    found = {name: shutil.which(name) for name in ("kotlinc", "javac", "java")}
    missing = [n for n, p in found.items() if p is None] + [str(j) for j in JARS.values() if not j.is_file()]
    if missing:
        raise AndroidCheckError(f"the Kotlin compile check needs {', '.join(missing)}: run `make deps` "
                                "(.ci/deps.d/android.sh installs Debian's kotlin, default-jdk-headless, libandroid-json-java)")
    return found  # type: ignore[return-value]


def r_class(app_dir: Path) -> str:
    """R.java for the app's resources: layouts, @+id names in them, strings (as aapt would name them)."""
    layouts = sorted(p.stem for p in (app_dir / RES_DIR / "layout").glob("*.xml"))
    ids: set[str] = set()
    for p in (app_dir / RES_DIR / "layout").glob("*.xml"):
        for el in ET.parse(p).iter():
            ref = el.get(f"{_ANDROID_NS}id", "")
            if ref.startswith("@+id/"):
                ids.add(ref[5:])
    strings = sorted({el.get("name") for p in (app_dir / RES_DIR / "values").glob("*.xml")
                      for el in ET.parse(p).iter("string")})

    def block(kind: str, names, base: int) -> str:
        fields = "".join(f"        public static final int {n} = 0x{base + i:08x};\n" for i, n in enumerate(sorted(names)))
        return f"    public static final class {kind} {{\n{fields}    }}\n"

    return ("// Generated from res/ by hybridsplit.demos.android_jvm (what aapt generates in a real build).\n"
            "package dev.hybridsplit.demo;\n\npublic final class R {\n"
            + block("layout", layouts, 0x7f0b0000) + block("id", ids, 0x7f080000)
            + block("string", strings, 0x7f100000) + "}\n")


def _inputs(app_dir: Path) -> list[Path]:
    files = [*sorted((app_dir / SOURCES_DIR).rglob("*.kt")), *sorted((app_dir / TESTS_DIR).rglob("*.kt")),
             *sorted((app_dir / STANDINS_DIR).rglob("*.java")), *sorted((app_dir / RES_DIR).rglob("*.xml"))]
    if not any(p.suffix == ".kt" for p in files):
        raise AndroidCheckError(f"No Kotlin sources under '{app_dir / SOURCES_DIR}'")
    return files


def _key(app_dir: Path, files: list[Path]) -> str:
    h = hashlib.sha256()
    for p in files:
        h.update(f"{p.relative_to(app_dir)}\0".encode() + p.read_bytes() + b"\0")
    for jar in JARS.values():
        h.update(f"{jar.resolve()}\0".encode())
    return h.hexdigest()


def _shown(file: str, app_dir: Path) -> str:
    path, root = Path(file).resolve(), app_dir.resolve()
    return str(path.relative_to(root)) if path.is_relative_to(root) else file


def _run(cmd: list[str], what: str, pattern: re.Pattern, app_dir: Path, timeout: float = 600) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode == 0:
        return
    out = proc.stdout + proc.stderr
    errors = list(dict.fromkeys(f"{_shown(m['file'], app_dir)}:{m['line']}: {m['msg']}" for m in pattern.finditer(out)))
    detail = " | ".join(errors[:20]) if errors else out.strip()[-2000:]
    raise AndroidCheckError(f"{what} failed ({len(errors)} error(s)): {detail}")


def compile_app(app_dir: str | Path, build_dir: str | Path) -> Build:
    """Compile stand-ins + R (javac) and the app's Kotlin + the JVM driver (kotlinc); cached by input hash."""
    app_dir, build_dir = Path(app_dir), Path(build_dir)
    exe = tools()
    files = _inputs(app_dir)
    key = _key(app_dir, files)
    build = Build(build_dir / "classes", build_dir / "standins")
    stamp = build_dir / "inputs.sha256"
    if stamp.is_file() and stamp.read_text() == key:
        return build
    if build_dir.exists():
        shutil.rmtree(build_dir)
    (build_dir / "gen").mkdir(parents=True)
    (build_dir / "gen" / "R.java").write_text(r_class(app_dir))
    java = [str(p) for p in files if p.suffix == ".java"] + [str(build_dir / "gen" / "R.java")]
    _run([exe["javac"], "--release", "8", "-nowarn", "-d", str(build.standins),
          "-cp", str(JARS["android-json"]), *java], "javac (stand-ins + R)", _JAVA_ERROR, app_dir)
    kotlin = [str(p) for p in files if p.suffix == ".kt"]
    _run([exe["kotlinc"], "-jvm-target", "1.8", "-nowarn", "-cp", f"{build.standins}:{JARS['android-json']}",
          "-d", str(build.classes), *kotlin], "kotlinc (the app's Kotlin)", _KT_ERROR, app_dir)
    stamp.write_text(key)
    return build


def driver_inputs(bundle_dir: Path, samples: dict, in_dir: Path) -> list[bytes]:
    """Write manifest.json, samples.json and features.bin for the driver; the Python client's wire
    message for each sample (the expected output)."""
    from hybridsplit.demos.samples import sample_array
    from hybridsplit.serving.client import DeviceRunner

    in_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(bundle_dir / "manifest.json", in_dir / "manifest.json")
    (in_dir / "samples.json").write_text(json.dumps(samples, separators=(",", ":")))
    device = DeviceRunner(bundle_dir)
    features, messages = [], []
    for i in range(len(samples["samples"])):
        f = device.features(device.normalise(sample_array(samples, i)))
        features.append(np.ascontiguousarray(f, np.int8).tobytes())
        messages.append(device.encode(f))
    (in_dir / "features.bin").write_bytes(b"".join(features))
    return messages


def run_driver(build: Build, in_dir: Path, out_dir: Path, timeout: float = 300) -> None:
    java = tools()["java"]
    _run([java, "-cp", build.classpath, DRIVER, "check", str(in_dir), str(out_dir)],
         "the JVM driver", _KT_ERROR, in_dir, timeout)


def expected_inputs(bundle_dir: Path, samples: dict) -> bytes:
    """The Python reference's int8 input tensors for every sample, concatenated."""
    from hybridsplit.bundle.manifest import load_manifest
    from hybridsplit.demos.samples import preprocess, sample_array

    manifest = load_manifest(bundle_dir)
    return b"".join(np.ascontiguousarray(preprocess(sample_array(samples, i), manifest), np.int8).tobytes()
                    for i in range(len(samples["samples"])))


def jvm_check(app_dir: str | Path, bundle_dir: str | Path, build_dir: str | Path, samples: dict | None = None) -> dict:
    """Compile (cached), run the driver on the bundle, compare its bytes with Python's; a summary."""
    from hybridsplit.demos.samples import export_samples

    bundle_dir, build_dir = Path(bundle_dir), Path(build_dir)
    build = compile_app(app_dir, build_dir)
    samples = samples if samples is not None else export_samples(bundle_dir, 16)
    work = build_dir / "run"
    shutil.rmtree(work, ignore_errors=True)
    messages = driver_inputs(bundle_dir, samples, work / "in")
    run_driver(build, work / "in", work / "out")
    problems = []
    want_in = expected_inputs(bundle_dir, samples)
    got_in = (work / "out" / "input.bin").read_bytes()
    if got_in != want_in:
        diff = next((i for i, (a, b) in enumerate(zip(got_in, want_in)) if a != b), min(len(got_in), len(want_in)))
        problems.append(f"Kotlin's int8 input differs from Python's preprocess at byte {diff} "
                        f"({len(got_in)} vs {len(want_in)} bytes)")
    got_wire = (work / "out" / "wire.bin").read_bytes()
    if got_wire != b"".join(messages):
        problems.append(f"Kotlin's wire messages ({len(got_wire)} bytes) differ from the Python client's "
                        f"({sum(map(len, messages))} bytes)")
    if problems:
        raise AndroidCheckError(" | ".join(problems))
    return {"windows": len(messages), "message_bytes": len(messages[0]), "input_bytes": len(want_in),
            "out_dir": str(work / "out")}
