"""iOS notes: the Swift snippet cannot be compiled or run here (no Swift toolchain, no Core ML
runtime on Linux), so its Decodable manifest structs are checked statically against a freshly
exported manifest, and a Core ML artifact (when the bundle has one) against what the snippet feeds it."""

from __future__ import annotations

import json
import re
from pathlib import Path

SWIFT = Path(__file__).resolve().parents[2] / "ios_notes" / "HybridSplitDevice.swift"
_HEAD = re.compile(r"struct\s+(\w+)\s*:\s*Decodable\s*\{")
_FIELD = re.compile(r"\blet\s+(\w+)\s*:\s*([\w\[\]]+)(\?)?")


def _block(text: str, open_at: int) -> tuple[int, int]:
    """(start, end) of the body of the brace opened at text[open_at]."""
    depth = 0
    for i in range(open_at, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return open_at + 1, i
    raise AssertionError("unbalanced braces in the Swift snippet")


def swift_fields(text: str) -> dict[str, list[tuple[str, str, bool]]]:
    """{struct name: [(field, type, optional)]} of the snippet's Decodable structs (own fields only)."""
    out = {}
    for m in _HEAD.finditer(text):
        a, b = _block(text, m.end() - 1)
        body = text[a:b]
        for inner in reversed(list(_HEAD.finditer(body))):  # drop nested structs
            ia, ib = _block(body, inner.end() - 1)
            body = body[: inner.start()] + body[ib + 1:]
        out[m.group(1)] = [(f, t, bool(o)) for f, t, o in _FIELD.findall(body)]
    return out


def _check(fields, node: dict, where: str, structs) -> list[str]:
    problems = []
    for name, typ, optional in fields:
        if name not in node or node[name] is None:
            if not optional:
                problems.append(f"{where}.{name} (Swift {typ}) is not in the manifest")
            continue
        value = node[name]
        if typ in structs:
            problems += _check(structs[typ], value, f"{where}.{name}", structs)
        elif typ in ("Int",) and not (isinstance(value, int) and not isinstance(value, bool)):
            problems.append(f"{where}.{name} is {value!r}, Swift reads Int")
        elif typ in ("Float", "Double") and not isinstance(value, int | float):
            problems.append(f"{where}.{name} is {value!r}, Swift reads {typ}")
        elif typ == "String" and not isinstance(value, str):
            problems.append(f"{where}.{name} is {value!r}, Swift reads String")
        elif typ.startswith("[") and not isinstance(value, list):
            problems.append(f"{where}.{name} is {value!r}, Swift reads {typ}")
    return problems


def check_swift(manifest: dict) -> list[str]:
    structs = swift_fields(SWIFT.read_text())
    return _check(structs["BundleManifest"], manifest, "manifest", structs)


def test_swift_snippet_reads_only_manifest_keys_that_exist(default_bundle):
    manifest = json.loads((default_bundle / "manifest.json").read_text())
    structs = swift_fields(SWIFT.read_text())
    assert {"BundleManifest", "Input", "Feature", "Normalisation"} <= set(structs)
    assert check_swift(manifest) == []


def test_swift_static_check_fails_on_a_renamed_key(default_bundle):
    manifest = json.loads((default_bundle / "manifest.json").read_text())
    manifest["input"]["normalization"] = manifest["input"].pop("normalisation")
    manifest["feature"]["zero_point"] = "0"
    problems = check_swift(manifest)
    assert "manifest.input.normalisation (Swift Normalisation) is not in the manifest" in problems
    assert any("feature.zero_point" in p and "Int" in p for p in problems)


def test_coreml_artifact_matches_what_the_snippet_feeds(variants_bundle):
    """The snippet feeds a float32 MLMultiArray named manifest.input.name with manifest.input.shape."""
    from hybridsplit.bundle.manifest import load_manifest

    m = load_manifest(variants_bundle)
    coreml = [a for a in m.artifacts.values() if a.format == "coreml"]
    assert len(coreml) == 2  # fp16 and int8-weight packages
    for a in coreml:
        assert (variants_bundle / a.file).exists()
        assert getattr(a, "input_name", None) in (None, m.input.name)
        assert getattr(a, "input_shape", None) in (None, m.input.shape)
        assert a.input_dtype == "float32"
