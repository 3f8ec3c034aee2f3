"""create_app(bundle_dir, settings) -> FastAPI: the cloud half as an HTTP service.

The lifespan loads the CloudHalf (cloud.onnx in ONNX Runtime, checked against the manifest)
onto app.state and starts the batcher; nothing is loaded at import time.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse

from hybridsplit.serving.batching import Batcher
from hybridsplit.serving.cloud import CloudHalf
from hybridsplit.serving.metrics import Metrics, MetricsMiddleware
from hybridsplit.serving.routers import health, infer, info, metrics
from hybridsplit.serving.settings import ServeSettings

PATHS = {"/v1/predict", "/v1/info", "/v1/health", "/metrics"}


def create_app(bundle_dir: str | Path, settings: ServeSettings, cloud: CloudHalf | None = None) -> FastAPI:
    """`cloud` may be passed in (tests, or sharing one loaded half); otherwise the lifespan loads it."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.settings = settings
        app.state.cloud = cloud or CloudHalf(bundle_dir, settings.num_threads, settings.max_items_per_request)
        app.state.metrics = app_metrics
        app.state.batcher = Batcher(app.state.cloud.probabilities, settings.max_batch, settings.max_wait_ms,
                                    on_batch=app_metrics.on_batch)
        await app.state.batcher.start()
        try:
            yield
        finally:
            await app.state.batcher.stop()

    app_metrics = Metrics()
    app = FastAPI(title="hybridsplit cloud half", version="1", lifespan=lifespan)
    for r in (info.router, health.router, metrics.router):
        app.include_router(r)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        return JSONResponse({"detail": exc.detail}, exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        return JSONResponse({"detail": str(exc.errors()[0].get("msg", exc))}, 422)

    app.add_middleware(infer.PredictEndpoint)  # POST /v1/predict (see routers/infer.py for why ASGI)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins), allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"], max_age=600)
    app.add_middleware(MetricsMiddleware, metrics=app_metrics, known_paths=PATHS)
    return app
