"""Abuse `hybridsplit serve` on loopback with bounded loops; the server must refuse, stay up, and give memory back.

    python benchmarks/serving_abuse.py --bundle bundles/default

Starts `hybridsplit serve` (default limits: 64 headers, 16 KiB of head, 10 s to finish headers, 10 s to
finish a body, 5 s keep-alive) in a subprocess whose descriptor limit is 256 (`ulimit -n`, so the
connection limit is fitted to 192), then runs each attack once, every loop bounded by a count and a
deadline: header floods (100,000 headers; one 16 MiB header; 8 parallel 64 MiB headers), slowloris (50
connections dribbling a header line a second), idle-connection exhaustion (300 idle sockets), chunked
and oversized bodies, and length lies. Between attacks real device messages are sent and must get
the class the cloud half gives them here. Server RSS is read before, sampled during (peak), and read
after; the run passes when every attack got its refusal, the server never died, all probes were
right, and RSS after is within 50 MB of before. Writes JSON to --out.
`tests/serving/test_abuse.py` runs the same attacks at small sizes with short timeouts.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import secrets
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"


def _status(raw: bytes) -> int | None:
    """The status code of the first response in raw bytes, or None when none came."""
    return int(raw[9:12]) if raw.startswith(b"HTTP/1.") and len(raw) >= 12 else None


def _read(sock: socket.socket, timeout: float) -> bytes:
    sock.settimeout(timeout)
    out = b""
    try:
        while b"\r\n\r\n" not in out or len(out) < out.index(b"\r\n\r\n") + 4 + _length(out):
            d = sock.recv(65536)
            if not d:
                break
            out += d
    except OSError:
        pass
    return out


def _length(raw: bytes) -> int:
    for line in raw.split(b"\r\n\r\n")[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":")[1])
    return 0


def exchange(port: int, chunks, timeout: float = 30.0, pause: float = 0.0) -> tuple[int | None, bytes]:
    """Send the chunks on a fresh connection (stopping when the server closes it), then read one answer."""
    with socket.create_connection((HOST, port), timeout=timeout) as s:
        try:
            for c in chunks:
                s.sendall(c)
                if pause:
                    time.sleep(pause)
        except OSError:  # the server refused and closed mid-send: its answer is in the receive buffer
            pass
        raw = _read(s, timeout)
    return _status(raw), raw


def header_flood(port: int, headers: int) -> int | None:
    """`headers` header lines, streamed 4,096 at a time."""
    lines = (b"X-Flood-%d: x\r\n" % i for i in range(headers))
    head = [b"GET /v1/health HTTP/1.1\r\nHost: x\r\n"]
    batch = []
    for line in lines:
        batch.append(line)
        if len(batch) == 4096:
            head.append(b"".join(batch))
            batch = []
    return exchange(port, [*head, b"".join(batch) + b"\r\n"])[0]


def huge_header(port: int, size: int) -> int | None:
    """One header of `size` bytes, streamed in 1 MiB pieces (not built in memory)."""
    piece = b"a" * min(size, 1 << 20)
    chunks = [b"GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Big: "] + [piece] * (size // len(piece)) + [b"\r\n\r\n"]
    return exchange(port, chunks)[0]


def parallel_huge_headers(port: int, k: int, size: int) -> list[int | None]:
    with ThreadPoolExecutor(k) as pool:
        return list(pool.map(lambda _: huge_header(port, size), range(k)))


def slowloris(port: int, conns: int, interval: float, limit_s: float, probe) -> dict:
    """`conns` connections each sending one header line every `interval` s; bounded by `limit_s`.
    Returns how each ended (status answered, or None) and whether probes kept succeeding meanwhile."""
    socks = [socket.create_connection((HOST, port)) for _ in range(conns)]
    for s in socks:
        s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n")
        s.setblocking(False)
    answers: dict[int, int | None] = {}
    probes_ok, t0 = [], time.monotonic()
    while len(answers) < conns and time.monotonic() - t0 < limit_s:
        for i, s in enumerate(socks):
            if i in answers:
                continue
            try:
                s.sendall(b"X-Slow: x\r\n")
            except OSError:  # closed by the server: collect its answer
                answers[i] = _status(_read(s, 1.0))
        probes_ok.append(probe())
        time.sleep(interval)
    for i, s in enumerate(socks):
        if i not in answers:
            try:
                s.setblocking(True)
                raw = _read(s, 0.5)
                if raw:
                    answers[i] = _status(raw)
            except OSError:
                pass
        s.close()
    return {"closed": len(answers), "statuses": sorted({str(v) for v in answers.values()}),
            "seconds": time.monotonic() - t0, "probes_ok": all(probes_ok) and bool(probes_ok)}


def idle_exhaustion(port: int, conns: int, wait_s: float, probe) -> dict:
    """`conns` idle connections; what a newcomer gets while they are open, and after `wait_s`."""
    socks, refused = [], 0
    for _ in range(conns):
        try:
            socks.append(socket.create_connection((HOST, port), timeout=5))
        except OSError:
            refused += 1
    time.sleep(0.5)
    status_during, raw = exchange(port, [b"GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"], 10)
    answered_503 = sum(_status(_read(s, 0.2)) == 503 for s in socks)
    time.sleep(wait_s)
    after = probe()
    closed = 0
    for s in socks:
        try:
            s.settimeout(0.2)
            closed += s.recv(1) == b""
        except OSError:
            closed += 1
        s.close()
    return {"opened": len(socks), "connect_refused": refused, "answered_503_at_once": answered_503,
            "newcomer_status_during": status_during, "newcomer_body_during": raw.split(b"\r\n\r\n")[-1][:120].decode(),
            "closed_by_server_after_wait": closed, "probe_after_wait_ok": after}


def body_attacks(port: int, token: str, limit: int, valid: bytes) -> dict:
    """Chunked and oversized bodies, and length lies: the status each gets."""
    head = (f"POST /v1/predict HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: application/x-hybridsplit-features\r\n").encode()
    big_chunks = [b"%x\r\n%s\r\n" % (65536, b"\0" * 65536)] * (4 * limit // 65536 + 2)
    return {
        "declared_oversized": exchange(port, [head + b"Content-Length: %d\r\n\r\n" % (100 * limit)])[0],
        "chunked_oversized": exchange(port, [head + b"Transfer-Encoding: chunked\r\n\r\n", *big_chunks])[0],
        "chunked_never_ends": exchange(port, [head + b"Transfer-Encoding: chunked\r\n\r\n", b"10\r\n" + bytes(16)
                                              + b"\r\n"])[0],
        "length_longer_than_body": exchange(port, [head + b"Content-Length: %d\r\n\r\n" % (len(valid) + 100)
                                                   + valid])[0],
        "length_shorter_than_body": _two_answers(port, head + b"Content-Length: %d\r\n\r\n" % len(valid) + valid
                                                 + b"\x00garbage after the body\r\n\r\n"),
        "length_and_chunked": exchange(port, [head + b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
                                              b"0\r\n\r\n"])[0],
        "negative_length": exchange(port, [head + b"Content-Length: -1\r\n\r\n"])[0],
    }


def _two_answers(port: int, data: bytes) -> list[int | None]:
    """The body's own answer, then the one for the bytes that followed it (parsed as the next request)."""
    with socket.create_connection((HOST, port), timeout=30) as s:
        s.sendall(data)
        first = _read(s, 30)
        cut = first.index(b"\r\n\r\n") + 4 + _length(first) if b"\r\n\r\n" in first else len(first)
        rest = first[cut:] or _read(s, 30)
    return [_status(first), _status(rest)]


def _fuzz_module():
    spec = importlib.util.spec_from_file_location("serving_fuzz", ROOT / "benchmarks" / "serving_fuzz.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class PeakRss(threading.Thread):
    def __init__(self, server):
        super().__init__(daemon=True)
        self.server, self.peak, self.stop = server, 0.0, threading.Event()

    def run(self):
        while not self.stop.wait(0.05):
            try:
                self.peak = max(self.peak, self.server.rss_mb())
            except Exception:  # noqa: BLE001 - the process ended; the run reports it as dead
                return


def _limit_fds():
    import resource

    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))


def run_attacks(port: int, token: str, probe, sizes: dict, limits) -> dict:
    """Every attack once, at `sizes`; `probe()` -> True when real messages get their right classes."""
    out = {"header_flood": header_flood(port, sizes["headers"]),
           "huge_header": huge_header(port, sizes["header_bytes"]),
           "parallel_huge_headers": parallel_huge_headers(port, sizes["parallel"], sizes["parallel_bytes"])}
    out["probe_after_headers"] = probe()
    out["slowloris"] = slowloris(port, sizes["slow_conns"], 1.0, limits.header_timeout_s + 5, probe)
    out["idle"] = idle_exhaustion(port, sizes["idle_conns"], limits.header_timeout_s + 1, probe)
    out["bodies"] = body_attacks(port, token, sizes["body_limit"], sizes["valid"])
    out["probe_after_all"] = probe()
    return out


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bundle", type=Path, default=ROOT / "bundles" / "default")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "serving_abuse.json")
    a = p.parse_args(argv)
    import httpx

    from hybridsplit.serving.settings import HttpLimits

    fz = _fuzz_module()
    bodies, expected = fz.probes(a.bundle, 8)
    token = secrets.token_urlsafe(24)
    limits = HttpLimits()
    with fz.ServeProcess(a.bundle, token, preexec=_limit_fds) as server:
        port = server.port

        def probe() -> bool:
            with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=10) as c:
                try:
                    return all(c.post("/v1/predict", content=b).json()["predictions"][0]["index"] == e
                               for b, e in zip(bodies, expected, strict=True))
                except (httpx.HTTPError, KeyError, ValueError):
                    return False

        probe()
        rss0 = server.rss_mb()
        peak = PeakRss(server)
        peak.start()
        t0 = time.perf_counter()
        sizes = {"headers": 100_000, "header_bytes": 16 << 20, "parallel": 8, "parallel_bytes": 64 << 20,
                 "slow_conns": 50, "idle_conns": 300, "body_limit": 256 * 1024, "valid": bodies[0]}
        attacks = run_attacks(port, token, probe, sizes, limits)
        time.sleep(limits.keep_alive_s + 1)  # let the last connections time out
        peak.stop.set()
        result = {"benchmark": "serving_abuse", "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                  "bundle": str(a.bundle), "cpus": os.cpu_count(), "fd_limit": 256, "limits": limits.model_dump(),
                  "attacks": attacks, "seconds": time.perf_counter() - t0, "server_alive": server.alive(),
                  "rss_mb": {"before": rss0, "peak": peak.peak, "after": server.rss_mb()}}
    result["rss_mb"]["growth"] = result["rss_mb"]["after"] - rss0
    result["passed"] = passed(attacks, result)
    print(json.dumps({k: result[k] for k in ("attacks", "rss_mb", "server_alive", "passed")}, indent=1))
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(result, indent=2) + "\n")
    return result


def passed(attacks: dict, result: dict) -> bool:
    b = attacks["bodies"]
    return (attacks["header_flood"] == 431 and attacks["huge_header"] == 431
            and set(attacks["parallel_huge_headers"]) == {431} and attacks["probe_after_headers"]
            and attacks["slowloris"]["statuses"] == ["408"] and attacks["slowloris"]["probes_ok"]
            and attacks["idle"]["newcomer_status_during"] == 503 and attacks["idle"]["probe_after_wait_ok"]
            and b["declared_oversized"] == 413 and b["chunked_oversized"] == 413 and b["chunked_never_ends"] == 408
            and b["length_longer_than_body"] == 408 and b["length_shorter_than_body"] == [200, 400]
            and b["length_and_chunked"] == 400 and b["negative_length"] == 400 and attacks["probe_after_all"]
            and result["server_alive"] and result["rss_mb"]["after"] - result["rss_mb"]["before"] < 50)


if __name__ == "__main__":
    raise SystemExit(0 if main()["passed"] else 1)
