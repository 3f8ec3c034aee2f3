"""At start the manifest is cross-checked against cloud.onnx: a manifest edited but still valid JSON is
refused with one BundleError line (exit 2 from the CLI), not served wrongly."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from hybridsplit.errors import BundleError
from hybridsplit.serving.server import free_port


def _edit(src: Path, dst: Path, change) -> Path:
    shutil.copytree(src, dst)
    m = json.loads((dst / "manifest.json").read_text())
    change(m)
    (dst / "manifest.json").write_text(json.dumps(m))  # NaN is written as NaN, which json and pydantic read
    return dst


def _tamper_cloud(m: dict, dst: Path) -> None:
    del m["files"]["cloud.onnx"]
    data = bytearray((dst / "cloud.onnx").read_bytes())
    data[-64:] = bytes(64)  # weights at the end of the file
    (dst / "cloud.onnx").write_bytes(bytes(data))


def _drop_device_file(m: dict) -> None:
    del m["files"]["device.tflite"]


EDITS = {
    "feature shape": (lambda m: m["feature"].update(shape=[1, 32, 24]), "cloud.onnx takes"),
    "labels cut to 3": (lambda m: m.update(labels=m["labels"][:3]), "3 labels"),
    "labels emptied": (lambda m: m.update(labels=[]), "labels"),
    "scale NaN": (lambda m: m["feature"].update(scale=math.nan), "feature.scale"),
    "scale negative": (lambda m: m["feature"].update(scale=-0.5), "feature.scale"),
    "zero point out of int8": (lambda m: m["feature"].update(zero_point=200), "zero_point"),
    "device artifact not in files": (_drop_device_file, "device.tflite"),
}


@pytest.mark.parametrize("name", list(EDITS))
def test_an_edited_manifest_is_refused_in_one_line(bundle, tmp_path, name):
    from hybridsplit.serving.cloud import CloudHalf

    change, says = EDITS[name]
    edited = _edit(bundle, tmp_path / "b", change)
    with pytest.raises(BundleError) as err:
        CloudHalf(edited)
    msg = str(err.value)
    assert says in msg and "\n" not in msg and "re-export" in msg, msg


def test_cloud_onnx_dropped_from_files_with_tampered_weights_is_refused(bundle, tmp_path):
    from hybridsplit.serving.cloud import CloudHalf

    dst = tmp_path / "b"
    shutil.copytree(bundle, dst)
    m = json.loads((dst / "manifest.json").read_text())
    _tamper_cloud(m, dst)
    (dst / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(BundleError, match="cloud.onnx is not listed in `files`"):
        CloudHalf(dst)


def test_serve_on_an_edited_manifest_exits_2_with_one_line(bundle, tmp_path, token):
    edited = _edit(bundle, tmp_path / "b", EDITS["labels cut to 3"][0])
    env = {**os.environ, "HYBRIDSPLIT_TOKEN": token, "TF_CPP_MIN_LOG_LEVEL": "3"}
    r = subprocess.run([sys.executable, "-m", "hybridsplit.cli", "serve", "--bundle", str(edited), "--port",
                        str(free_port())], env=env, capture_output=True, text=True, timeout=120)
    out = (r.stdout + r.stderr).strip()
    assert r.returncode == 2 and "Traceback" not in out, out
    assert len(out.splitlines()) == 1 and "3 labels" in out, out


def test_the_unedited_bundle_passes_the_cross_check(cloud):
    assert cloud.feature_range is not None and cloud.feature_range[0] < 0 < cloud.feature_range[1]


def test_a_written_bundle_is_readable_by_others(tmp_path):
    """mkdtemp makes 0700 directories: the bundle is published 0755 / 0644 (a service account, another
    Ray node). A real bundle layout: files and a Core ML package directory."""
    from hybridsplit.exporters.bundle import write_bundle_atomically

    work = Path(tempfile.mkdtemp(prefix=".b.tmp-", dir=tmp_path))
    (work / "manifest.json").write_text("{}")
    (work / "device.mlpackage" / "Data").mkdir(parents=True)
    (work / "device.mlpackage" / "Data" / "model.mlmodel").write_bytes(b"x")
    os.chmod(work / "manifest.json", 0o600)
    out = tmp_path / "bundle"
    write_bundle_atomically(work, out)
    modes = {p.relative_to(out).as_posix(): p.stat().st_mode & 0o777 for p in [out, *out.rglob("*")]}
    assert modes == {".": 0o755, "manifest.json": 0o644, "device.mlpackage": 0o755, "device.mlpackage/Data": 0o755,
                     "device.mlpackage/Data/model.mlmodel": 0o644}
