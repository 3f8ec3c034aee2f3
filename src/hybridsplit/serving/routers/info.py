"""GET /v1/info: what a client needs from the manifest (bundle id, shapes, quantization, labels)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from hybridsplit.serving.deps import CloudHalfDep, SettingsDep, require_token

router = APIRouter(prefix="/v1", tags=["info"], dependencies=[Depends(require_token)])


@router.get("/info")
async def info(cloud: CloudHalfDep, settings: SettingsDep) -> dict:
    return {**cloud.info(), "max_body_bytes": settings.max_body_bytes, "max_batch": settings.max_batch}
