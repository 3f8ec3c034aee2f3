"""Pure ASGI middleware: every error answer leaves the server as `{"detail": "..."}` JSON.

Starlette's CORS preflight refusal, its 500 page and Ray Serve's proxy answer errors in plain
text; a client should parse one error shape. An error answer (status >= 400) whose content type
is not JSON has its body held and re-sent as `{"detail": <the text>}`, headers kept (Allow,
WWW-Authenticate, CORS); an exception raised before any answer started becomes a JSON 500.
Answers below 400 and JSON errors pass through untouched, chunk by chunk.
"""

from __future__ import annotations

import logging

import orjson

log = logging.getLogger("hybridsplit.serving")
_DROP = {b"content-type", b"content-length"}


def _is_json(headers) -> bool:
    return any(k.lower() == b"content-type" and b"json" in v.lower() for k, v in headers)


async def send_json(send, status: int, detail: str, headers=()) -> None:
    body = orjson.dumps({"detail": detail})
    raw = [(k, v) for k, v in headers if k.lower() not in _DROP]
    raw += [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class JsonErrors:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        held: dict = {}  # the start message of a non-JSON error answer, and its body so far
        started = False

        async def wrapped(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if message["status"] >= 400 and not _is_json(message.get("headers", [])):
                    held.update(start=message, body=[])
                    return
            elif held:
                held["body"].append(message.get("body", b""))
                if not message.get("more_body", False):
                    text = b"".join(held["body"]).decode("utf-8", "replace").strip()[:500]
                    start = held["start"]
                    await send_json(send, start["status"], text or "error", start.get("headers", []))
                return
            await send(message)

        try:
            await self.app(scope, receive, wrapped)
        except Exception:
            if started:
                raise
            log.exception("request to %s failed", scope.get("path"))
            await send_json(send, 500, "internal server error; see the server log")
