"""`hybridsplit serve` (the cloud half over HTTP) and `hybridsplit client` (the device half against it)."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from hybridsplit.cli.common import bundle_opt, console, user_errors

BundleOpt = Annotated[Path, bundle_opt("Bundle directory (manifest.json + cloud.onnx + device.tflite).")]
TokenFileOpt = Annotated[Path | None, typer.Option(help="File holding the bearer token (else $HYBRIDSPLIT_TOKEN).")]


class Engine(str, Enum):
    fastapi = "fastapi"
    ray = "ray"


@user_errors
def serve(
    bundle: BundleOpt = Path("bundles/default"),
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    engine: Annotated[Engine, typer.Option(help="fastapi: one uvicorn process; ray: a Ray Serve deployment.")] = Engine.fastapi,
    replicas: Annotated[int, typer.Option(min=1, help="Ray Serve replicas (--engine ray).")] = 1,
    ray_address: Annotated[str | None, typer.Option(help="Join a running Ray cluster (e.g. 'auto'); default: start a local one.")] = None,
    max_batch: Annotated[int, typer.Option(min=1, help="Most feature tensors per cloud.onnx call (1 = no batching).")] = 64,
    max_wait_ms: Annotated[float, typer.Option(min=0, help="How long a batch waits to fill.")] = 2.0,
    max_body_bytes: Annotated[int, typer.Option(min=64, help="Larger request bodies get 413.")] = 256 * 1024,
    token_file: TokenFileOpt = None,
    cors_origin: Annotated[list[str] | None, typer.Option("--cors-origin", help="Browser origin allowed to call the API (repeatable), e.g. http://127.0.0.1:8080.")] = None,
    threads: Annotated[int, typer.Option(min=1, help="ONNX Runtime intra-op threads.")] = 1,
    max_connections: Annotated[int, typer.Option(min=1, help="Open connections beyond this get 503 (lowered to fit ulimit -n).")] = 1000,
) -> None:
    """Serve a bundle's cloud half: POST /v1/predict, GET /v1/info, /v1/health, /metrics."""
    from hybridsplit.serving.cloud import CloudHalf
    from hybridsplit.serving.settings import HttpLimits, ServeSettings, resolve_token

    token, source = resolve_token(token_file)
    settings = ServeSettings(token=token, max_batch=max_batch, max_wait_ms=max_wait_ms, max_body_bytes=max_body_bytes,
                             cors_origins=cors_origin or (), num_threads=threads,
                             http=HttpLimits(max_connections=max_connections))
    # the bundle, its sha256s and the manifest/cloud.onnx cross-check, before anything is printed or
    # listened on: a broken bundle is one line and exit 2
    cloud = CloudHalf(bundle, settings.num_threads, settings.max_items_per_request)
    if source == "generated":
        console.print(f"token (generated; set $HYBRIDSPLIT_TOKEN or --token-file to fix it): {token}", highlight=False)
    else:
        console.print(f"token from {source}", highlight=False)
    url = f"http://{host}:{port}"
    ready = (f"ready: serving {bundle} ({engine.value}, max batch {max_batch}, max wait {max_wait_ms:g} ms) "
             f"at {url}  — POST {url}/v1/predict")
    if engine is Engine.ray:
        _serve_ray(bundle, settings, host, port, replicas, ray_address, ready)
    else:
        _serve_fastapi(bundle, cloud, settings, host, port, ready)


def _serve_fastapi(bundle, cloud, settings, host, port, ready) -> None:
    from hybridsplit.serving.app import create_app
    from hybridsplit.serving.server import serve_forever

    serve_forever(create_app(bundle, settings, cloud), host, port,
                  on_ready=lambda: console.print(ready, highlight=False, soft_wrap=True))


def _serve_ray(bundle, settings, host, port, replicas, address, ready) -> None:
    import signal
    import threading

    from hybridsplit.serving.ray_app import RayServer
    from hybridsplit.serving.server import check_port

    check_port(host, port)
    stop = threading.Event()
    console.print(f"starting Ray Serve ({replicas} replica(s){', cluster ' + address if address else ', local Ray'}) …")
    with RayServer(bundle, settings, host, port, replicas, address):
        # after ray.init, which installs its own SIGTERM handler: Ctrl-C / kill stop Serve and Ray cleanly
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        console.print(ready, highlight=False, soft_wrap=True)
        while not stop.wait(0.5):
            pass
    console.print("Ray Serve stopped")


@user_errors
def client(
    bundle: BundleOpt = Path("bundles/default"),
    server: Annotated[str, typer.Option(help="Server URL.")] = "http://127.0.0.1:8000",
    token_file: TokenFileOpt = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N test windows.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the device's feature noise.")] = 0,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the report as JSON here.")] = None,
) -> None:
    """Run the device half (device.tflite) on the test windows, send features, report accuracy and latency."""
    from rich.progress import Progress

    from hybridsplit.serving.client import run_client
    from hybridsplit.serving.settings import resolve_token

    token, _ = resolve_token(token_file, generate=False)
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("split inference", total=None)
        report = run_client(bundle, server, token, limit, seed,
                            progress=lambda i, n: bar.update(task, completed=i, total=n))
    print_client_report(report, server)
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(report.to_dict(), indent=2) + "\n")


def print_client_report(report, server: str) -> None:
    ref = report.manifest_accuracy
    console.print(f"accuracy {report.accuracy:.4f} on {report.samples} test windows over {server} "
                  f"(bundle tflite_int8: {ref:.4f}{', equal' if ref is not None and abs(ref - report.accuracy) < 1e-12 else ''})"
                  if ref is not None else f"accuracy {report.accuracy:.4f} on {report.samples} test windows", highlight=False)
    console.print(f"{report.bytes_per_request} bytes per request", highlight=False)
    for stage in ("device", "network", "cloud"):
        s = getattr(report, stage)
        console.print(f"  {stage:8} p50 {s.p50_ms:7.3f} ms   p99 {s.p99_ms:7.3f} ms   mean {s.mean_ms:7.3f} ms", highlight=False)
