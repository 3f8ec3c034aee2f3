"""Static server of the browser demo (web_demo/): the page, LiteRT.js from node_modules, one bundle.

Routes (GET only, everything else 405):
    /                      web_demo/index.html, and the page's own files (app.js, ...)
    /vendor/@litertjs/...  web_demo/node_modules/@litertjs/... (LiteRT.js and its WASM)
    /bundle/manifest.json  the bundle's manifest, and /bundle/<file> for each file it lists
    /bundle/samples.json   test-split windows of the bundle (raw units), made at start-up
    /config.json           {"server": default cloud URL} (the token is never served)

The cloud half is `hybridsplit serve`, started with --cors-origin set to this server's origin.
"""

from __future__ import annotations

import json
import mimetypes
import threading
from functools import partial
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from hybridsplit.bundle.manifest import MANIFEST_NAME, verify_bundle
from hybridsplit.demos.samples import SAMPLES_NAME, export_samples
from hybridsplit.errors import BundleError

PAGE_FILES = ("index.html", "app.js", "device.js", "wire.js", "sha256.js", "style.css")
TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm",
         ".json": "application/json", ".html": "text/html; charset=utf-8", ".css": "text/css",
         ".tflite": "application/octet-stream", ".onnx": "application/octet-stream", ".map": "application/json"}


class DemoSite:
    """What the server hands out, fixed at start-up."""

    def __init__(self, web_root: str | Path, bundle_dir: str | Path, cloud_url: str = "", n_samples: int = 16):
        self.web_root = Path(web_root).resolve()
        self.vendor = (self.web_root / "node_modules" / "@litertjs").resolve()
        if not (self.web_root / "index.html").is_file():
            raise BundleError(f"'{web_root}' has no index.html; pass --web web_demo")
        if not (self.vendor / "core" / "wasm").is_dir():
            raise BundleError(f"LiteRT.js is not installed in '{self.web_root / 'node_modules'}'; "
                              "run `bash .ci/deps.d/demos.sh` (npm ci in web_demo/)")
        self.bundle_dir = Path(bundle_dir).resolve()
        manifest = verify_bundle(self.bundle_dir)
        self.bundle_files = {MANIFEST_NAME, *manifest.files}
        self.samples = json.dumps(export_samples(self.bundle_dir, n_samples), separators=(",", ":")).encode()
        self.config = json.dumps({"server": cloud_url}).encode()

    def resolve(self, url_path: str) -> Path | bytes | None:
        path = unquote(urlsplit(url_path).path)
        if path in ("/", ""):
            return self.web_root / "index.html"
        if path == "/config.json":
            return self.config
        if path == f"/bundle/{SAMPLES_NAME}":
            return self.samples
        if path.startswith("/bundle/"):
            name = path[len("/bundle/"):]
            return self.bundle_dir / name if name in self.bundle_files else None
        if path.startswith("/vendor/@litertjs/"):
            target = (self.vendor / path[len("/vendor/@litertjs/"):]).resolve()
            return target if target.is_relative_to(self.vendor) and target.is_file() else None
        name = path.lstrip("/")
        return self.web_root / name if name in PAGE_FILES else None


class _Handler(BaseHTTPRequestHandler):
    server_version = "hybridsplit-web-demo"

    def __init__(self, *args, site: DemoSite, **kwargs):
        self.site = site
        super().__init__(*args, **kwargs)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - quiet; the page shows what happens
        pass

    def do_GET(self) -> None:  # noqa: N802
        target = self.site.resolve(self.path)
        if target is None or (isinstance(target, Path) and not target.is_file()):
            self.send_error(HTTPStatus.NOT_FOUND, "not part of the web demo")
            return
        if isinstance(target, bytes):
            body, ctype = target, "application/json"
        else:
            body = target.read_bytes()
            ctype = TYPES.get(target.suffix) or mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        # cross-origin isolation: the page's performance.now() then ticks in 5 µs, not 100 µs steps,
        # so the on-device time of a ~0.05 ms model reads as a time, not 0. The cloud half is still
        # reachable: a CORS fetch passes require-corp.
        self.send_header("Cross-Origin-Opener-Policy", "same-origin")
        self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        self.end_headers()
        self.wfile.write(body)

    def _refuse(self) -> None:
        self.send_error(HTTPStatus.METHOD_NOT_ALLOWED, "the web demo is read-only")

    do_POST = do_PUT = do_DELETE = do_PATCH = _refuse  # noqa: N815


def make_server(site: DemoSite, host: str = "127.0.0.1", port: int = 8080) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer((host, port), partial(_Handler, site=site))
    server.daemon_threads = True
    return server


def serve_in_thread(server: ThreadingHTTPServer) -> threading.Thread:
    t = threading.Thread(target=server.serve_forever, name="web-demo", daemon=True)
    t.start()
    return t
