"""The Android demo app (android_demo/): copy a bundle into its assets, and check its code statically.

The app cannot be built here (no Android SDK offline), so `static_check` is what CI runs: it
finds every manifest / samples path the Kotlin code reads (the `reqInt(manifest, "input/shape")`
style calls in BundleManifest.kt and Samples.kt) and every asset name (`object Assets`), and
checks each against a freshly exported bundle — the path exists, and holds the type the call
expects. A renamed manifest key therefore fails CI instead of crashing the app on a phone.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from hybridsplit.bundle.manifest import MANIFEST_NAME, verify_bundle
from hybridsplit.demos.samples import SAMPLES_NAME, export_samples
from hybridsplit.errors import BundleError, HybridsplitError

ASSETS_DIR = Path("app/src/main/assets")
SOURCES_DIR = Path("app/src/main/java")
MODEL_ASSET = "device.tflite"

_CALL = re.compile(r"\b(?:req|opt)(Int|Double|String|IntArray|FloatArray|StringArray)\(\s*(\w+)\s*,\s*\"([^\"]*)\"\s*[,)]")
_ANY_CALL = re.compile(r"(?<!fun )(?<![.\w])(?:req|opt)(?:Int|Double|String|IntArray|FloatArray|StringArray)\(")
_ASSETS_OBJ = re.compile(r"object\s+Assets\s*\{(.*?)\}", re.S)
_CONST = re.compile(r"const\s+val\s+(\w+)\s*=\s*\"([^\"]+)\"")
_RAW_OPEN = re.compile(r"\.(?:open|openFd)\(\s*\"([^\"]+)\"")


class AndroidCheckError(HybridsplitError):
    """The Android app's code reads a key or asset the bundle does not have."""


@dataclass(frozen=True)
class KeyUse:
    file: str
    line: int
    kind: str
    """Int, Double, String, IntArray, FloatArray or StringArray (the req* helper used)."""
    doc: str
    """manifest, samples or sample (one element of samples.json's `samples`)."""
    path: str


def copy_assets(bundle_dir: str | Path, app_dir: str | Path, n_samples: int = 16) -> list[Path]:
    """Copy device.tflite + manifest.json into the app's assets and write samples.json beside them."""
    bundle_dir, app_dir = Path(bundle_dir), Path(app_dir)
    if not (app_dir / SOURCES_DIR).is_dir():
        raise BundleError(f"'{app_dir}' is not the Android demo (no {SOURCES_DIR}); pass --app android_demo")
    verify_bundle(bundle_dir)
    if not (bundle_dir / MODEL_ASSET).is_file():
        raise BundleError(f"Bundle '{bundle_dir}' has no {MODEL_ASSET}; export it with `make export-tflite`")
    assets = app_dir / ASSETS_DIR
    assets.mkdir(parents=True, exist_ok=True)
    written = []
    for name in (MODEL_ASSET, MANIFEST_NAME):
        shutil.copyfile(bundle_dir / name, assets / name)
        written.append(assets / name)
    samples = export_samples(bundle_dir, n_samples)
    (assets / SAMPLES_NAME).write_text(json.dumps(samples, separators=(",", ":")) + "\n")
    written.append(assets / SAMPLES_NAME)
    return written


def kotlin_sources(app_dir: Path) -> list[Path]:
    files = sorted((app_dir / SOURCES_DIR).rglob("*.kt"))
    if not files:
        raise AndroidCheckError(f"No Kotlin sources under '{app_dir / SOURCES_DIR}'")
    return files


def key_uses(app_dir: str | Path) -> list[KeyUse]:
    app_dir = Path(app_dir)
    uses = []
    for path in kotlin_sources(app_dir):
        text = path.read_text()
        for m in _CALL.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            uses.append(KeyUse(str(path.relative_to(app_dir)), line, m.group(1), m.group(2), m.group(3)))
    return uses


def asset_names(app_dir: str | Path) -> dict[str, str]:
    """The `object Assets` constants of the app: {const name: asset file name}."""
    names: dict[str, str] = {}
    for path in kotlin_sources(Path(app_dir)):
        for block in _ASSETS_OBJ.findall(path.read_text()):
            names.update(dict(_CONST.findall(block)))
    return names


def _lookup(doc: object, path: str) -> tuple[bool, object]:
    cur = doc
    for key in path.split("/"):
        if not isinstance(cur, dict) or key not in cur or cur[key] is None:
            return False, None
        cur = cur[key]
    return True, cur


def _is_num(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


_TYPES = {
    "Int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "Double": _is_num,
    "String": lambda v: isinstance(v, str),
    "IntArray": lambda v: isinstance(v, list) and all(isinstance(e, int) and not isinstance(e, bool) for e in v),
    "FloatArray": lambda v: isinstance(v, list) and all(_is_num(e) for e in v),
    "StringArray": lambda v: isinstance(v, list) and all(isinstance(e, str) for e in v),
}

REQUIRED_PATHS = ("input/shape", "input/normalisation/mean", "input/normalisation/std",
                  "input/quantization/scale", "input/quantization/zero_point", "feature/shape",
                  "feature/scale", "feature/zero_point", "labels")
"""Paths the app must read: if the scan stops finding them, the check itself is broken."""


def check_documents(app_dir: str | Path, manifest: dict, samples: dict, bundle_files: set[str]) -> list[str]:
    """Problems (one line each) between the app's code and a bundle's documents; [] when all is well."""
    app_dir = Path(app_dir)
    docs = {"manifest": manifest, "samples": samples,
            "sample": (samples.get("samples") or [{}])[0]}
    problems = []
    uses = key_uses(app_dir)
    for u in uses:
        where = f"{u.file}:{u.line}"
        if u.doc not in docs:
            problems.append(f"{where}: req{u.kind}({u.doc}, \"{u.path}\") reads an unknown document "
                            f"'{u.doc}'; name it manifest, samples or sample")
            continue
        found, value = _lookup(docs[u.doc], u.path)
        if not found:
            problems.append(f"{where}: the app reads {u.doc} key '{u.path}', which a freshly exported bundle lacks")
        elif not _TYPES[u.kind](value):
            problems.append(f"{where}: the app reads {u.doc} key '{u.path}' as {u.kind}, but the bundle has "
                            f"{type(value).__name__} {json.dumps(value)[:60]}")
    read = {u.path for u in uses if u.doc == "manifest"}
    for p in REQUIRED_PATHS:
        if p not in read:
            problems.append(f"the scan found no read of manifest key '{p}' in {SOURCES_DIR}; "
                            "read it with req*(manifest, \"...\") so the check can see it")
    names = asset_names(app_dir)
    if not names:
        problems.append("no `object Assets` with asset names found in the Kotlin sources")
    provided = bundle_files | {MANIFEST_NAME, SAMPLES_NAME}
    for const, name in sorted(names.items()):
        if name not in provided:
            problems.append(f"Assets.{const} = \"{name}\" is neither in the bundle nor written by `make android-assets`")
    for path in kotlin_sources(app_dir):
        text = path.read_text()
        literal = {m.start() for m in _CALL.finditer(text)}
        for m in _ANY_CALL.finditer(text):
            if m.start() not in literal:
                line = text.count("\n", 0, m.start()) + 1
                problems.append(f"{path.relative_to(app_dir)}:{line}: a req*/opt* call without a (document, \"path\") "
                                "literal; the check cannot see which key it reads")
        for m in _RAW_OPEN.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            problems.append(f"{path.relative_to(app_dir)}:{line}: opens asset \"{m.group(1)}\" by a literal; "
                            "use an Assets constant so the check sees it")
    return problems


def static_check(app_dir: str | Path, bundle_dir: str | Path, samples: dict | None = None) -> list[KeyUse]:
    """Check the app's code against a bundle; raise AndroidCheckError listing every problem."""
    bundle_dir = Path(bundle_dir)
    manifest_path = bundle_dir / MANIFEST_NAME
    if not manifest_path.is_file():
        raise BundleError(f"No {MANIFEST_NAME} in '{bundle_dir}'; export one with `make export-tflite`")
    manifest = json.loads(manifest_path.read_text())
    if samples is None:
        samples = export_samples(bundle_dir, 1)
    files = {p.name for p in bundle_dir.iterdir() if p.is_file()}
    problems = check_documents(app_dir, manifest, samples, files)
    if problems:
        raise AndroidCheckError(f"{len(problems)} problem(s): " + " | ".join(problems))
    return key_uses(app_dir)
