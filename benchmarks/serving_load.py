"""Bounded load test of `hybridsplit serve` on loopback: batched vs unbatched, same server, same run.

    python benchmarks/serving_load.py --bundle bundles/default --clients 200 --duration 60

For each mode it starts `hybridsplit serve` as a subprocess on a free 127.0.0.1 port (batched:
--max-batch 64; unbatched: --max-batch 1, everything else equal), runs `clients` concurrent
keep-alive HTTP clients for `duration` seconds, each sending real device features (device.tflite
on the bundle's test windows) and checking every answer against the class the cloud half gives
for that payload locally. Then it stops the server. Nothing but 127.0.0.1 is contacted; every
loop is bounded by the duration and a per-request timeout, so the script stops by itself.

Writes JSON (p50/p99 latency, throughput, errors, lost requests, server batch sizes) to --out.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"


def payloads(bundle: Path, n: int) -> tuple[list[bytes], list[int]]:
    """n real device messages and the class the cloud half gives each (computed here, not by the server)."""
    from hybridsplit.serving.client import DeviceRunner, eval_windows
    from hybridsplit.serving.cloud import CloudHalf

    device = DeviceRunner(bundle)
    test = eval_windows(bundle)
    bodies = [device.message(test.x[i]) for i in range(min(n, len(test)))]
    cloud = CloudHalf(bundle)
    expected = [int(cloud.probabilities(cloud.parse(b)).argmax(1)[0]) for b in bodies]
    return bodies, expected


class Server:
    """`hybridsplit serve` in a subprocess; waits for its ready line, terminates it on exit."""

    def __init__(self, bundle: Path, port: int, token: str, max_batch: int, max_wait_ms: float, engine: str = "fastapi",
                 replicas: int = 1):
        self.cmd = [sys.executable, "-m", "hybridsplit.cli", "serve", "--bundle", str(bundle), "--host", HOST,
                    "--port", str(port), "--max-batch", str(max_batch), "--max-wait-ms", str(max_wait_ms),
                    "--engine", engine, "--replicas", str(replicas)]
        self.env = {**os.environ, "HYBRIDSPLIT_TOKEN": token, "TF_CPP_MIN_LOG_LEVEL": "3"}
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Server:
        self.proc = subprocess.Popen(self.cmd, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, cwd=ROOT)
        deadline = time.monotonic() + 180
        lines = []
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("ready:"):
                return self
        self.__exit__(None, None, None)
        raise RuntimeError("server did not become ready:\n" + "".join(lines[-20:]))

    def __exit__(self, *exc) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


async def _request(reader, writer, head: bytes, body: bytes) -> tuple[int, bytes]:
    writer.write(head + body)
    await writer.drain()
    header = await reader.readuntil(b"\r\n\r\n")
    status = int(header[9:12])
    length = 0
    for line in header.split(b"\r\n")[1:]:
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    return status, await reader.readexactly(length)


async def _client(i: int, port: int, token: str, bodies: list[bytes], expected: list[int], stop_at: float,
                  timeout: float, stats: dict) -> None:
    heads = [(f"POST /v1/predict HTTP/1.1\r\nHost: {HOST}:{port}\r\nAuthorization: Bearer {token}\r\n"
              f"Content-Type: application/x-hybridsplit-features\r\nContent-Length: {len(b)}\r\n\r\n").encode()
             for b in bodies]
    reader = writer = None
    k = i  # each client walks the payloads from its own offset
    while time.perf_counter() < stop_at:
        j = k % len(bodies)
        k += 1
        try:
            if writer is None:
                reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port), timeout)
            stats["sent"] += 1
            t0 = time.perf_counter()
            status, payload = await asyncio.wait_for(_request(reader, writer, heads[j], bodies[j]), timeout)
            stats["latencies"].append(time.perf_counter() - t0)
            stats["answered"] += 1
            if status != 200:
                stats["errors"] += 1
                stats["error_samples"].append(f"HTTP {status}: {payload[:200]!r}")
            elif json.loads(payload)["predictions"][0]["index"] != expected[j]:
                stats["errors"] += 1
                stats["wrong"] += 1
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
            stats["transport_errors"] += 1
            stats["error_samples"].append(f"{type(exc).__name__}: {exc}")
            if writer is not None:
                writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


async def _load(port: int, token: str, bodies, expected, clients: int, duration: float, timeout: float) -> dict:
    stats = {"sent": 0, "answered": 0, "errors": 0, "wrong": 0, "transport_errors": 0, "latencies": [],
             "error_samples": []}
    t0 = time.perf_counter()
    stop_at = t0 + duration
    await asyncio.gather(*(_client(i, port, token, bodies, expected, stop_at, timeout, stats) for i in range(clients)))
    wall = time.perf_counter() - t0
    lat = np.asarray(stats.pop("latencies")) * 1000.0
    ok = stats["answered"] - stats["errors"]
    return {
        **{k: v for k, v in stats.items() if k != "error_samples"},
        "lost": stats["sent"] - stats["answered"],
        "ok": ok,
        "wall_s": wall,
        "throughput_rps": ok / wall if wall else 0.0,
        "latency_ms": {"p50": float(np.percentile(lat, 50)) if len(lat) else None,
                       "p90": float(np.percentile(lat, 90)) if len(lat) else None,
                       "p99": float(np.percentile(lat, 99)) if len(lat) else None,
                       "max": float(lat.max()) if len(lat) else None},
        "error_samples": stats["error_samples"][:5],
    }


def _scrape_batches(port: int) -> dict:
    import httpx

    text = httpx.get(f"http://{HOST}:{port}/metrics", timeout=10).text
    vals = {}
    for line in text.splitlines():
        for key in ("hybridsplit_batch_size_sum", "hybridsplit_batch_size_count"):
            if line.startswith(key + " "):
                vals[key] = float(line.split()[1])
    count = vals.get("hybridsplit_batch_size_count", 0.0)
    return {"model_calls": int(count), "mean_batch_size": vals.get("hybridsplit_batch_size_sum", 0.0) / count if count else None}


def run_mode(name: str, bundle: Path, max_batch: int, max_wait_ms: float, bodies, expected, clients: int,
             duration: float, timeout: float, engine: str = "fastapi") -> dict:
    from hybridsplit.serving.server import free_port

    token = secrets.token_urlsafe(24)
    port = free_port()
    with Server(bundle, port, token, max_batch, max_wait_ms, engine):
        # warm-up (not counted): a few requests so the first model call is not in the numbers
        asyncio.run(_load(port, token, bodies, expected, min(clients, 8), 1.0, timeout))
        before = _scrape_batches(port) if engine == "fastapi" else {}
        result = asyncio.run(_load(port, token, bodies, expected, clients, duration, timeout))
        after = _scrape_batches(port) if engine == "fastapi" else {}
    if before and after:
        calls = after["model_calls"] - before["model_calls"]
        result["server"] = {"model_calls": calls, "mean_batch_size": result["ok"] / calls if calls else None}
    result.update(mode=name, engine=engine, max_batch=max_batch, max_wait_ms=max_wait_ms, clients=clients,
                  duration_s=duration)
    print(f"{name:10} {result['throughput_rps']:9.1f} req/s   p50 {result['latency_ms']['p50']:8.2f} ms   "
          f"p99 {result['latency_ms']['p99']:8.2f} ms   sent {result['sent']}  errors {result['errors']}  "
          f"lost {result['lost']}  transport errors {result['transport_errors']}"
          + (f"   mean batch {result['server']['mean_batch_size']:.1f}" if result.get("server", {}).get("mean_batch_size") else ""),
          flush=True)
    return result


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bundle", type=Path, default=ROOT / "bundles" / "default")
    p.add_argument("--clients", type=int, default=200)
    p.add_argument("--duration", type=float, default=60.0, help="seconds of load per mode")
    p.add_argument("--max-batch", type=int, default=64)
    p.add_argument("--max-wait-ms", type=float, default=2.0)
    p.add_argument("--timeout", type=float, default=30.0, help="per-request timeout (a request past it is lost)")
    p.add_argument("--payloads", type=int, default=512)
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "serving_load.json")
    a = p.parse_args(argv)
    if a.duration <= 0 or a.duration > 600 or not 1 <= a.clients <= 1000:
        p.error("--duration must be in (0, 600] and --clients in [1, 1000]")

    bodies, expected = payloads(a.bundle, a.payloads)
    print(f"{len(bodies)} payloads of {len(bodies[0])} bytes; {a.clients} clients x {a.duration:g} s per mode on {HOST}",
          flush=True)
    batched = run_mode("batched", a.bundle, a.max_batch, a.max_wait_ms, bodies, expected, a.clients, a.duration, a.timeout)
    unbatched = run_mode("unbatched", a.bundle, 1, a.max_wait_ms, bodies, expected, a.clients, a.duration, a.timeout)
    ratio = batched["throughput_rps"] / unbatched["throughput_rps"] if unbatched["throughput_rps"] else None
    result = {
        "benchmark": "serving_load",
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "bundle": str(a.bundle),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "payload_bytes": len(bodies[0]),
        "modes": {"batched": batched, "unbatched": unbatched},
        "batched_over_unbatched_throughput": ratio,
    }
    print(f"batched / unbatched throughput = {ratio:.2f}x", flush=True)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = a.out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    tmp.replace(a.out)
    print(f"written {a.out}")
    return result


if __name__ == "__main__":
    main()
