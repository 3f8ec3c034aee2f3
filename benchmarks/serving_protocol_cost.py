"""Per-request cost of the HTTP protocol layer alone: uvicorn's HttpToolsProtocol vs the hardened one.

    python benchmarks/serving_protocol_cost.py [--requests 20000 --repeats 7]

One keep-alive connection on an in-memory transport (no socket) is fed the load benchmark's predict
request (828-byte body, its headers) again and again; a trivial ASGI app answers each. The two protocol
classes alternate, `repeats` times, so both see the same machine load; the median microseconds per
request of each are written to --out. Isolates what serving/protocol.py adds to every request.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BODY = b"\0" * 828
REQUEST = (b"POST /v1/predict HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nAuthorization: Bearer abcdefghijklmnopqrstuvwxyz012345"
           b"\r\nContent-Type: application/x-hybridsplit-features\r\nContent-Length: 828\r\n\r\n" + BODY)


async def _app(scope, receive, send):
    await receive()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"{}"})


class _Transport(asyncio.Transport):
    """Swallows writes; enough of a transport for uvicorn's protocol."""

    def write(self, data) -> None:
        pass

    def get_extra_info(self, name, default=None):
        return ("127.0.0.1", 8000) if name in ("peername", "sockname") else default

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def per_request_us(cls, n: int) -> float:
    from uvicorn.config import Config
    from uvicorn.server import ServerState

    config = Config(_app, http=cls, log_level="error", lifespan="off")
    config.load()
    proto = cls(config=config, server_state=ServerState(), app_state={})
    proto.connection_made(_Transport())
    for i in range(n + 200):  # 200 warm-up requests
        if i == 200:
            t0 = time.perf_counter()
        proto.data_received(REQUEST)
        await asyncio.sleep(0)  # the request's task runs and answers
        await asyncio.sleep(0)
    us = (time.perf_counter() - t0) / n * 1e6
    proto.connection_lost(None)
    return us


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=20000)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "serving_protocol_cost.json")
    a = p.parse_args(argv)
    import uvloop
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    from hybridsplit.serving.protocol import hardened_protocol
    from hybridsplit.serving.settings import HttpLimits

    classes = {"uvicorn": HttpToolsProtocol, "hardened": hardened_protocol(HttpLimits())}
    runs: dict[str, list[float]] = {k: [] for k in classes}

    async def measure():
        for _ in range(a.repeats):
            for name, cls in classes.items():
                runs[name].append(await per_request_us(cls, a.requests))

    load0 = os.getloadavg()[0]
    uvloop.run(measure())
    med = {k: statistics.median(v) for k, v in runs.items()}
    result = {"benchmark": "serving_protocol_cost", "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "requests": a.requests, "repeats": a.repeats, "loadavg_1min_at_start": load0,
              "us_per_request": runs, "median_us": med, "hardened_over_uvicorn": med["hardened"] / med["uvicorn"]}
    print(f"median us/request: uvicorn {med['uvicorn']:.1f}, hardened {med['hardened']:.1f} "
          f"({result['hardened_over_uvicorn']:.3f}x); load {load0:.1f}", flush=True)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
