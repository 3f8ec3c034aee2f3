"""Web demo: device.tflite in LiteRT.js inside real headless Chromium (Debian's), features sent to a
real `hybridsplit serve` on 127.0.0.1; the page's prediction must equal the Python client's."""

from __future__ import annotations

import hashlib

import httpx
import numpy as np
import pytest

from hybridsplit.demos.samples import sample_array

from .conftest import TOKEN, browse, litert_log


def test_demo_site_serves_only_the_demo(web_site, default_bundle):
    url, _ = web_site
    with httpx.Client(base_url=url, timeout=10) as c:
        page = c.get("/")
        assert page.status_code == 200 and "importmap" in page.text
        assert c.get("/bundle/manifest.json").content == (default_bundle / "manifest.json").read_bytes()
        assert c.get("/bundle/device.tflite").content == (default_bundle / "device.tflite").read_bytes()
        wasm = c.get("/vendor/@litertjs/core/wasm/litert_wasm_internal.wasm")
        assert wasm.status_code == 200 and wasm.headers["content-type"] == "application/wasm"
        samples = c.get("/bundle/samples.json").json()
        assert samples["bundle_id"] == hashlib.sha256((default_bundle / "manifest.json").read_bytes()).hexdigest()
        for bad in ("/bundle/../manifest.json", "/bundle/checkpoint.pt", "/vendor/@litertjs/../../package.json",
                    "/pyproject.toml", "/e2e/browse.mjs", "/node_modules/@litertjs/core/package.json"):
            assert c.get(bad).status_code == 404, bad
        assert c.post("/bundle/manifest.json", content=b"x").status_code == 405
        assert "token" not in c.get("/config.json").text


@pytest.mark.slow
def test_web_demo_prediction_equals_python_client(web_site, cloud_server, default_bundle):
    """One sample per class through the page (select + click in Chromium) and through
    DeviceRunner + CloudClient: same int8 features byte for byte, same class, shown on the page."""
    from hybridsplit.serving.client import CloudClient, DeviceRunner

    url, _ = web_site
    samples = httpx.get(f"{url}/bundle/samples.json", timeout=10).json()
    picks = sorted({s["label"]: i for i, s in enumerate(samples["samples"])}.values())
    out = browse({"mode": "demo", "url": f"{url}/?server={cloud_server}#token={TOKEN}", "samples": picks})
    assert out["status"] == "ready", out["status"]
    assert out["crossOriginIsolated"] is True  # COOP/COEP from demos/web.py: 5 µs timer resolution
    assert out["pageErrors"] == [] and out["failedRequests"] == []
    errors = [c["text"] for c in out["console"] if c["type"] == "error" and not litert_log(c["text"])]
    assert errors == []

    device = DeviceRunner(default_bundle)
    with CloudClient(cloud_server, TOKEN) as cloud:
        for i, run in zip(picks, out["runs"], strict=True):
            assert "error" not in run, run.get("error")
            raw = sample_array(samples, i)
            features = device.features(device.normalise(raw))
            np.testing.assert_array_equal(np.asarray(run["features"], np.int8), features.ravel())
            message = device.encode(features)
            assert run["bytes"] == len(message)
            answer = cloud.predict(message)
            assert run["index"] == answer.index[0] and run["label"] == answer.labels[0]
            assert run["shownIndex"] == str(answer.index[0]) and answer.labels[0] in run["shown"]
            assert run["deviceMs"] > 0, "on-device time read 0 (timer too coarse?)"
            assert run["cloudMs"] > 0
    # the model is good: the page gets most of one-per-class right
    right = sum(run["index"] == samples["samples"][i]["label"] for i, run in zip(picks, out["runs"], strict=True))
    assert right >= len(picks) - 1


@pytest.mark.slow
def test_web_demo_reports_a_wrong_token(web_site, cloud_server):
    url, _ = web_site
    out = browse({"mode": "demo", "url": f"{url}/?server={cloud_server}#token=wrong-token-0123456789", "samples": [0]})
    assert out["status"] == "ready"
    assert "401" in out["runs"][0]["error"] and "wrong bearer token" in out["runs"][0]["error"]
