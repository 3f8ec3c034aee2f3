"""POST /v1/predict: a binary feature message in, the primary class and probabilities out.

A plain device request is answered inside the HTTP protocol (serving/fast_path.py) and never gets
here; this ASGI endpoint answers the rest of /v1/predict — browser requests (Origin: they take the
middleware stack, for CORS), pipelined requests, other methods (405), a server run without the fast
path — with the same gate, batcher and answers (tests/serving/test_fast_path.py compares the two).
It is a plain ASGI app rather than a FastAPI path operation, and `CloudApp` (app.py) hands it
Origin-less requests before Starlette's middleware stack: FastAPI's per-request dependency solving
plus the exception, telemetry and metrics middleware layers cost several times what the whole
predict work does for a small cloud half (profiled with py-spy under the load benchmark; skipping
them raised batched loopback throughput from ~11k to ~19k req/s on the 2-core host of that day).
It uses the same pieces the dependencies do (the request gate, serving/gate.py, and the batcher),
reads them from app.state the same way, and counts itself in the Prometheus metrics. The answer
has the shape of schemas.PredictResponse.
"""

from __future__ import annotations

import logging
import time

import orjson
from fastapi import HTTPException

PATH = "/v1/predict"
FAILED = "the cloud half failed on this request; see the server log"  # the 500's detail, on both paths
log = logging.getLogger("hybridsplit.serving")


async def _send_json(send, status: int, payload: dict, headers: dict[str, str] | None = None) -> None:
    body = orjson.dumps(payload)
    raw = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class PredictEndpoint:
    """ASGI app answering POST /v1/predict; counts and times every answer in app.state.metrics."""

    async def __call__(self, scope, receive, send):
        state = scope["app"].state
        t0 = time.perf_counter()
        status = 500  # what is counted if answering fails unexpectedly
        try:
            if scope["method"] != "POST":
                status, payload, headers = 405, {"detail": "Method Not Allowed"}, {"allow": "POST"}
            else:
                try:
                    status, payload, headers = 200, await self._predict(state, dict(scope["headers"]), receive), None
                except HTTPException as exc:
                    status, payload, headers = exc.status_code, {"detail": exc.detail}, exc.headers
                except Exception:  # the model call failed: this request gets a 500, the server keeps serving
                    log.exception("predict failed")
                    status, payload, headers = 500, {"detail": FAILED}, None
            await _send_json(send, status, payload, headers)
        finally:
            state.metrics.observe_request(PATH, status, time.perf_counter() - t0)

    async def _predict(self, state, headers: dict[bytes, bytes], receive) -> dict:
        """The answer's JSON body, or HTTPException with the 4xx to answer."""
        gate = state.gate
        gate.authorize(headers.get(b"authorization"))
        gate.check_headers(headers.get(b"content-type"), headers.get(b"content-length"))
        body = await gate.read_body(receive)
        t0 = time.perf_counter()
        x = gate.decode(body, dequantize=False)
        probs = await state.batcher.submit(x)
        return gate.answer(probs, (time.perf_counter() - t0) * 1000.0)


class PredictRoute:
    """ASGI middleware: /v1/predict goes to `endpoint`, everything else on to `app`. It serves the
    requests that pass the middleware stack first (browser requests, for CORS; see app.CloudApp)."""

    def __init__(self, app, endpoint: PredictEndpoint):
        self.app, self.endpoint = app, endpoint

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"] == PATH:
            return await self.endpoint(scope, receive, send)
        return await self.app(scope, receive, send)
