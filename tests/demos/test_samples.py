"""Sample windows for the demos, and the preprocessing reference the demos must match."""

from __future__ import annotations

import json

import numpy as np
from typer.testing import CliRunner

from hybridsplit.bundle.manifest import load_manifest
from hybridsplit.demos.samples import export_samples, load_samples, preprocess, sample_array


def test_samples_cover_every_class_in_raw_units(default_bundle, watch_data, fresh_samples):
    doc = fresh_samples
    labels = [s["label"] for s in doc["samples"]]
    assert sorted(labels) == sorted(list(range(7)) * 2)
    m = load_manifest(default_bundle)
    for i, s in enumerate(doc["samples"]):
        raw = sample_array(doc, i)
        assert raw.shape == tuple(m.input.shape)
        norm = m.input.normalisation
        back = (raw - np.asarray(norm.mean, np.float32)[None, :, None]) / np.asarray(norm.std, np.float32)[None, :, None]
        np.testing.assert_allclose(back[0], watch_data.test.x[s["index"]], atol=2e-4)
        assert s["label"] == int(watch_data.test.primary[s["index"]])


def test_preprocess_is_what_the_python_client_feeds_the_model(default_bundle, fresh_samples):
    """The demos reproduce `preprocess`; it must equal the Python client's normalise + quantize."""
    from hybridsplit.bundle.preprocess import quantize
    from hybridsplit.serving.client import DeviceRunner

    device = DeviceRunner(default_bundle)
    q = device.manifest.input.quantization
    for i in range(len(fresh_samples["samples"])):
        raw = sample_array(fresh_samples, i)
        ours = preprocess(raw, device.manifest)
        theirs = quantize(device.normalise(raw), q.scale, q.zero_point)
        np.testing.assert_array_equal(ours, theirs)
        np.testing.assert_array_equal(device.runner.raw(ours), device.features(device.normalise(raw)))


def test_samples_command_writes_a_readable_file(default_bundle, tmp_path):
    from hybridsplit.cli import app

    out = tmp_path / "s.json"
    r = CliRunner().invoke(app, ["demo", "samples", "--bundle", str(default_bundle), "--out", str(out), "--n", "3"])
    assert r.exit_code == 0, r.output
    doc = load_samples(out)
    assert len(doc["samples"]) == 3 and doc["shape"] == [1, 6, 100]
    assert json.loads(out.read_text())["format"] == "hybridsplit-samples/1"


def test_samples_need_a_bundle(tmp_path):
    from hybridsplit.cli import app

    r = CliRunner().invoke(app, ["demo", "samples", "--bundle", str(tmp_path / "nope")])
    assert r.exit_code == 2 and "No manifest.json" in r.output
    assert export_samples.__doc__


def test_samples_follow_a_channels_last_bundle(default_bundle, tmp_path):
    """A channels-last device model (e.g. the onnx2tf route: NWC) gets its samples in NWC, and the
    same preprocessing gives the transposed int8 tensor."""
    doc = json.loads((default_bundle / "manifest.json").read_text())
    c, t = doc["input"]["shape"][1:]
    doc["input"].update(shape=[1, t, c], layout="NWC")
    doc["input"]["normalisation"]["axis"] = 2
    out = tmp_path / "nwc"
    out.mkdir()
    (out / "manifest.json").write_text(json.dumps(doc))
    ncw, nwc = export_samples(default_bundle, 3), export_samples(out, 3)
    assert nwc["shape"] == [1, t, c] and nwc["layout"] == "NWC"
    m_ncw, m_nwc = load_manifest(default_bundle), load_manifest(out)
    for i in range(3):
        a, b = sample_array(ncw, i), sample_array(nwc, i)
        np.testing.assert_allclose(np.transpose(b, (0, 2, 1)), a, atol=1e-5)
        np.testing.assert_array_equal(np.transpose(preprocess(b, m_nwc), (0, 2, 1)), preprocess(a, m_ncw))
