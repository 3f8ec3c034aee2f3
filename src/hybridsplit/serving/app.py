"""create_app(bundle_dir, settings) -> CloudApp (a FastAPI app): the cloud half as an HTTP service.

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
from starlette.exceptions import HTTPException as StarletteHTTPException

from hybridsplit.serving import fast_path
from hybridsplit.serving.batching import Batcher
from hybridsplit.serving.cloud import CloudHalf
from hybridsplit.serving.gate import RequestGate
from hybridsplit.serving.json_errors import JsonErrors
from hybridsplit.serving.metrics import Metrics, MetricsMiddleware
from hybridsplit.serving.routers import health, infer, info, metrics
from hybridsplit.serving.settings import ServeSettings

PATHS = {"/v1/predict", "/v1/info", "/v1/health", "/metrics"}


class CloudApp(FastAPI):
    """FastAPI, except for /v1/predict. While the lifespan runs, `fast_route` lets the HTTP protocol
    answer plain device requests itself (serving/fast_path.py); device requests that still come
    here go straight to the predict endpoint, ahead of the middleware stack (see routers/infer.py
    for why). Browser requests (they carry an Origin header) take the stack, so CORSMiddleware
    answers their preflight and adds its headers; `infer.PredictRoute` inside the stack hands them
    to the same endpoint."""

    predict_endpoint: infer.PredictEndpoint
    fast_route: fast_path.Route | None = None  # set while the lifespan runs: plain device requests skip ASGI

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"] == infer.PATH and not _has_origin(scope["headers"]):
            scope["app"] = self
            return await self.predict_endpoint(scope, receive, send)
        await JsonErrors(super().__call__)(scope, receive, send)  # CORS and 500 pages answer plain text


def _has_origin(headers: list[tuple[bytes, bytes]]) -> bool:
    return any(name == b"origin" for name, _ in headers)


def create_app(bundle_dir: str | Path, settings: ServeSettings, cloud: CloudHalf | None = None) -> FastAPI:
    """`cloud` may be passed in (tests, or sharing one loaded half); otherwise the lifespan loads it."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.settings = settings
        app.state.cloud = cloud or CloudHalf(bundle_dir, settings.num_threads, settings.max_items_per_request)
        app.state.metrics = app_metrics
        app.state.gate = RequestGate(settings, app.state.cloud)
        app.state.batcher = Batcher(app.state.cloud.probabilities, settings.max_batch, settings.max_wait_ms,
                                    on_batch=app_metrics.on_batch, collate=app.state.cloud.collate)
        await app.state.batcher.start()
        app.fast_route = fast_path.Route(app.state.gate, app.state.batcher, app_metrics)
        try:
            yield
        finally:
            app.fast_route = None
            await app.state.batcher.stop()

    app_metrics = Metrics()
    # no /docs, /redoc, /openapi.json: they would describe the API to anyone without the token
    app = CloudApp(title="hybridsplit cloud half", version="1", lifespan=lifespan, docs_url=None, redoc_url=None,
                   openapi_url=None)
    app.state.http_limits = settings.http  # read by serving/server.py for the uvicorn protocol
    for r in (info.router, health.router, metrics.router):
        app.include_router(r)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        return JSONResponse({"detail": exc.detail}, exc.status_code, headers=exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def starlette_error(request: Request, exc: StarletteHTTPException):  # 404 and 405 from routing
        return JSONResponse({"detail": exc.detail}, exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        return JSONResponse({"detail": str(exc.errors()[0].get("msg", exc))}, 422)

    app.predict_endpoint = infer.PredictEndpoint()
    app.add_middleware(infer.PredictRoute, endpoint=app.predict_endpoint)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins), allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"], max_age=600)
    app.add_middleware(MetricsMiddleware, metrics=app_metrics, known_paths=PATHS, self_counted=frozenset({infer.PATH}))
    return app
