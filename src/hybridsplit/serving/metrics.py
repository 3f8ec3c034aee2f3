"""Prometheus metrics, one registry per app (so several apps in one process never collide).

Per-request counts and latencies are kept as plain ints in `RequestStats` and turned into
Prometheus families only when /metrics is scraped: on the predict hot path that is a dict
update and a bisect, where prometheus_client's labelled Counter and Histogram take a label
lookup and a lock per sample (measurable at ~17k requests/s on one core). Per-batch metrics,
a few hundred a second, use prometheus_client directly.
"""

from __future__ import annotations

import bisect
import time
from collections import defaultdict

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class RequestStats:
    """`hybridsplit_requests_total{endpoint,status}` and `hybridsplit_request_latency_seconds{endpoint}`.

    Written from one thread (the event loop); a scrape copies the dicts first (a copy is atomic
    under the GIL), so it never sees one mid-update.
    """

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str], int] = defaultdict(int)
        self.buckets: dict[str, list[int]] = {}  # endpoint -> counts per LATENCY_BUCKETS slot, +Inf last
        self.sums: dict[str, float] = defaultdict(float)

    def observe(self, endpoint: str, status: int, seconds: float) -> None:
        self.counts[endpoint, str(status)] += 1
        slots = self.buckets.get(endpoint)
        if slots is None:
            slots = self.buckets[endpoint] = [0] * (len(LATENCY_BUCKETS) + 1)
        slots[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self.sums[endpoint] += seconds

    def collect(self):
        counts, sums = self.counts.copy(), self.sums.copy()
        buckets = {k: list(v) for k, v in self.buckets.copy().items()}
        requests = CounterMetricFamily("hybridsplit_requests", "HTTP requests answered", labels=["endpoint", "status"])
        for (endpoint, status), n in sorted(counts.items()):
            requests.add_metric([endpoint, status], n)
        yield requests
        latency = HistogramMetricFamily("hybridsplit_request_latency_seconds", "Time from request to response",
                                        labels=["endpoint"])
        for endpoint, slots in sorted(buckets.items()):
            cumulative, running = [], 0
            for bound, n in zip((*map(str, LATENCY_BUCKETS), "+Inf"), slots, strict=True):
                running += n
                cumulative.append((bound, running))
            latency.add_metric([endpoint], cumulative, sums[endpoint])
        yield latency


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.request_stats = RequestStats()
        self.registry.register(self.request_stats)
        self.batch_size = Histogram("hybridsplit_batch_size", "Feature tensors per cloud.onnx call",
                                    buckets=BATCH_BUCKETS, registry=self.registry)
        self.inference = Histogram("hybridsplit_inference_seconds", "Time of one cloud.onnx call",
                                   buckets=LATENCY_BUCKETS, registry=self.registry)
        self.items = Counter("hybridsplit_predicted_items", "Feature tensors classified", registry=self.registry)

    def observe_request(self, endpoint: str, status: int, seconds: float) -> None:
        self.request_stats.observe(endpoint, status, seconds)

    def on_batch(self, size: int, seconds: float) -> None:
        self.batch_size.observe(size)
        self.inference.observe(seconds)
        self.items.inc(size)


class MetricsMiddleware:
    """Pure ASGI middleware: counts every HTTP response by path and status, times it. Paths in
    `self_counted` count themselves (the predict endpoint, which may bypass this middleware)."""

    def __init__(self, app, metrics: Metrics, known_paths: set[str], self_counted: frozenset[str] = frozenset()):
        self.app = app
        self.metrics = metrics
        self.known = known_paths
        self.self_counted = self_counted

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] in self.self_counted:
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
            self.metrics.observe_request(path, status["code"], time.perf_counter() - t0)
