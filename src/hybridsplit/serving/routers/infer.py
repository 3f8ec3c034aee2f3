"""POST /v1/predict: a binary feature message in, the primary class and probabilities out.

This one route is a plain ASGI endpoint rather than a FastAPI path operation: it is the hot path
(every device request), and FastAPI's per-request dependency solving, exception and exit-stack
layers cost several times what the whole predict work does for a small cloud half (profiled with
py-spy under the load benchmark). It uses the same pieces the dependencies do (`check_token`,
the body limit, CloudHalf.parse, the batcher) and reads them from app.state the same way.
The answer has the shape of schemas.PredictResponse.
"""

from __future__ import annotations

import json
import time

from fastapi import HTTPException

from hybridsplit.serving import wire
from hybridsplit.serving.cloud import RequestError
from hybridsplit.serving.deps import ACCEPTED_TYPES, check_token

PATH = "/v1/predict"


async def _send_json(send, status: int, payload: dict, headers: dict[str, str] | None = None) -> None:
    body = json.dumps(payload, separators=(",", ":")).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
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
    """ASGI middleware answering POST /v1/predict itself; everything else goes on to `app`."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] != PATH:
            return await self.app(scope, receive, send)
        if scope["method"] != "POST":
            return await _send_json(send, 405, {"detail": "Method Not Allowed"}, {"allow": "POST"})
        state = scope["app"].state
        headers = dict(scope["headers"])
        try:
            await self._predict(state, headers, receive, send)
        except HTTPException as exc:
            await _send_json(send, exc.status_code, {"detail": exc.detail}, exc.headers)

    async def _predict(self, state, headers: dict[bytes, bytes], receive, send) -> None:
        settings, cloud = state.settings, state.cloud
        check_token(headers.get(b"authorization", b"").decode("latin-1") or None, settings.token)
        ctype = headers.get(b"content-type", b"").decode("latin-1").split(";")[0].strip().lower()
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
        await _send_json(send, 200, cloud.answer(probs, (time.perf_counter() - t0) * 1000.0))
