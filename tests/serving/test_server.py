"""The FastAPI server over real HTTP on 127.0.0.1: end to end, auth, limits, metrics, CORS."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest

from hybridsplit.serving import wire

CT = {"Content-Type": wire.CONTENT_TYPE}


@pytest.mark.slow
def test_end_to_end_accuracy_equals_the_bundles_int8_accuracy(live_server, bundle, token, watch_data):
    """device.tflite (LiteRT) -> wire -> HTTP -> cloud.onnx, on every test window."""
    from hybridsplit.bundle.manifest import load_manifest
    from hybridsplit.serving.client import run_client

    report = run_client(bundle, live_server, token)
    manifest = load_manifest(bundle)
    assert report.samples == len(watch_data.test)
    if manifest.feature.noise == 0:
        assert report.accuracy == manifest.accuracy["tflite_int8"]
    else:  # the device adds noise the export's accuracy did not: compare with the same noisy run in-process
        from hybridsplit.serving.client import DeviceRunner
        from hybridsplit.serving.cloud import CloudHalf

        dev, cloud = DeviceRunner(bundle, seed=0), CloudHalf(bundle)
        local = [int(cloud.probabilities(cloud.parse(dev.message(x))).argmax(1)[0]) for x in watch_data.test.x]
        assert report.accuracy == float((local == watch_data.test.primary).mean())
    assert report.bytes_per_request == wire.HEADER.size + 4 * 3 + manifest.feature.bytes_per_inference
    assert report.device.p50_ms > 0 and report.cloud.p50_ms > 0


def test_concurrent_predictions_match_the_cloud_half_in_process(http, messages, expected, cloud):
    def send(body):
        r = http.post("/v1/predict", content=body, headers=CT)
        assert r.status_code == 200, r.text
        return r.json()

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(send, messages))
    from hybridsplit.serving.schemas import PredictResponse

    for ans, exp, body in zip(answers, expected, messages, strict=True):
        PredictResponse.model_validate(ans)
        (pred,) = ans["predictions"]
        assert pred["index"] == exp and pred["label"] == cloud.labels[exp]
        assert abs(sum(pred["probabilities"]) - 1) < 1e-4
        np.testing.assert_allclose(pred["probabilities"], cloud.probabilities(cloud.parse(body))[0], atol=1e-6)
        assert ans["bundle_id"] == cloud.bundle_id.hex() and ans["cloud_ms"] >= 0


def test_several_features_in_one_request(http, device, watch_data, cloud):
    q = np.concatenate([device.features(watch_data.test.x[i]) for i in range(3)])
    r = http.post("/v1/predict", content=device.encode(q), headers=CT)
    assert r.status_code == 200
    assert [p["index"] for p in r.json()["predictions"]] == list(cloud.probabilities(cloud.parse(device.encode(q))).argmax(1))


@pytest.mark.parametrize("auth", [None, "Bearer wrong-token-0123456789", "Basic dXNlcjpwYXNz", "Bearer", "Token test-token-0123456789abcdef"])
def test_missing_or_wrong_token_is_401(live_server, messages, auth):
    headers = {**CT, **({"Authorization": auth} if auth is not None else {})}
    r = httpx.post(f"{live_server}/v1/predict", content=messages[0], headers=headers)
    assert r.status_code == 401
    assert "bearer" in r.json()["detail"].lower() and r.headers["www-authenticate"].startswith("Bearer")
    assert httpx.get(f"{live_server}/v1/info", headers=headers).status_code == 401


def test_health_needs_no_token_and_names_the_bundle(live_server, cloud):
    r = httpx.get(f"{live_server}/v1/health")
    assert r.status_code == 200 and r.json() == {"status": "ok", "bundle_id": cloud.bundle_id.hex(), "engine": "fastapi"}


def test_info(http, cloud):
    info = http.get("/v1/info").json()
    assert info["bundle_id"] == cloud.bundle_id.hex()
    assert info["feature"]["dtype"] == "int8" and info["max_body_bytes"] == 4096


def test_oversized_bodies_are_413_declared_or_streamed(http, messages):
    big = messages[0] * 8  # 6.6 KiB > 4 KiB limit
    r = http.post("/v1/predict", content=big, headers=CT)
    assert r.status_code == 413 and "4096" in r.json()["detail"]
    r = http.post("/v1/predict", content=iter([big[:3000], big[3000:]]), headers=CT)  # chunked, no Content-Length
    assert r.status_code == 413
    assert http.post("/v1/predict", content=messages[0], headers=CT).status_code == 200


def test_wrong_content_type_is_415_and_wrong_method_405(http, messages):
    assert http.post("/v1/predict", content=messages[0], headers={"Content-Type": "application/json"}).status_code == 415
    assert http.get("/v1/predict").status_code == 405
    assert http.post("/v1/predict", content=messages[0]).status_code == 200  # no type: taken as wire bytes


def test_metrics_count_requests_latency_and_batches(http, live_server, messages):
    for m in messages[:5]:
        http.post("/v1/predict", content=m, headers=CT)
    httpx.post(f"{live_server}/v1/predict", content=messages[0])  # 401
    text = httpx.get(f"{live_server}/metrics").text

    def value(pattern: str) -> float:
        m = re.search(pattern + r" ([0-9.e+]+)", text)
        assert m, pattern
        return float(m.group(1))

    assert value(r'hybridsplit_requests_total\{endpoint="/v1/predict",status="200"\}') >= 5
    assert value(r'hybridsplit_requests_total\{endpoint="/v1/predict",status="401"\}') >= 1
    assert value(r'hybridsplit_request_latency_seconds_count\{endpoint="/v1/predict"\}') >= 6
    assert value(r"hybridsplit_batch_size_count") >= 1
    assert value(r"hybridsplit_batch_size_sum") >= 5
    assert value(r"hybridsplit_predicted_items_total") >= 5


def test_cors_preflight_for_the_configured_origin_only(live_server):
    req = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type"}
    ok = httpx.options(f"{live_server}/v1/predict", headers={"Origin": "http://127.0.0.1:8080", **req})
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == "http://127.0.0.1:8080"
    bad = httpx.options(f"{live_server}/v1/predict", headers={"Origin": "http://evil.example", **req})
    assert bad.status_code == 400 and "access-control-allow-origin" not in bad.headers


def test_cors_headers_on_the_actual_predict_answer(http, messages):
    r = http.post("/v1/predict", content=messages[0], headers={**CT, "Origin": "http://127.0.0.1:8080"})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "http://127.0.0.1:8080"
    r = http.post("/v1/predict", content=b"x", headers={**CT, "Origin": "http://127.0.0.1:8080"})
    assert r.status_code == 400 and r.headers["access-control-allow-origin"] == "http://127.0.0.1:8080"


def test_device_and_browser_requests_take_two_routes_to_one_answer_counted_once(http, live_server, messages,
                                                                                expected):
    """Device requests skip the middleware stack (app.CloudApp); browser ones (Origin) go through it.
    Both must answer the same and each must be counted exactly once in /metrics."""

    def predict_count() -> float:
        text = httpx.get(f"{live_server}/metrics").text
        m = re.search(r'hybridsplit_requests_total\{endpoint="/v1/predict",status="200"\} ([0-9.e+]+)', text)
        return float(m.group(1)) if m else 0.0

    before = predict_count()
    direct = http.post("/v1/predict", content=messages[1], headers=CT)
    browser = http.post("/v1/predict", content=messages[1], headers={**CT, "Origin": "http://127.0.0.1:8080"})
    assert "access-control-allow-origin" not in direct.headers  # it did not pass CORSMiddleware
    assert browser.headers["access-control-allow-origin"] == "http://127.0.0.1:8080"
    for r in (direct, browser):
        assert r.status_code == 200 and r.json()["predictions"][0]["index"] == expected[1]
    assert direct.json()["predictions"][0]["probabilities"] == browser.json()["predictions"][0]["probabilities"]
    assert predict_count() - before == 2


def test_latency_histogram_is_cumulative_and_matches_the_request_count(http, live_server, messages):
    for m in messages[:3]:
        http.post("/v1/predict", content=m, headers=CT)
    text = httpx.get(f"{live_server}/metrics").text
    buckets = [float(v) for v in re.findall(
        r'hybridsplit_request_latency_seconds_bucket\{endpoint="/v1/predict",le="[^"]+"\} ([0-9.e+]+)', text)]
    count = float(re.search(r'hybridsplit_request_latency_seconds_count\{endpoint="/v1/predict"\} ([0-9.e+]+)',
                            text).group(1))
    answered = sum(float(v) for v in re.findall(
        r'hybridsplit_requests_total\{endpoint="/v1/predict",status="\d+"\} ([0-9.e+]+)', text))
    assert len(buckets) == 14 and buckets == sorted(buckets)  # 13 bounds + le="+Inf", cumulative
    assert buckets[-1] == count == answered >= 3


def test_a_failing_model_call_is_a_500_with_a_detail_and_the_server_keeps_serving(bundle, token, messages, expected):
    from hybridsplit.serving.app import create_app
    from hybridsplit.serving.cloud import CloudHalf
    from hybridsplit.serving.server import BackgroundServer
    from hybridsplit.serving.settings import ServeSettings

    class FailOnce(CloudHalf):
        failed = False

        def probabilities(self, x):
            if not self.failed:
                self.failed = True
                raise RuntimeError("simulated ONNX Runtime failure")
            return super().probabilities(x)

    app = create_app(bundle, ServeSettings(token=token, max_batch=1), cloud=FailOnce(bundle))
    with BackgroundServer(app) as url, httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"},
                                                    timeout=30) as http:
        bad = http.post("/v1/predict", content=messages[0], headers=CT)
        assert bad.status_code == 500 and "cloud half failed" in bad.json()["detail"]
        good = http.post("/v1/predict", content=messages[0], headers=CT)
        assert good.status_code == 200 and good.json()["predictions"][0]["index"] == expected[0]
        assert 'hybridsplit_requests_total{endpoint="/v1/predict",status="500"} 1.0' in http.get("/metrics").text
