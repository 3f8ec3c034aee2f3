"""FastAPI dependencies: the cloud half, settings, batcher and metrics from app.state; auth; body.

All are `async def`: FastAPI runs plain `def` dependencies in a thread pool, a thread hop per
dependency per request, which costs more than these one-line lookups themselves.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from hybridsplit.serving import wire
from hybridsplit.serving.batching import Batcher
from hybridsplit.serving.cloud import CloudHalf
from hybridsplit.serving.metrics import Metrics
from hybridsplit.serving.settings import ServeSettings

ACCEPTED_TYPES = {wire.CONTENT_TYPE, "application/octet-stream"}


async def get_cloud(request: Request) -> CloudHalf:
    return request.app.state.cloud


async def get_settings(request: Request) -> ServeSettings:
    return request.app.state.settings


async def get_batcher(request: Request) -> Batcher:
    return request.app.state.batcher


async def get_metrics(request: Request) -> Metrics:
    return request.app.state.metrics


CloudHalfDep = Annotated[CloudHalf, Depends(get_cloud)]
SettingsDep = Annotated[ServeSettings, Depends(get_settings)]
BatcherDep = Annotated[Batcher, Depends(get_batcher)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]


def check_token(authorization: str | None, token: str) -> None:
    """401 unless `authorization` is 'Bearer <token>' (constant-time compare)."""
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not given:
        raise HTTPException(401, "missing bearer token: send 'Authorization: Bearer <token>'",
                            headers={"WWW-Authenticate": "Bearer"})
    if not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise HTTPException(401, "wrong bearer token", headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


async def require_token(request: Request, settings: SettingsDep) -> None:
    check_token(request.headers.get("authorization"), settings.token)


async def read_body(request: Request, settings: SettingsDep) -> bytes:
    """The request body, refused with 413 as soon as it passes max_body_bytes, 415 for a wrong type."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype and ctype not in ACCEPTED_TYPES:
        raise HTTPException(415, f"Content-Type '{ctype}' is not accepted; send {wire.CONTENT_TYPE}")
    limit = settings.max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"body is {declared} bytes; this server accepts at most {limit}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"body is over {limit} bytes, the most this server accepts")
        chunks.append(chunk)
    return b"".join(chunks)


BodyDep = Annotated[bytes, Depends(read_body)]
