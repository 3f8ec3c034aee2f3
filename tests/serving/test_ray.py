"""The Ray Serve deployment (local Ray on this machine) answers exactly as the FastAPI server does."""

from __future__ import annotations

import benchmark_scripts
import httpx
import numpy as np
import pytest

from hybridsplit.serving import wire

from needs import need


@pytest.fixture(autouse=True, scope="module")
def _ray_serve_installed():
    try:
        import ray.serve  # noqa: F401
    except ImportError:
        need(False, "Ray Serve", "run `make install` (requirements/extra-serve.txt)")

CT = {"Content-Type": wire.CONTENT_TYPE}


@pytest.fixture(scope="module")
def ray_server(bundle, token):
    from hybridsplit.serving.ray_app import RayServer
    from hybridsplit.serving.server import free_port
    from hybridsplit.serving.settings import HttpLimits, ServeSettings

    limits = HttpLimits(header_timeout_s=2, body_timeout_s=2, keep_alive_s=2, max_connections=20)
    settings = ServeSettings(token=token, max_batch=16, max_wait_ms=2.0, max_body_bytes=4096, http=limits)
    with RayServer(bundle, settings, port=free_port(), replicas=2, num_cpus=2) as url:
        yield url


def _requests(messages, cloud, token):
    """(name, method, path, body, headers): valid features, and each kind of refusal."""
    auth = {"Authorization": f"Bearer {token}", **CT}
    f = cloud.manifest.feature
    shape = (1, *cloud.feature_shape)
    reqs = [(f"valid{i}", "POST", "/v1/predict", m, auth) for i, m in enumerate(messages)]
    reqs += [
        ("truncated", "POST", "/v1/predict", messages[0][:100], auth),
        ("wrong bundle", "POST", "/v1/predict", wire.encode(np.zeros(shape, np.int8), b"\7" * 32, f.scale, f.zero_point), auth),
        ("wrong dtype", "POST", "/v1/predict", wire.encode(np.zeros(shape, np.float16), cloud.bundle_id), auth),
        ("wrong shape", "POST", "/v1/predict", wire.encode(np.zeros((1, 5), np.int8), cloud.bundle_id, f.scale, f.zero_point), auth),
        ("oversized", "POST", "/v1/predict", messages[0] * 8, auth),
        ("no token", "POST", "/v1/predict", messages[0], CT),
        ("wrong token", "POST", "/v1/predict", messages[0], {**CT, "Authorization": "Bearer not-the-token-at-all"}),
        ("wrong type", "POST", "/v1/predict", messages[0], {**auth, "Content-Type": "text/plain"}),
        ("info no token", "GET", "/v1/info", None, {}),
    ]
    return reqs


@pytest.mark.slow
def test_ray_deployment_answers_like_the_fastapi_server(ray_server, live_server, messages, cloud, token):
    answers = {}
    for name, url in (("fastapi", live_server), ("ray", ray_server)):
        with httpx.Client(base_url=url, timeout=60) as c:
            answers[name] = [c.request(method, path, content=body, headers=headers)
                             for _, method, path, body, headers in _requests(messages, cloud, token)]
    for (name, *_), a, b in zip(_requests(messages, cloud, token), answers["fastapi"], answers["ray"], strict=True):
        assert a.status_code == b.status_code, (name, a.text, b.text)
        if name.startswith("valid"):
            assert a.status_code == 200
            pa, pb = a.json()["predictions"], b.json()["predictions"]
            assert [p["index"] for p in pa] == [p["index"] for p in pb]
            np.testing.assert_allclose(pa[0]["probabilities"], pb[0]["probabilities"], atol=1e-6)
        else:
            assert 400 <= a.status_code < 500 and b.json()["detail"]


@pytest.mark.slow
def test_ray_info_health_and_concurrent_batches(ray_server, messages, expected, token, cloud):
    from concurrent.futures import ThreadPoolExecutor

    auth = {"Authorization": f"Bearer {token}", **CT}
    health = httpx.get(f"{ray_server}/v1/health").json()
    assert health == {"status": "ok", "bundle_id": cloud.bundle_id.hex(), "engine": "ray"}
    assert httpx.get(f"{ray_server}/v1/info", headers=auth).json()["bundle_id"] == cloud.bundle_id.hex()
    with httpx.Client(base_url=ray_server, headers=auth, timeout=60) as c, ThreadPoolExecutor(16) as pool:
        got = list(pool.map(lambda m: c.post("/v1/predict", content=m).json()["predictions"][0]["index"], messages))
    assert got == expected


@pytest.mark.slow
def test_ray_proxy_has_the_same_connection_limits_and_json_errors(ray_server, token, messages, expected):
    """Ray Serve's own proxy runs the hardened protocol (ray_proxy.harden): floods, length lies, idle
    sockets and h2c behave as on the FastAPI engine, and the proxy's own errors are JSON."""
    import json

    ab = benchmark_scripts.load("serving_abuse")
    port = int(ray_server.rsplit(":", 1)[1])

    def probe() -> bool:
        r = httpx.post(f"{ray_server}/v1/predict", content=messages[0], timeout=60,
                       headers={"Authorization": f"Bearer {token}", **CT})
        return r.status_code == 200 and r.json()["predictions"][0]["index"] == expected[0]

    assert ab.header_flood(port, 1000) == 431 and ab.huge_header(port, 1 << 20) == 431
    bodies = ab.body_attacks(port, token, 4096, messages[0])
    assert bodies["length_longer_than_body"] == 408 and bodies["chunked_never_ends"] == 408
    assert bodies["declared_oversized"] == 413 and bodies["length_and_chunked"] == 400
    idle = ab.idle_exhaustion(port, 30, 3, probe)
    assert idle["newcomer_status_during"] == 503 and idle["closed_by_server_after_wait"] == 30
    assert idle["probe_after_wait_ok"]
    req = (f"POST /v1/predict HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
           "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n"
           f"Content-Type: {wire.CONTENT_TYPE}\r\nContent-Length: {len(messages[0])}\r\n\r\n").encode()
    status, raw = ab.exchange(port, [req + messages[0]], timeout=60)
    assert status == 200 and json.loads(raw.split(b"\r\n\r\n", 1)[1])["predictions"][0]["index"] == expected[0]
    r = httpx.get(f"{ray_server}/docs")
    assert r.status_code == 404 and r.json()["detail"]
