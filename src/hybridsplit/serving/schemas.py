"""Response models of the HTTP API. The request body is binary (serving/wire.py), not JSON."""

from __future__ import annotations

from pydantic import BaseModel


class PredictionOut(BaseModel):
    index: int
    """Primary class index (into /v1/info `labels`)."""
    label: str
    probabilities: list[float]


class PredictResponse(BaseModel):
    bundle_id: str
    predictions: list[PredictionOut]
    """One per feature tensor in the request, in order."""
    cloud_ms: float
    """Server time from the full body being read to the answer (queueing + batching + cloud.onnx)."""


class Health(BaseModel):
    status: str
    bundle_id: str
    engine: str


class ErrorOut(BaseModel):
    detail: str
