"""FastAPI dependencies: the cloud half, settings and metrics from app.state; bearer-token auth.

All are `async def`: FastAPI runs plain `def` dependencies in a thread pool, a thread hop per
dependency per request, which costs more than these one-line lookups themselves.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from hybridsplit.serving import wire
from hybridsplit.serving.cloud import CloudHalf
from hybridsplit.serving.metrics import Metrics
from hybridsplit.serving.settings import ServeSettings

ACCEPTED_TYPES = {wire.CONTENT_TYPE, "application/octet-stream"}


async def get_cloud(request: Request) -> CloudHalf:
    return request.app.state.cloud


async def get_settings(request: Request) -> ServeSettings:
    return request.app.state.settings


async def get_metrics(request: Request) -> Metrics:
    return request.app.state.metrics


CloudHalfDep = Annotated[CloudHalf, Depends(get_cloud)]
SettingsDep = Annotated[ServeSettings, Depends(get_settings)]
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
