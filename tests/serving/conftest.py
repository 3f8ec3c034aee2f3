"""Serving fixtures: the default bundle's cloud half, real device messages, a live uvicorn server."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

TOKEN = "test-token-0123456789abcdef"


@pytest.fixture(scope="session")
def token() -> str:
    return TOKEN


@pytest.fixture(scope="session")
def bundle(request) -> Path:
    """The session's default bundle, or $HYBRIDSPLIT_TEST_BUNDLE (e.g. bundles/default) to skip training."""
    env = os.environ.get("HYBRIDSPLIT_TEST_BUNDLE")
    return Path(env) if env else request.getfixturevalue("default_bundle")


@pytest.fixture(scope="session")
def cloud(bundle):
    from hybridsplit.serving.cloud import CloudHalf

    return CloudHalf(bundle)


@pytest.fixture(scope="session")
def device(bundle):
    from hybridsplit.serving.client import DeviceRunner

    return DeviceRunner(bundle)


@pytest.fixture(scope="session")
def messages(device, watch_data) -> list[bytes]:
    """Real wire messages: device.tflite on the first 64 test windows."""
    return [device.message(watch_data.test.x[i]) for i in range(64)]


@pytest.fixture(scope="session")
def expected(bundle, watch_data) -> list[int]:
    """The class each message must get, from an independent answer key (tests/oracle.py): device.tflite
    and cloud.onnx called directly in LiteRT and ONNX Runtime, int8 arithmetic in numpy — not CloudHalf,
    not the client, not the wire codec."""
    from oracle import split_predictions

    return [int(c) for c in split_predictions(bundle, watch_data.test.x[:64])]


@pytest.fixture(scope="module")
def live_server(bundle, token):
    """A real uvicorn server on a free 127.0.0.1 port, stopped after the module. A small body limit
    (4 KiB, enough for 4 int8 feature tensors) keeps oversized-payload tests cheap."""
    from hybridsplit.serving.app import create_app
    from hybridsplit.serving.server import BackgroundServer
    from hybridsplit.serving.settings import ServeSettings

    settings = ServeSettings(token=token, max_batch=16, max_wait_ms=2.0, max_body_bytes=4096,
                             cors_origins=("http://127.0.0.1:8080",))
    app = create_app(bundle, settings)
    with BackgroundServer(app) as url:
        yield url


@pytest.fixture()
def http(live_server, token):
    import httpx

    with httpx.Client(base_url=live_server, headers={"Authorization": f"Bearer {token}"}, timeout=30) as c:
        yield c
