"""Prometheus metrics, one registry per app (so several apps in one process never collide)."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Histogram

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("hybridsplit_requests", "HTTP requests answered", ["endpoint", "status"],
                                registry=self.registry)
        self.latency = Histogram("hybridsplit_request_latency_seconds", "Time from request to response",
                                 ["endpoint"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.batch_size = Histogram("hybridsplit_batch_size", "Feature tensors per cloud.onnx call",
                                    buckets=BATCH_BUCKETS, registry=self.registry)
        self.inference = Histogram("hybridsplit_inference_seconds", "Time of one cloud.onnx call",
                                   buckets=LATENCY_BUCKETS, registry=self.registry)
        self.items = Counter("hybridsplit_predicted_items", "Feature tensors classified", registry=self.registry)

    def on_batch(self, size: int, seconds: float) -> None:
        self.batch_size.observe(size)
        self.inference.observe(seconds)
        self.items.inc(size)


class MetricsMiddleware:
    """Pure ASGI middleware: counts every HTTP response by path and status, times it."""

    def __init__(self, app, metrics: Metrics, known_paths: set[str]):
        self.app = app
        self.metrics = metrics
        self.known = known_paths

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope["path"] if scope["path"] in self.known else "other"
        status = {"code": 500}
        t0 = time.perf_counter()

        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self.metrics.requests.labels(path, str(status["code"])).inc()
            self.metrics.latency.labels(path).observe(time.perf_counter() - t0)
