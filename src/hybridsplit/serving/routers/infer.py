"""POST /v1/predict: a binary feature message in, the primary class and probabilities out.

This one route is a plain ASGI app rather than a FastAPI path operation, and `CloudApp` (app.py)
hands it the request before Starlette's middleware stack: it is the hot path (every device
request), and FastAPI's per-request dependency solving plus the exception, telemetry and metrics
middleware layers cost several times what the whole predict work does for a small cloud half
(profiled with py-spy under the load benchmark; skipping them raised batched loopback throughput
from ~11k to ~19k req/s on the 2-core host). It uses the same pieces the dependencies do
(`check_token`, the body limit, CloudHalf.parse, the batcher), reads them from app.state the
same way, and counts itself in the Prometheus metrics. The answer has the shape of
schemas.PredictResponse.
"""

from __future__ import annotations

import functools
import hmac
import logging
import time

import orjson
from fastapi import HTTPException

from hybridsplit.serving import wire
from hybridsplit.serving.cloud import RequestError
from hybridsplit.serving.deps import ACCEPTED_TYPES, check_token

PATH = "/v1/predict"
log = logging.getLogger("hybridsplit.serving")
_PLAIN_TYPES = {b"", *(t.encode() for t in ACCEPTED_TYPES)}  # Content-Type values accepted without parsing


@functools.lru_cache(maxsize=4)
def _bearer(token: str) -> bytes:
    return b"Bearer " + token.encode()


async def _send_json(send, status: int, payload: dict, headers: dict[str, str] | None = None) -> None:
    body = orjson.dumps(payload)
    raw = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def _read_body(receive, limit: int) -> bytes:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise HTTPException(400, "client disconnected before sending the whole body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"body is over {limit} bytes, the most this server accepts")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


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
                    status, payload, headers = 500, {"detail": "the cloud half failed on this request; "
                                                               "see the server log"}, None
            await _send_json(send, status, payload, headers)
        finally:
            state.metrics.observe_request(PATH, status, time.perf_counter() - t0)

    async def _predict(self, state, headers: dict[bytes, bytes], receive) -> dict:
        """The answer's JSON body, or HTTPException with the 4xx to answer."""
        settings, cloud = state.settings, state.cloud
        auth = headers.get(b"authorization", b"")
        if not hmac.compare_digest(auth, _bearer(settings.token)):  # the usual exact header, else the full check
            check_token(auth.decode("latin-1") or None, settings.token)
        raw_type = headers.get(b"content-type", b"")
        if raw_type not in _PLAIN_TYPES:
            ctype = raw_type.decode("latin-1").split(";")[0].strip().lower()
            if ctype and ctype not in ACCEPTED_TYPES:
                raise HTTPException(415, f"Content-Type '{ctype}' is not accepted; send {wire.CONTENT_TYPE}")
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > settings.max_body_bytes:
            raise HTTPException(413, f"body is {int(declared)} bytes; this server accepts at most {settings.max_body_bytes}")
        body = await _read_body(receive, settings.max_body_bytes)
        t0 = time.perf_counter()
        try:
            x = cloud.parse(body)
        except RequestError as exc:
            raise HTTPException(exc.status, str(exc)) from None
        probs = await state.batcher.submit(x)
        return cloud.answer(probs, (time.perf_counter() - t0) * 1000.0)


class PredictRoute:
    """ASGI middleware: /v1/predict goes to `endpoint`, everything else on to `app`. It serves the
    requests that pass the middleware stack first (browser requests, for CORS; see app.CloudApp)."""

    def __init__(self, app, endpoint: PredictEndpoint):
        self.app, self.endpoint = app, endpoint

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"] == PATH:
            return await self.endpoint(scope, receive, send)
        return await self.app(scope, receive, send)
