"""Android demo: the app cannot be built here (no Android SDK offline), so its contract with the
bundle is checked statically — every manifest key, samples key and asset name its Kotlin code
reads must exist (with the type it reads) in a freshly exported bundle."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hybridsplit.demos.android import REQUIRED_PATHS, AndroidCheckError, key_uses, static_check

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "android_demo"
KOTLIN = Path("app/src/main/java/dev/hybridsplit/demo")


def _bundle_with(default_bundle: Path, tmp_path: Path, edit) -> Path:
    """A copy of the bundle's manifest.json (+ device.tflite) with `edit(manifest_dict)` applied."""
    out = tmp_path / "bundle"
    out.mkdir()
    shutil.copy(default_bundle / "device.tflite", out / "device.tflite")
    doc = json.loads((default_bundle / "manifest.json").read_text())
    edit(doc)
    (out / "manifest.json").write_text(json.dumps(doc, indent=2))
    return out


def _app_copy(tmp_path: Path) -> Path:
    dst = tmp_path / "android_demo"
    shutil.copytree(APP, dst, ignore=shutil.ignore_patterns("assets"))
    return dst


def test_android_static_check_passes_on_fresh_bundle(default_bundle, fresh_samples):
    uses = static_check(APP, default_bundle, fresh_samples)
    paths = {u.path for u in uses if u.doc == "manifest"}
    assert set(REQUIRED_PATHS) <= paths
    assert len(uses) >= 20
    assert {"samples", "sample"} <= {u.doc for u in uses}


def test_android_static_check_cli_on_fresh_bundle(default_bundle):
    from hybridsplit.cli import app

    r = CliRunner().invoke(app, ["demo", "android-check", "--bundle", str(default_bundle), "--app", str(APP)])
    assert r.exit_code == 0, r.output
    assert "static check ok" in r.output


def _rename(path: str, new: str):
    def edit(doc):
        *parents, last = path.split("/")
        node = doc
        for p in parents:
            node = node[p]
        node[new] = node.pop(last)
    return edit


@pytest.mark.parametrize("path,new", [
    ("input/quantization/zero_point", "zero_pt"),
    ("feature/scale", "feature_scale"),
    ("input/normalisation", "normalization"),
    ("labels", "classes"),
])
def test_android_static_check_fails_when_manifest_key_renamed(default_bundle, fresh_samples, tmp_path, path, new):
    bundle = _bundle_with(default_bundle, tmp_path, _rename(path, new))
    with pytest.raises(AndroidCheckError) as exc:
        static_check(APP, bundle, fresh_samples)
    msg = str(exc.value)
    assert f"'{path}" in msg and "BundleManifest.kt:" in msg


def test_android_static_check_fails_when_a_key_changes_type(default_bundle, fresh_samples, tmp_path):
    def edit(doc):
        doc["feature"]["zero_point"] = str(doc["feature"]["zero_point"])
        doc["input"]["shape"] = [float(d) for d in doc["input"]["shape"]]
    bundle = _bundle_with(default_bundle, tmp_path, edit)
    with pytest.raises(AndroidCheckError) as exc:
        static_check(APP, bundle, fresh_samples)
    assert "'feature/zero_point' as Int" in str(exc.value)
    assert "'input/shape' as IntArray" in str(exc.value)


def test_android_static_check_fails_when_model_asset_missing(default_bundle, fresh_samples, tmp_path):
    bundle = _bundle_with(default_bundle, tmp_path, lambda doc: None)
    (bundle / "device.tflite").unlink()
    with pytest.raises(AndroidCheckError, match=r'Assets.MODEL = "device.tflite"'):
        static_check(APP, bundle, fresh_samples)


def test_android_static_check_sees_app_changes(default_bundle, fresh_samples, tmp_path):
    """The check reads the app's code: a new key, a renamed asset, a literal asset name, a
    non-literal key are all reported."""
    app = _app_copy(tmp_path)
    src = app / KOTLIN / "BundleManifest.kt"
    text = src.read_text()
    text = text.replace('cut = reqString(manifest, "cut"),', 'cut = reqString(manifest, "split_point"),')
    text = text.replace('const val MODEL = "device.tflite"', 'const val MODEL = "device_int8.tflite"')
    text = text.replace('featureNoise = reqDouble(manifest, "feature/noise"),', 'featureNoise = reqDouble(manifest, NOISE_KEY),')
    src.write_text(text)
    main = app / KOTLIN / "MainActivity.kt"
    main.write_text(main.read_text().replace("assets.open(Assets.MANIFEST)", 'assets.open("manifest.json")'))
    with pytest.raises(AndroidCheckError) as exc:
        static_check(app, default_bundle, fresh_samples)
    msg = str(exc.value)
    assert "'split_point'" in msg
    assert 'Assets.MODEL = "device_int8.tflite"' in msg
    assert 'opens asset "manifest.json" by a literal' in msg
    assert "without a (document, \"path\") literal" in msg


def test_android_static_check_notices_when_scan_finds_nothing(default_bundle, fresh_samples, tmp_path):
    """If the helper names change, the scan must not pass vacuously."""
    app = _app_copy(tmp_path)
    for f in (app / KOTLIN).glob("*.kt"):
        f.write_text(f.read_text().replace("reqIntArray(", "getIntArray(").replace("reqDouble(", "getDoubleValue("))
    with pytest.raises(AndroidCheckError, match="the scan found no read of manifest key 'input/shape'"):
        static_check(app, default_bundle, fresh_samples)


def test_android_static_key_uses_point_at_source_lines():
    uses = key_uses(APP)
    u = next(u for u in uses if u.path == "input/quantization/scale")
    line = (APP / u.file).read_text().splitlines()[u.line - 1]
    assert '"input/quantization/scale"' in line and u.kind == "Double"


def test_android_assets_copies_bundle_and_samples(default_bundle, tmp_path):
    from hybridsplit.cli import app as cli

    app = _app_copy(tmp_path)
    r = CliRunner().invoke(cli, ["demo", "android-assets", "--bundle", str(default_bundle), "--app", str(app), "--n", "7"])
    assert r.exit_code == 0, r.output
    assets = app / "app/src/main/assets"
    for name in ("device.tflite", "manifest.json"):
        assert (assets / name).read_bytes() == (default_bundle / name).read_bytes()
    samples = json.loads((assets / "samples.json").read_text())
    assert samples["bundle_id"] == hashlib.sha256((default_bundle / "manifest.json").read_bytes()).hexdigest()
    assert sorted(s["label"] for s in samples["samples"]) == list(range(7))


def test_android_assets_refuses_a_non_app_folder(default_bundle, tmp_path):
    from hybridsplit.cli import app as cli

    r = CliRunner().invoke(cli, ["demo", "android-assets", "--bundle", str(default_bundle), "--app", str(tmp_path)])
    assert r.exit_code == 2
    assert "is not the Android demo" in r.output
