"""`hybridsplit serve` and `hybridsplit client` as a user runs them (real processes, 127.0.0.1)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest
from oracle import split_predictions

from hybridsplit.serving.server import free_port

HS = [sys.executable, "-m", "hybridsplit.cli"]


def _env(token: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HYBRIDSPLIT_TOKEN")}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    if token:
        env["HYBRIDSPLIT_TOKEN"] = token
    return env


@pytest.fixture(scope="module")
def served(bundle, token):
    port = free_port()
    proc = subprocess.Popen([*HS, "serve", "--bundle", str(bundle), "--port", str(port), "--cors-origin",
                             "http://127.0.0.1:9999"], env=_env(token), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    lines = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("ready:"):
                break
        assert lines and lines[-1].startswith("ready:"), "".join(lines)
        yield f"http://127.0.0.1:{port}", lines
    finally:
        proc.terminate()
        proc.wait(30)


@pytest.mark.slow
def test_serve_prints_ready_and_client_reports_accuracy_and_latency(served, bundle, token, tmp_path, watch_data):
    url, lines = served
    assert url in lines[-1] and "token from $HYBRIDSPLIT_TOKEN" in "".join(lines)
    out = tmp_path / "client.json"
    r = subprocess.run([*HS, "client", "--bundle", str(bundle), "--server", url, "--limit", "100", "--json", str(out)],
                       env=_env(token), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "accuracy" in r.stdout and "network" in r.stdout and "cloud" in r.stdout and "device" in r.stdout
    report = json.loads(out.read_text())
    # the answer key: the bundle's two files run directly in LiteRT and ONNX Runtime (tests/oracle.py)
    expected = split_predictions(bundle, watch_data.test.x[:100])
    assert report["samples"] == 100
    assert report["accuracy"] == float(np.mean(expected == watch_data.test.primary[:100]))


@pytest.mark.slow
def test_client_with_a_wrong_token_fails_in_one_line(served, bundle):
    url, _ = served
    r = subprocess.run([*HS, "client", "--bundle", str(bundle), "--server", url, "--limit", "1"],
                       env=_env("wrong-token-wrong-token"), capture_output=True, text=True, timeout=300)
    assert r.returncode == 2
    assert "401" in r.stdout and "Traceback" not in r.stdout + r.stderr


def test_serve_a_missing_bundle_fails_in_one_line(tmp_path, token):
    r = subprocess.run([*HS, "serve", "--bundle", str(tmp_path / "nope"), "--port", str(free_port())],
                       env=_env(token), capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "manifest.json" in r.stdout and "Traceback" not in r.stdout + r.stderr


def test_serve_refuses_a_short_token(bundle):
    r = subprocess.run([*HS, "serve", "--bundle", str(bundle), "--port", str(free_port())],
                       env=_env("short"), capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "at least 16" in r.stdout


def test_serve_on_a_busy_port_fails_in_one_line(bundle, token):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = subprocess.run([*HS, "serve", "--bundle", str(bundle), "--port", str(port)],
                           env=_env(token), capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "pick another --port" in r.stdout


def test_client_without_a_token_says_how_to_give_one(bundle):
    r = subprocess.run([*HS, "client", "--bundle", str(bundle), "--server", "http://127.0.0.1:9", "--limit", "1"],
                       env=_env(None), capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "HYBRIDSPLIT_TOKEN" in r.stdout
