"""POST /v1/predict: a binary feature message in, the primary class and probabilities out."""

from __future__ import annotations

import time

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import JSONResponse

from hybridsplit.serving.cloud import RequestError
from hybridsplit.serving.deps import BatcherDep, BodyDep, CloudHalfDep, require_token
from hybridsplit.serving.schemas import ErrorOut, PredictResponse

router = APIRouter(prefix="/v1", tags=["infer"], dependencies=[Depends(require_token)])

ERRORS = {code: {"model": ErrorOut} for code in (400, 401, 409, 413, 415, 422)}


@router.post("/predict", response_model=PredictResponse, responses=ERRORS)
async def predict(body: BodyDep, cloud: CloudHalfDep, batcher: BatcherDep):
    """Body: one wire-format message (serving/wire.py). Answer: PredictResponse as JSON."""
    t0 = time.perf_counter()
    try:
        x = cloud.parse(body)
    except RequestError as exc:
        raise HTTPException(exc.status, str(exc)) from None
    probs = await batcher.submit(x)
    # built as a plain dict (the shape PredictResponse documents): skips a second pydantic pass per request
    return JSONResponse({
        "bundle_id": cloud.bundle_id.hex(),
        "predictions": [{"index": p.index, "label": p.label, "probabilities": p.probabilities}
                        for p in cloud.predictions(probs)],
        "cloud_ms": (time.perf_counter() - t0) * 1000.0,
    })
