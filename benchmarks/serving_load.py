"""Bounded load test of `hybridsplit serve` on loopback: batched vs unbatched, same server, same run.

    python benchmarks/serving_load.py --bundle bundles/default --clients 200 --duration 60

It starts `hybridsplit serve` twice as subprocesses on free 127.0.0.1 ports, identical but for
batching (batched: --max-batch 64; unbatched: --max-batch 1, the same server code path), then
loads one at a time with `clients` concurrent keep-alive HTTP clients for `duration` seconds per
mode, in --rounds interleaved slices (6 by default, so both modes see the same machine load).
Each client sends real device features (device.tflite on the bundle's test windows) and checks
every answer against the class the cloud half gives for that payload locally. Then it stops both
servers. Nothing but 127.0.0.1 is contacted; every loop is bounded by the duration and a
per-request timeout, so the script stops by itself.

`--engine ray` loads `hybridsplit serve --engine ray` the same way (Ray Serve's proxy, its
@serve.batch batching; --replicas). Writes JSON (p50/p99 latency, throughput, errors, lost
requests, server batch sizes) to --out.
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

    def __init__(self, bundle: Path, port: int, token: str, max_batch: int, max_wait_ms: float,
                 engine: str = "fastapi", replicas: int = 1):
        self.cmd = [sys.executable, "-m", "hybridsplit.cli", "serve", "--bundle", str(bundle), "--host", HOST,
                    "--port", str(port), "--max-batch", str(max_batch), "--max-wait-ms", str(max_wait_ms),
                    "--engine", engine]
        if engine == "ray":
            self.cmd += ["--replicas", str(replicas)]
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


def _arun(coro):
    """Run the load loop on uvloop when installed (it comes with Ray Serve), so the generator itself
    is not what limits throughput; plain asyncio otherwise."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)


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
            async with asyncio.timeout(timeout):  # a timer handle; wait_for would add a task per request
                status, payload = await _request(reader, writer, heads[j], bodies[j])
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
    stats["wall_s"] = time.perf_counter() - t0
    return stats


def _merge(parts: list[dict]) -> dict:
    out = {"sent": 0, "answered": 0, "errors": 0, "wrong": 0, "transport_errors": 0, "latencies": [],
           "error_samples": [], "wall_s": 0.0}
    for p in parts:
        for k, v in p.items():
            out[k] = out[k] + v
    return out


def _summary(stats: dict) -> dict:
    lat = np.asarray(stats["latencies"]) * 1000.0
    ok = stats["answered"] - stats["errors"]
    wall = stats["wall_s"]

    def pct(q):
        return float(np.percentile(lat, q)) if len(lat) else None

    return {
        **{k: v for k, v in stats.items() if k not in ("latencies", "error_samples")},
        "lost": stats["sent"] - stats["answered"],
        "ok": ok,
        "throughput_rps": ok / wall if wall else 0.0,
        "latency_ms": {"p50": pct(50), "p90": pct(90), "p99": pct(99), "max": float(lat.max()) if len(lat) else None},
        "error_samples": stats["error_samples"][:5],
    }


def model_only(bundle: Path, max_batch: int, seconds: float = 2.0) -> dict:
    """cloud.onnx alone in this process (no HTTP): samples/s at batch 1 vs max_batch, for context."""
    from hybridsplit.serving.cloud import CloudHalf

    cloud = CloudHalf(bundle)
    out = {}
    for n in (1, max_batch):
        x = np.random.default_rng(0).standard_normal((n, *cloud.feature_shape)).astype(np.float32)
        cloud.probabilities(x)
        calls, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            cloud.probabilities(x)
            calls += 1
        out[f"batch_{n}_samples_per_s"] = calls * n / (time.perf_counter() - t0)
    out["ratio"] = out[f"batch_{max_batch}_samples_per_s"] / out["batch_1_samples_per_s"]
    return out


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


def _print(result: dict) -> None:
    server = result.get("server", {})
    print(f"{result['mode']:10} {result['throughput_rps']:9.1f} req/s   p50 {result['latency_ms']['p50']:8.2f} ms   "
          f"p99 {result['latency_ms']['p99']:8.2f} ms   sent {result['sent']}  errors {result['errors']}  "
          f"lost {result['lost']}  transport errors {result['transport_errors']}"
          + (f"   mean batch {server['mean_batch_size']:.1f}" if server.get("mean_batch_size") else ""), flush=True)


def run(bundle: Path, modes: dict[str, int], max_wait_ms: float, bodies, expected, clients: int, duration: float,
        timeout: float, rounds: int = 1, engine: str = "fastapi", replicas: int = 1) -> dict[str, dict]:
    """Start one server per mode, then load each for duration/rounds seconds, `rounds` times, interleaved."""
    from contextlib import ExitStack

    from hybridsplit.serving.server import free_port

    token = secrets.token_urlsafe(24)
    ports = {name: free_port() for name in modes}
    parts: dict[str, list[dict]] = {name: [] for name in modes}
    loadavg: dict[str, list[float]] = {name: [] for name in modes}
    calls: dict[str, int] = {}
    with ExitStack() as stack:
        for name, max_batch in modes.items():
            stack.enter_context(Server(bundle, ports[name], token, max_batch, max_wait_ms, engine, replicas))
        for name in modes:  # warm-up, not counted
            _arun(_load(ports[name], token, bodies, expected, min(clients, 8), 1.0, timeout))
        before = {name: _scrape_batches(ports[name])["model_calls"] for name in modes}
        for _ in range(rounds):
            for name in modes:
                loadavg[name].append(os.getloadavg()[0])
                parts[name].append(_arun(_load(ports[name], token, bodies, expected, clients, duration / rounds,
                                                     timeout)))
        for name in modes:
            calls[name] = _scrape_batches(ports[name])["model_calls"] - before[name]
    results = {}
    for name, max_batch in modes.items():
        r = _summary(_merge(parts[name]))
        r["server"] = {"model_calls": calls[name], "mean_batch_size": r["ok"] / calls[name] if calls[name] else None}
        if engine == "ray" and replicas > 1:  # Ray's /metrics is one replica's, whichever answered the scrape
            r["server"] = {"model_calls": None, "mean_batch_size": None}
        r.update(mode=name, engine=engine, replicas=replicas if engine == "ray" else None, max_batch=max_batch,
                 max_wait_ms=max_wait_ms, clients=clients, duration_s=duration, rounds=rounds,
                 loadavg_1min_at_start=loadavg[name])
        _print(r)
        results[name] = r
    return results


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bundle", type=Path, default=ROOT / "bundles" / "default")
    p.add_argument("--clients", type=int, default=200)
    p.add_argument("--duration", type=float, default=60.0, help="seconds of load per mode")
    p.add_argument("--rounds", type=int, default=6,
                   help="split each mode's duration into this many slices, interleaved batched/unbatched "
                        "(evens out drift in a shared machine's load)")
    p.add_argument("--engine", choices=["fastapi", "ray"], default="fastapi",
                   help="ray: `hybridsplit serve --engine ray` (Ray Serve's proxy and @serve.batch)")
    p.add_argument("--replicas", type=int, default=1, help="Ray Serve replicas (--engine ray)")
    p.add_argument("--max-batch", type=int, default=64)
    p.add_argument("--max-wait-ms", type=float, default=2.0)
    p.add_argument("--timeout", type=float, default=30.0, help="per-request timeout (a request past it is lost)")
    p.add_argument("--payloads", type=int, default=512)
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "serving_load.json")
    a = p.parse_args(argv)
    if a.duration <= 0 or a.duration > 600 or not 1 <= a.clients <= 1000 or not 1 <= a.rounds <= 60:
        p.error("--duration must be in (0, 600], --clients in [1, 1000], --rounds in [1, 60]")

    bodies, expected = payloads(a.bundle, a.payloads)
    print(f"{len(bodies)} payloads of {len(bodies[0])} bytes; {a.clients} clients x {a.duration:g} s per mode on {HOST}",
          flush=True)
    modes = run(a.bundle, {"batched": a.max_batch, "unbatched": 1}, a.max_wait_ms, bodies, expected, a.clients,
                a.duration, a.timeout, a.rounds, a.engine, a.replicas)
    batched, unbatched = modes["batched"], modes["unbatched"]
    ratio = batched["throughput_rps"] / unbatched["throughput_rps"] if unbatched["throughput_rps"] else None
    result = {
        "benchmark": "serving_load",
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "bundle": str(a.bundle),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "payload_bytes": len(bodies[0]),
        "modes": {"batched": batched, "unbatched": unbatched},
        "batched_over_unbatched_throughput": ratio,
        "model_only": model_only(a.bundle, a.max_batch),
    }
    print(f"batched / unbatched HTTP throughput = {ratio:.2f}x; cloud.onnx alone: batch {a.max_batch} gives "
          f"{result['model_only']['ratio']:.1f}x the samples/s of batch 1", flush=True)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = a.out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    tmp.replace(a.out)
    print(f"written {a.out}")
    return result


if __name__ == "__main__":
    main()
