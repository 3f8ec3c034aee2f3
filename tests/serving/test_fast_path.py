"""The protocol-level predict path (serving/fast_path.py) answers exactly as the ASGI path does.

Two live servers on the same loaded cloud half, one with the fast path and one with every request
sent through ASGI (`BackgroundServer(fast_path=False)`), get the same raw bytes on fresh
connections: good messages, every refusal the gate makes, Expect: 100-continue, HTTP/1.0,
Connection: close, pipelined requests, a body over the limit sent chunked. Their answers must
agree byte for byte (but the Date header and the timing field `cloud_ms`, with the length it
changes), have the expected
statuses, close the connection in the same cases, and be counted the same in /metrics.
"""

from __future__ import annotations

import re
import socket

import httpx
import numpy as np
import orjson
import pytest

from hybridsplit.serving import fast_path, wire

LIMIT = 4096


@pytest.fixture(scope="module")
def servers(bundle, token, cloud):
    from hybridsplit.serving.app import create_app
    from hybridsplit.serving.server import BackgroundServer
    from hybridsplit.serving.settings import ServeSettings

    settings = ServeSettings(token=token, max_batch=8, max_wait_ms=1.0, max_body_bytes=LIMIT)
    with BackgroundServer(create_app(bundle, settings, cloud)) as fast, \
            BackgroundServer(create_app(bundle, settings, cloud), fast_path=False) as asgi:
        yield {"fast": int(fast.rsplit(":", 1)[1]), "asgi": int(asgi.rsplit(":", 1)[1])}


def _request(body: bytes, token: str | None, *, version: str = "1.1", extra: str = "", ctype: str = wire.CONTENT_TYPE,
             length: int | None = None) -> bytes:
    head = f"POST /v1/predict HTTP/{version}\r\nHost: 127.0.0.1\r\nContent-Type: {ctype}\r\n"
    if token is not None:
        head += f"Authorization: Bearer {token}\r\n"
    if "Transfer-Encoding" not in extra:
        head += f"Content-Length: {len(body) if length is None else length}\r\n"
    return (head + extra + "\r\n").encode() + body


def _chunked(body: bytes, size: int) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + size]), body[i:i + size]) for i in range(0, len(body), size)) \
        + b"0\r\n\r\n"


def exchange(port: int, data: bytes, answers: int) -> tuple[list[tuple[int, dict, bytes]], bool]:
    """Send `data` on a fresh connection, read `answers` responses (100 Continue counts as one), and
    say whether the server then closed the connection."""
    out: list[tuple[int, dict, bytes]] = []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)
        buf = b""
        while len(out) < answers:
            while b"\r\n\r\n" not in buf:
                chunk = s.recv(65536)
                if not chunk:
                    return out, True
                buf += chunk
            head, _, buf = buf.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
            length = int(headers.get("content-length", 0))
            while len(buf) < length:
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
            out.append((int(lines[0][9:12]), headers, buf[:length]))
            buf = buf[length:]
        s.settimeout(0.5)
        try:
            closed = s.recv(1) == b""
        except TimeoutError:
            closed = False
    return out, closed


def _comparable(answer: tuple[int, dict, bytes]) -> tuple:
    status, headers, body = answer
    headers = {k: v for k, v in headers.items() if k != "date"}
    assert int(headers.get("content-length", 0)) == len(body)
    if status == 200:  # the timing varies, and with it the body's length
        body = orjson.loads(body)
        body.pop("cloud_ms")
        headers.pop("content-length")
    return status, headers, body


def cases(messages: list[bytes], token: str, cloud) -> dict[str, tuple[bytes, int, list[int]]]:
    """name -> (bytes to send, answers to read, the statuses they must have)."""
    good, other = messages[0], messages[1]
    nan = wire.encode(np.full((1, *cloud.feature_shape), np.nan, np.float32), cloud.bundle_id)
    stranger = wire.encode(np.zeros((1, *cloud.feature_shape), np.int8), bytes(32), 0.5, 0)
    big = good * (LIMIT // len(good) + 1)
    return {
        "good": (_request(good, token), 1, [200]),
        "no token": (_request(good, None), 1, [401]),
        "wrong token": (_request(good, "x" * 26), 1, [401]),
        "content type": (_request(good, token, ctype="text/plain"), 1, [415]),
        "declared too long": (_request(b"", token, length=LIMIT + 1), 1, [413]),
        "chunked too long": (_request(_chunked(big, 1000), token, extra="Transfer-Encoding: chunked\r\n"), 1, [413]),
        "chunked": (_request(_chunked(good, 100), token, extra="Transfer-Encoding: chunked\r\n"), 1, [200]),
        "not a message": (_request(b"x" * 60, token), 1, [400]),
        "another bundle": (_request(stranger, token), 1, [409]),
        "NaN features": (_request(nan, token), 1, [422]),
        "expect 100-continue": (_request(good, token, extra="Expect: 100-continue\r\n"), 2, [100, 200]),
        "HTTP/1.0": (_request(good, token, version="1.0"), 1, [200]),
        "connection close": (_request(good, token, extra="Connection: close\r\n"), 1, [200]),
        "pipelined": (_request(good, token) + _request(other, token) + _request(good, None), 3, [200, 200, 401]),
    }


def test_the_fast_path_answers_every_request_as_the_asgi_path(servers, messages, token, cloud, expected, monkeypatch):
    taken = []
    start = fast_path.PredictCycle.start
    monkeypatch.setattr(fast_path.PredictCycle, "start", lambda self, *a: (taken.append(1), start(self, *a))[1])
    for name, (data, n, statuses) in cases(messages, token, cloud).items():
        before = len(taken)
        fast, fast_closed = exchange(servers["fast"], data, n)
        assert len(taken) > before, f"{name}: the fast server did not take its fast path"
        asgi, asgi_closed = exchange(servers["asgi"], data, n)
        assert [a[0] for a in fast] == statuses, f"{name}: {fast}"
        assert [_comparable(a) for a in fast] == [_comparable(a) for a in asgi], name
        assert fast_closed == asgi_closed, name
        if statuses[-1] == 200:
            assert orjson.loads(fast[-1][2])["predictions"][0]["index"] in (expected[0], expected[1])
    assert len(taken) < sum(n for _, n, _ in cases(messages, token, cloud).values())  # pipelined ones took ASGI

    def predict_counts(port: int) -> list[str]:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
        return re.findall(r'hybridsplit_requests_total\{endpoint="/v1/predict",status="\d+"\} [0-9.e+]+', text)

    counted = predict_counts(servers["fast"])
    assert counted == predict_counts(servers["asgi"]) and len(counted) >= 6  # 200, 400, 401, 409, 413, 415, 422


def test_http10_and_connection_close_answers_close_the_connection(servers, messages, token):
    for data in (_request(messages[0], token, version="1.0"), _request(messages[0], token, extra="Connection: close\r\n")):
        (answer,), closed = exchange(servers["fast"], data, 1)
        assert answer[0] == 200 and answer[1]["connection"] == "close" and closed


def test_a_keep_alive_connection_serves_requests_one_after_another(servers, messages, token, expected):
    with socket.create_connection(("127.0.0.1", servers["fast"]), timeout=10) as s:
        for i in range(5):
            s.sendall(_request(messages[i], token))
            raw = b""
            while b"}" not in raw[-2:]:
                raw += s.recv(65536)
            assert raw.startswith(b"HTTP/1.1 200") and b"connection: close" not in raw
            assert orjson.loads(raw.partition(b"\r\n\r\n")[2])["predictions"][0]["index"] == expected[i]


def test_a_client_that_never_reads_its_answers_cannot_grow_the_servers_buffer(bundle, token, cloud, messages):
    """Requests sent one by one, each answered before the next arrives, without reading the answers
    (a slow attacker): once the server's transport pauses writing, the next request takes ASGI, whose
    send waits for the client to drain, and the connection's later requests stay unread. The answers
    held in the server stay bounded while the client offers 400 requests."""
    import time

    from hybridsplit.serving.app import create_app
    from hybridsplit.serving.server import BackgroundServer
    from hybridsplit.serving.settings import ServeSettings

    app = create_app(bundle, ServeSettings(token=token, max_batch=8, max_wait_ms=0), cloud)
    server = BackgroundServer(app)
    request = _request(messages[0], token)
    with server, socket.socket() as s:
        for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):  # small kernel buffers: what piles up is the server's
            s.setsockopt(socket.SOL_SOCKET, option, 4096)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # one request per segment: none pipelined
        s.connect(("127.0.0.1", server.port))
        deadline = time.monotonic() + 10
        while not server.server.server_state.connections and time.monotonic() < deadline:
            time.sleep(0.01)
        conn = next(iter(server.server.server_state.connections))
        for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
            conn.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, option, 4096)
        s.setblocking(False)
        sent, blocked, deadline = 0, 0, time.monotonic() + 20
        while sent < 400 and time.monotonic() < deadline:
            offset = 0
            while offset < len(request) and time.monotonic() < deadline:
                try:
                    offset += s.send(request[offset:])
                except BlockingIOError:  # the server stopped reading this connection
                    blocked += 1
                    time.sleep(0.01)
            sent += offset == len(request)
            time.sleep(0.015)  # answered before the next one arrives: not pipelined
        buffered = conn.transport.get_write_buffer_size()
        answered = sum(n for (path, _), n in app.state.metrics.request_stats.counts.items() if path == "/v1/predict")
    assert buffered < 100_000, f"{buffered} bytes of answers held for a client that does not read"
    assert blocked and answered < 250, "the server kept reading requests whose answers nobody read"
