"""The cloud half as a Ray Serve deployment: the same CloudHalf, batched by Ray Serve's @serve.batch.

    start_ray(bundle_dir, settings, host, port, replicas)   # local Ray, or address="auto" on a cluster

Replicas answer the same HTTP API as the FastAPI engine (/v1/predict, /v1/info, /v1/health,
/metrics per replica) with the same validation, since both call CloudHalf.parse/probabilities.
Ray is optional (requirements/extra-serve.txt); it is imported only here, only when used.
"""

from __future__ import annotations

import math
import os
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from hybridsplit.errors import TargetError
from hybridsplit.serving.ray_proxy import proxy_env
from hybridsplit.serving.settings import ServeSettings

APP_NAME = "hybridsplit"


@contextmanager
def _environ(values: dict[str, str]):
    """os.environ with `values` set for the block (Ray's node processes copy it at start), then restored."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _import_ray():
    try:
        import ray
        from ray import serve
    except ImportError:
        raise TargetError("Ray Serve is not installed; `pip install -r requirements/extra-serve.txt` "
                          "(or use --engine fastapi)") from None
    return ray, serve


def _json_error(status: int, detail: str, headers: dict | None = None):
    """Every error body is {"detail": ...}, as on the FastAPI server."""
    from starlette.responses import JSONResponse

    return JSONResponse({"detail": detail}, status, headers=headers)


def build_deployment(settings: ServeSettings, replicas: int = 1, num_cpus: float = 0.5):
    """A Ray Serve application wrapping CloudHalf; bind(bundle_dir) it, then serve.run it."""
    _, serve = _import_ray()
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response

    # past max_queued_requests Ray's proxy answers 503 (JSON, through ray_proxy.harden's middleware)
    @serve.deployment(name="CloudHalf", num_replicas=replicas, ray_actor_options={"num_cpus": num_cpus},
                      max_ongoing_requests=max(256, 2 * settings.max_batch),
                      max_queued_requests=settings.http.max_connections)
    class CloudHalfDeployment:
        def __init__(self, bundle_dir: str, settings_json: str):
            from hybridsplit.serving.cloud import CloudHalf
            from hybridsplit.serving.gate import RequestGate
            from hybridsplit.serving.metrics import Metrics

            self.settings = ServeSettings.model_validate_json(settings_json)
            self.cloud = CloudHalf(bundle_dir, self.settings.num_threads, self.settings.max_items_per_request)
            self.metrics = Metrics()
            self.gate = RequestGate(self.settings, self.cloud)
            self.infer.set_max_batch_size(self.settings.max_batch)
            self.infer.set_batch_wait_timeout_s(self.settings.max_wait_ms / 1000.0)

        @serve.batch(max_batch_size=64, batch_wait_timeout_s=0.002)
        async def infer(self, xs: list[np.ndarray]) -> list[np.ndarray]:
            t0 = time.perf_counter()
            batch = xs[0] if len(xs) == 1 else np.concatenate(xs)
            probs = self.cloud.probabilities(batch)
            self.metrics.on_batch(len(batch), time.perf_counter() - t0)
            out, start = [], 0
            for x in xs:
                out.append(probs[start:start + len(x)])
                start += len(x)
            return out

        async def __call__(self, request: Request):
            t0 = time.perf_counter()
            path = request.url.path.rstrip("/") or "/"
            resp = await self._route(request, path)
            endpoint = path if path in ("/v1/predict", "/v1/info", "/v1/health", "/metrics") else "other"
            self.metrics.observe_request(endpoint, resp.status_code, time.perf_counter() - t0)
            return resp

        async def _route(self, request: Request, path: str):
            from fastapi import HTTPException

            method = request.method
            if path == "/v1/health" and method == "GET":
                return JSONResponse({"status": "ok", "bundle_id": self.cloud.bundle_id.hex(), "engine": "ray"})
            if path == "/metrics" and method == "GET":
                from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

                return Response(generate_latest(self.metrics.registry), media_type=CONTENT_TYPE_LATEST)
            if path not in ("/v1/info", "/v1/predict"):
                return _json_error(404, "Not Found")
            want = "GET" if path == "/v1/info" else "POST"
            if method != want:
                return _json_error(405, "Method Not Allowed")
            try:
                return await self._gated(request, path)
            except HTTPException as exc:
                return _json_error(exc.status_code, exc.detail, exc.headers)

        async def _gated(self, request: Request, path: str):
            """/v1/info and /v1/predict behind the same request gate as the FastAPI server."""
            self.gate.authorize(request.headers.get("authorization"))
            if path == "/v1/info":
                return JSONResponse({**self.cloud.info(), "max_body_bytes": self.settings.max_body_bytes,
                                     "max_batch": self.settings.max_batch})
            self.gate.check_headers(request.headers.get("content-type"), request.headers.get("content-length"))
            body = await request.body()
            self.gate.check_size(len(body))
            t0 = time.perf_counter()
            x = self.gate.decode(body)
            probs = await self.infer(x)
            return JSONResponse(self.gate.answer(probs, (time.perf_counter() - t0) * 1000.0))

    return CloudHalfDeployment


class RayServer:
    """Start Ray (local, or join `address`), run the deployment on host:port; `stop()` tears it all down.

    Use as `with RayServer(...) as url:`. On a multi-node cluster pass address="auto" and make the
    bundle readable at the same path on every node (replicas load it themselves).
    """

    def __init__(self, bundle_dir: str | Path, settings: ServeSettings, host: str = "127.0.0.1", port: int = 8000,
                 replicas: int = 1, address: str | None = None, num_cpus: int | None = None,
                 replica_cpus: float = 0.5):
        self.bundle_dir = str(Path(bundle_dir).resolve())
        self.settings, self.host, self.port = settings, host, port
        self.replicas, self.address, self.num_cpus, self.replica_cpus = replicas, address, num_cpus, replica_cpus
        self._started_ray = False

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> str:
        ray, serve = _import_ray()
        if not ray.is_initialized():
            if self.address:  # the cluster's nodes carry the proxy environment themselves (see ray_proxy.py)
                ray.init(address=self.address, include_dashboard=False, logging_level="warning")
            else:  # a private single-node Ray on loopback; its processes inherit the hardened proxy's env
                with _environ(proxy_env(self.settings.http)):
                    ray.init(num_cpus=self.num_cpus or max(2, self.replicas), include_dashboard=False,
                             _node_ip_address="127.0.0.1", object_store_memory=128 * 1024 * 1024,
                             logging_level="warning", log_to_driver=False)
            self._started_ray = True
        serve.start(http_options={"host": self.host, "port": self.port,
                                  "keep_alive_timeout_s": max(1, math.ceil(self.settings.http.keep_alive_s))},
                    logging_config={"log_level": "WARNING"})
        deployment = build_deployment(self.settings, self.replicas, self.replica_cpus)
        serve.run(deployment.bind(self.bundle_dir, self.settings.model_dump_json()), name=APP_NAME, route_prefix="/")
        return self.url

    def stop(self) -> None:
        ray, serve = _import_ray()
        try:
            serve.shutdown()
        finally:
            if self._started_ray:
                ray.shutdown()
                self._started_ray = False

    def __enter__(self) -> str:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()
