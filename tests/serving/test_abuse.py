"""The attacks of benchmarks/serving_abuse.py at small sizes, against a live server with short limits
(1 s timeouts, 20 connections): each gets its refusal as JSON, and real messages keep their answers.
Memory is measured by the benchmark (`python benchmarks/serving_abuse.py`), not here."""

from __future__ import annotations

import json

import benchmark_scripts
import httpx
import pytest

LIMIT = 4096


@pytest.fixture(scope="module")
def ab():
    return benchmark_scripts.load("serving_abuse")


@pytest.fixture(scope="module")
def limits():
    from hybridsplit.serving.settings import HttpLimits

    return HttpLimits(header_timeout_s=1, body_timeout_s=1, keep_alive_s=1, max_connections=20)


@pytest.fixture(scope="module")
def strict_server(bundle, token, limits):
    from hybridsplit.serving.app import create_app
    from hybridsplit.serving.server import BackgroundServer
    from hybridsplit.serving.settings import ServeSettings

    settings = ServeSettings(token=token, max_batch=8, max_body_bytes=LIMIT, http=limits,
                             cors_origins=("http://127.0.0.1:8080",))
    with BackgroundServer(create_app(bundle, settings)) as url:
        yield url, int(url.rsplit(":", 1)[1])


@pytest.fixture()
def probe(strict_server, token, messages, expected):
    url, _ = strict_server

    def check() -> bool:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10) as c:
            return all(c.post("/v1/predict", content=m).json()["predictions"][0]["index"] == e
                       for m, e in zip(messages[:3], expected[:3], strict=True))
    return check


def test_header_floods_get_431(ab, strict_server, probe):
    _, port = strict_server
    assert ab.header_flood(port, 1000) == 431
    assert ab.huge_header(port, 1 << 20) == 431
    assert ab.parallel_huge_headers(port, 4, 1 << 20) == [431] * 4
    status, raw = ab.exchange(port, [b"GET /v1/health?" + b"q" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"])
    assert status == 414 and json.loads(raw.split(b"\r\n\r\n", 1)[1])["detail"]
    assert probe()


def test_slowloris_connections_get_408_and_others_are_served_meanwhile(ab, strict_server, probe, limits):
    _, port = strict_server
    r = ab.slowloris(port, 5, 0.25, limits.header_timeout_s + 3, probe)
    assert r["closed"] == 5 and r["statuses"] == ["408"] and r["probes_ok"]


def test_idle_connections_past_the_limit_get_503_and_are_closed_after_the_timeout(ab, strict_server, probe, limits):
    _, port = strict_server
    r = ab.idle_exhaustion(port, 30, limits.header_timeout_s + 1, probe)
    assert r["newcomer_status_during"] == 503 and "limit of 20 connections" in r["newcomer_body_during"]
    assert r["answered_503_at_once"] >= 10  # 30 opened, at most 20 held
    assert r["closed_by_server_after_wait"] == 30 and r["probe_after_wait_ok"]


def test_chunked_and_oversized_bodies_and_length_lies(ab, strict_server, token, messages, probe):
    _, port = strict_server
    assert ab.body_attacks(port, token, LIMIT, messages[0]) == {
        "declared_oversized": 413, "chunked_oversized": 413, "chunked_never_ends": 408,
        "length_longer_than_body": 408, "length_shorter_than_body": [200, 400], "length_and_chunked": 400,
        "negative_length": 400}
    assert probe()


def test_h2c_upgrade_is_served_as_http11(ab, strict_server, token, messages, expected):
    """What `curl --http2 http://…` sends: Upgrade: h2c with HTTP2-Settings; the body must not be lost."""
    _, port = strict_server
    req = (f"POST /v1/predict HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
           "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n"
           f"Content-Type: application/x-hybridsplit-features\r\nContent-Length: {len(messages[0])}\r\n\r\n").encode()
    status, raw = ab.exchange(port, [req, messages[0][:100], messages[0][100:]], pause=0.05)  # body in pieces
    assert status == 200, raw[:300]
    assert json.loads(raw.split(b"\r\n\r\n", 1)[1])["predictions"][0]["index"] == expected[0]


def test_api_docs_are_off_and_every_error_is_json(strict_server):
    url, _ = strict_server
    for path in ("/docs", "/redoc", "/openapi.json", "/nope"):
        r = httpx.get(url + path)
        assert r.status_code == 404 and r.json() == {"detail": "Not Found"}
    r = httpx.post(url + "/v1/health")
    assert r.status_code == 405 and r.json()["detail"]
    preflight = {"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"}
    r = httpx.options(url + "/v1/predict", headers=preflight)  # Starlette's CORS refusal is plain text
    assert r.status_code == 400 and r.headers["content-type"] == "application/json" and "CORS" in r.json()["detail"]


def test_curl_http2_on_plain_http_gets_the_answer(strict_server, token, messages, expected, tmp_path):
    """The real `curl --http2` on http:// (it sends Upgrade: h2c); before, the body was lost (400)."""
    import shutil
    import subprocess

    from needs import need

    need(shutil.which("curl") is not None, "curl", "apt-get install curl")
    url, _ = strict_server
    body = tmp_path / "msg.bin"
    body.write_bytes(messages[0])
    r = subprocess.run(["curl", "-s", "--http2", "-H", f"Authorization: Bearer {token}", "-H",
                        "Content-Type: application/x-hybridsplit-features", "--data-binary", f"@{body}",
                        f"{url}/v1/predict"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and json.loads(r.stdout)["predictions"][0]["index"] == expected[0], r.stdout


def test_an_early_refusal_is_the_only_answer_while_a_body_dribbles(ab, strict_server, messages):
    """No token, body short of its length: the 401 goes out at once, and the body timeout then closes
    the connection without a second (408) answer to the same request."""
    _, port = strict_server
    head = (b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-hybridsplit-features\r\n"
            b"Content-Length: %d\r\n\r\n" % (len(messages[0]) + 50))
    with ab.socket.create_connection((ab.HOST, port), timeout=10) as s:
        s.sendall(head + messages[0][:100])
        s.settimeout(10)
        raw = b""
        while chunk := s.recv(65536):  # until the server closes (body timeout, 1 s)
            raw += chunk
    assert ab._status(raw) == 401 and raw.count(b"HTTP/1.1 ") == 1, raw


def test_a_websocket_upgrade_is_answered_as_plain_http(ab, strict_server):
    _, port = strict_server
    status, raw = ab.exchange(port, [b"GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
                                     b"Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                                     b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"])
    assert status == 200 and json.loads(raw.split(b"\r\n\r\n", 1)[1])["status"] == "ok"
