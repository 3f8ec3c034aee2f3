"""GET /v1/health: liveness and which bundle is loaded (no token needed, for probes)."""

from __future__ import annotations

from fastapi import APIRouter

from hybridsplit.serving.deps import CloudHalfDep
from hybridsplit.serving.schemas import Health

router = APIRouter(prefix="/v1", tags=["health"])


@router.get("/health", response_model=Health)
async def health(cloud: CloudHalfDep) -> Health:
    return Health(status="ok", bundle_id=cloud.bundle_id.hex(), engine="fastapi")
