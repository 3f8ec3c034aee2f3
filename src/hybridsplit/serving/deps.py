"""FastAPI dependencies: the cloud half, settings, metrics and the request gate from app.state; auth.

All are `async def`: FastAPI runs plain `def` dependencies in a thread pool, a thread hop per
dependency per request, which costs more than these one-line lookups themselves.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from hybridsplit.serving.cloud import CloudHalf
from hybridsplit.serving.gate import RequestGate
from hybridsplit.serving.metrics import Metrics
from hybridsplit.serving.settings import ServeSettings


async def get_cloud(request: Request) -> CloudHalf:
    return request.app.state.cloud


async def get_settings(request: Request) -> ServeSettings:
    return request.app.state.settings


async def get_metrics(request: Request) -> Metrics:
    return request.app.state.metrics


CloudHalfDep = Annotated[CloudHalf, Depends(get_cloud)]
SettingsDep = Annotated[ServeSettings, Depends(get_settings)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]


async def get_gate(request: Request) -> RequestGate:
    return request.app.state.gate


async def require_token(request: Request, gate: Annotated[RequestGate, Depends(get_gate)]) -> None:
    gate.authorize(request.headers.get("authorization"))
