"""The device client against a server it cannot use: nothing listening, and a live server with
another bundle (refused by the client before sending, and by the server if sent anyway). Real
uvicorn on 127.0.0.1; the expected classes come from tests/oracle.py, not from the server's code."""

from __future__ import annotations

import json
import shutil

import pytest

from hybridsplit.errors import TargetError
from hybridsplit.serving.server import free_port


@pytest.fixture(scope="module")
def other_server(bundle, token, tmp_path_factory):
    """A server for another bundle: the same files, a different manifest.json (so another bundle id)."""
    from hybridsplit.serving.app import create_app
    from hybridsplit.serving.server import BackgroundServer
    from hybridsplit.serving.settings import ServeSettings

    other = tmp_path_factory.mktemp("other") / "bundle"
    shutil.copytree(bundle, other)
    raw = json.loads((other / "manifest.json").read_text())
    raw["created"] = "2000-01-01T00:00:00Z"
    (other / "manifest.json").write_text(json.dumps(raw, indent=2))
    with BackgroundServer(create_app(other, ServeSettings(token=token))) as url:
        yield url, other


def test_client_against_no_server_is_one_clear_error(bundle, token):
    from hybridsplit.serving.client import CloudClient, run_client

    url = f"http://127.0.0.1:{free_port()}"  # a free port: nothing listens there
    with pytest.raises(TargetError, match=f"Cannot reach the server at {url}.*is `hybridsplit serve` running"):
        run_client(bundle, url, token, limit=1)
    with CloudClient(url, token) as c, pytest.raises(TargetError, match="Cannot reach the server"):
        c.predict(b"\0" * 64)


def test_client_refuses_a_server_with_another_bundle(bundle, token, other_server):
    from hybridsplit.serving.client import run_client

    url, other = other_server
    with pytest.raises(TargetError, match=f"The server at {url} serves bundle .*not {bundle}.*start it with --bundle"):
        run_client(bundle, url, token, limit=1)


def test_a_message_for_another_bundle_is_409_and_the_right_one_answers(other_server, token, messages, watch_data):
    import httpx
    from oracle import split_predictions

    from hybridsplit.serving.client import DeviceRunner

    url, other = other_server
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-hybridsplit-features"}
    with httpx.Client(base_url=url, headers=headers, timeout=30) as http:
        r = http.post("/v1/predict", content=messages[0])  # sent for the session's bundle
        assert r.status_code == 409 and "does not match this server's bundle" in r.json()["detail"]
        ok = http.post("/v1/predict", content=DeviceRunner(other).message(watch_data.test.x[0]))
        assert ok.status_code == 200
        assert ok.json()["predictions"][0]["index"] == int(split_predictions(other, watch_data.test.x[:1])[0])
