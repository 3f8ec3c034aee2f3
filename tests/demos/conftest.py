"""Demo fixtures: Debian's Chromium driven by playwright-core (web_demo/e2e/browse.mjs), a real
`hybridsplit serve` process on 127.0.0.1, and the web demo's static server. Every browser and
server a test starts is stopped by the fixture that started it."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web_demo"
CHROMIUM = "/usr/bin/chromium"
TOKEN = "demo-test-token-0123456789"


def _need_browser() -> None:
    missing = []
    if not Path(CHROMIUM).exists():
        missing.append(CHROMIUM)
    if not (WEB / "node_modules" / "playwright-core").is_dir():
        missing.append("web_demo/node_modules/playwright-core")
    if not (WEB / "node_modules" / "@litertjs" / "core").is_dir():
        missing.append("web_demo/node_modules/@litertjs/core")
    if shutil.which("node") is None:
        missing.append("node")
    if missing:
        pytest.fail(f"browser tests need {', '.join(missing)}: run `make deps` (.ci/deps.d/demos.sh)")


def browse(job: dict, timeout: float = 150) -> dict:
    """Run one browser job (see web_demo/e2e/browse.mjs) in headless Chromium; its JSON result."""
    _need_browser()
    job = {"chromium": CHROMIUM, **job}
    proc = subprocess.run(["node", str(WEB / "e2e" / "browse.mjs"), json.dumps(job)], cwd=WEB,
                          capture_output=True, text=True, timeout=timeout)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    assert proc.returncode == 0 and lines, f"browser driver failed ({proc.returncode}): {proc.stderr[-2000:]}"
    out = json.loads(lines[-1])
    assert "error" not in out, out["error"]
    return out


def litert_log(text: str) -> bool:
    """LiteRT's WASM prints its own INFO/WARNING log lines through console.error."""
    return text.startswith(("INFO: ", "WARNING: "))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def fresh_samples(default_bundle) -> dict:
    from hybridsplit.demos.samples import export_samples

    return export_samples(default_bundle, 14)


@pytest.fixture(scope="module")
def web_site(default_bundle):
    """The web demo's static server on a free port, in a thread; yields (url, cloud_port)."""
    from hybridsplit.demos.web import DemoSite, make_server, serve_in_thread

    _need_browser()
    cloud_port = free_port()
    site = DemoSite(WEB, default_bundle, f"http://127.0.0.1:{cloud_port}")
    httpd = make_server(site, "127.0.0.1", 0)
    thread = serve_in_thread(httpd)
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", cloud_port
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(10)


@pytest.fixture(scope="module")
def cloud_server(default_bundle, web_site):
    """`hybridsplit serve` as a real process on 127.0.0.1, allowing the web demo's origin (CORS)."""
    import httpx

    origin, port = web_site
    env = {**os.environ, "HYBRIDSPLIT_TOKEN": TOKEN}
    cmd = [sys.executable, "-m", "hybridsplit.cli", "serve", "--bundle", str(default_bundle),
           "--host", "127.0.0.1", "--port", str(port), "--cors-origin", origin]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                pytest.fail(f"hybridsplit serve exited {proc.returncode}: {proc.stdout.read()[-2000:]}")
            try:
                if httpx.get(f"{url}/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("hybridsplit serve did not answer /v1/health within 90 s")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
