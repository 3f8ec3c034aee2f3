"""The one request gate of the cloud half: every check a predict request passes before the model.

Bearer token (constant-time), content type, declared and actual body size, the decode of the
wire message against the bundle (`CloudHalf.parse`, nothing it raises escapes as a 500) and the
model's output (finite, else 422). The FastAPI fast path
(routers/infer.py), the FastAPI dependencies (deps.py) and the Ray Serve deployment (ray_app.py)
all call this object; a refusal is an `HTTPException` carrying the 4xx, its detail and headers.
"""

from __future__ import annotations

import hmac
import logging

import numpy as np
from fastapi import HTTPException

from hybridsplit.serving import wire
from hybridsplit.serving.cloud import CloudHalf, RequestError
from hybridsplit.serving.settings import ServeSettings

ACCEPTED_TYPES = {wire.CONTENT_TYPE, "application/octet-stream"}
log = logging.getLogger("hybridsplit.serving")
_PLAIN_TYPES = {b"", *(t.encode() for t in ACCEPTED_TYPES)}  # Content-Type values accepted without parsing
DISCONNECTED = "client disconnected before sending the whole body"


def _text(value: bytes | str | None) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else (value or "")


def check_token(authorization: bytes | str | None, token: str) -> None:
    """401 unless `authorization` is 'Bearer <token>' (constant-time compare)."""
    scheme, _, given = _text(authorization).partition(" ")
    if scheme.lower() != "bearer" or not given:
        raise HTTPException(401, "missing bearer token: send 'Authorization: Bearer <token>'",
                            headers={"WWW-Authenticate": "Bearer"})
    if not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise HTTPException(401, "wrong bearer token", headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


class RequestGate:
    """The checks of one server (its settings and loaded cloud half)."""

    def __init__(self, settings: ServeSettings, cloud: CloudHalf):
        self.settings, self.cloud = settings, cloud
        self.limit = settings.max_body_bytes
        self._bearer = b"Bearer " + settings.token.encode()

    def authorize(self, authorization: bytes | str | None) -> None:
        raw = authorization.encode("latin-1") if isinstance(authorization, str) else (authorization or b"")
        if not hmac.compare_digest(raw, self._bearer):  # the usual exact header, else the full check
            check_token(raw, self.settings.token)

    def check_headers(self, content_type: bytes | str | None, content_length: bytes | str | None) -> None:
        """415 for a content type other than the wire format's; 413 for a declared length over the limit."""
        raw_type = content_type.encode("latin-1") if isinstance(content_type, str) else (content_type or b"")
        if raw_type not in _PLAIN_TYPES:
            ctype = _text(raw_type).split(";")[0].strip().lower()
            if ctype and ctype not in ACCEPTED_TYPES:
                raise HTTPException(415, f"Content-Type '{ctype}' is not accepted; send {wire.CONTENT_TYPE}")
        declared = _text(content_length)
        if declared.isdigit() and int(declared) > self.limit:
            raise HTTPException(413, f"body is {int(declared)} bytes; this server accepts at most {self.limit}")

    def check_size(self, size: int) -> None:
        if size > self.limit:
            raise HTTPException(413, f"body is over {self.limit} bytes, the most this server accepts")

    async def read_body(self, receive) -> bytes:
        """An ASGI request body, refused (413) as soon as it passes the limit."""
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise HTTPException(400, DISCONNECTED)
            chunk = message.get("body", b"")
            size += len(chunk)
            self.check_size(size)
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    def decode(self, body: bytes, dequantize: bool = True) -> np.ndarray:
        """The wire message as the cloud half's float32 input batch (int8 left int8 for CloudHalf.collate
        with `dequantize=False`), or the 4xx saying what is wrong.
        Whatever the bytes: an error the checks did not foresee is still the client's message at fault,
        a 400 with one log line (no traceback: an attacker must not be able to fill the log)."""
        try:
            return self.cloud.parse(body, dequantize)
        except RequestError as exc:
            raise HTTPException(exc.status, str(exc)) from None
        except Exception as exc:  # noqa: BLE001 - see the docstring
            log.warning("unforeseen decode error %s: %s", type(exc).__name__, str(exc)[:200])
            raise HTTPException(400, f"malformed feature message ({type(exc).__name__})") from None

    def answer(self, probs: np.ndarray, cloud_ms: float) -> dict:
        """The predict answer's JSON body, once the model's output is checked finite (else 422)."""
        try:
            return self.cloud.answer(probs, cloud_ms)
        except RequestError as exc:
            raise HTTPException(exc.status, str(exc)) from None
