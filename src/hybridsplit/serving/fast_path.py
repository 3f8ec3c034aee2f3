"""POST /v1/predict answered inside the HTTP protocol: no ASGI scope, cycle, task or message dicts.

A device request is small (828 bytes for the default bundle) and the cloud half's batched model
call is cheap, so the server's one event-loop core goes to the HTTP machinery around each request:
uvicorn builds a scope, a RequestResponseCycle with an asyncio.Event, a task, receive/send
messages, and an ASGI app runs as coroutines on top. `PredictCycle` takes the place of that
cycle for the plain device request: the request gate (serving/gate.py) checks the headers when
they are complete and the body as it arrives, the decoded features go to the batcher as a future
(`Batcher.enqueue`), and the answer is written to the transport from the future's callback.

Only this request takes it: POST to exactly /v1/predict, no Origin header (browsers take the
middleware stack, for CORS), no Upgrade, not pipelined behind an unanswered request, on a
connection whose client reads its answers (the transport's writing is not paused), on an app
whose lifespan has started. Everything else goes to uvicorn's ASGI path and CloudApp, whose
PredictEndpoint (routers/infer.py) gives the same answers through the same gate; the tests send
both paths the same requests and compare status, headers and body.
"""

from __future__ import annotations

import logging
import time

import orjson
from fastapi import HTTPException
from uvicorn.protocols.http.httptools_impl import STATUS_LINE

from hybridsplit.serving.gate import DISCONNECTED
from hybridsplit.serving.routers import infer

log = logging.getLogger("hybridsplit.serving")
PATH = infer.PATH.encode()  # the request target, as the protocol's parser gives it
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class Route:
    """What a PredictCycle needs from one started app: the gate, the batcher and the metrics.
    The app's lifespan sets `app.fast_route` to one at start and back to None at shutdown."""

    __slots__ = ("gate", "batcher", "metrics")

    def __init__(self, gate, batcher, metrics):
        self.gate, self.batcher, self.metrics = gate, batcher, metrics


class _NoEvent:
    """uvicorn's protocol sets its cycle's message_event on a disconnect; nothing waits on one here."""

    __slots__ = ()

    def set(self) -> None:
        pass


_NO_EVENT = _NoEvent()


class PredictCycle:
    """One POST /v1/predict on one connection, from its complete headers to its answer.

    It has the attributes uvicorn's protocol and HardenedProtocol read on `protocol.cycle`
    (response_started/complete, more_body, disconnected, keep_alive, message_event)."""

    __slots__ = ("proto", "route", "keep_alive", "chunks", "size", "more_body", "response_started",
                 "response_complete", "disconnected", "message_event", "submitted", "t0", "t_cloud")

    def __init__(self, proto, route: Route, keep_alive: bool):
        self.proto, self.route, self.keep_alive = proto, route, keep_alive
        self.chunks: list[bytes] = []
        self.size = 0
        self.more_body = True
        self.response_started = self.response_complete = self.disconnected = self.submitted = False
        self.message_event = _NO_EVENT
        self.t0 = time.perf_counter()
        self.t_cloud = 0.0

    # -- called by the protocol ------------------------------------------------------------------
    def start(self, authorization, content_type, content_length, expect_continue: bool) -> None:
        """The header checks, as PredictEndpoint makes them before reading the body."""
        gate = self.route.gate
        try:
            gate.authorize(authorization)
            gate.check_headers(content_type, content_length)
        except HTTPException as exc:
            self._refuse(exc)
            return
        if expect_continue:
            self.proto.transport.write(CONTINUE)

    def on_body(self, chunk: bytes) -> None:
        if self.response_complete:  # refused already (401, 413, ...): the rest of the body is dropped
            return
        self.size += len(chunk)
        try:
            self.route.gate.check_size(self.size)
        except HTTPException as exc:
            self._refuse(exc)
            return
        self.chunks.append(chunk)

    def on_complete(self) -> None:
        self.more_body = False
        if self.response_complete:
            return
        body = self.chunks[0] if len(self.chunks) == 1 else b"".join(self.chunks)
        self.chunks = []
        self.t_cloud = time.perf_counter()
        try:
            x = self.route.gate.decode(body, dequantize=False)
            fut = self.route.batcher.enqueue(x)
        except HTTPException as exc:
            self._refuse(exc)
            return
        except Exception:  # noqa: BLE001 - a server fault: this request gets a 500, the server keeps serving
            log.exception("predict failed")
            self.finish(500, {"detail": infer.FAILED})
            return
        self.submitted = True
        fut.add_done_callback(self._answered)

    def on_disconnect(self) -> None:
        """The client went away: counted as the ASGI path counts it (a 400 unless the model has it)."""
        if not self.response_complete and not self.submitted:
            self.finish(400, {"detail": DISCONNECTED})

    # -- answering -------------------------------------------------------------------------------
    def _answered(self, fut) -> None:
        try:
            if fut.cancelled():
                raise RuntimeError("the model call was cancelled")
            exc = fut.exception()
            if exc is not None:
                log.error("predict failed", exc_info=exc)
                self.finish(500, {"detail": infer.FAILED})
                return
            payload = self.route.gate.answer(fut.result(), (time.perf_counter() - self.t_cloud) * 1000.0)
        except HTTPException as exc:
            self._refuse(exc)
            return
        except Exception:  # noqa: BLE001 - as in on_complete
            log.exception("predict failed")
            self.finish(500, {"detail": infer.FAILED})
            return
        self.finish(200, payload)

    def _refuse(self, exc: HTTPException) -> None:
        self.finish(exc.status_code, {"detail": exc.detail}, exc.headers)

    def finish(self, status: int, payload: dict, headers: dict[str, str] | None = None) -> None:
        """Write the answer as uvicorn's cycle writes PredictEndpoint's (default headers first, then
        content-type, content-length and any extra header; `connection: close` when not keeping alive)."""
        if self.response_complete:
            return
        self.response_started = self.response_complete = True
        self.route.metrics.observe_request(infer.PATH, status, time.perf_counter() - self.t0)
        proto = self.proto
        if self.disconnected or proto.transport.is_closing():
            return
        body = orjson.dumps(payload)
        parts = [STATUS_LINE[status]]
        for name, value in proto.server_state.default_headers:
            parts += (name, b": ", value, b"\r\n")
        parts.append(b"content-type: application/json\r\ncontent-length: %d\r\n" % len(body))
        if headers:
            for name, value in headers.items():
                parts += (name.lower().encode(), b": ", value.encode(), b"\r\n")
        if not self.keep_alive:
            parts.append(b"connection: close\r\n")
        parts += (b"\r\n", body)
        proto.transport.write(b"".join(parts))
        if not self.keep_alive:
            proto.transport.close()
        proto.on_response_complete()
