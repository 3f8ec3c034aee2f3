"""Run an ASGI app under uvicorn: in the foreground (`hybridsplit serve`) or in a thread (tests, demo).

Both run the hardened protocol (serving/protocol.py) with the limits the app carries
(`app.state.http_limits`, set by create_app from ServeSettings.http), and give a CloudApp's device
requests the protocol-level predict path (serving/fast_path.py).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable

from hybridsplit.errors import TargetError
from hybridsplit.serving.settings import HttpLimits


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def fitted_limits(limits: HttpLimits) -> HttpLimits:
    """`limits` with max_connections lowered to leave 64 descriptors of `ulimit -n` for the rest of the
    process (model, logs, listening socket): past the fd limit accept() fails and nobody gets an answer."""
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or limits.max_connections <= soft - 64:
        return limits
    return limits.model_copy(update={"max_connections": max(1, soft - 64)})


def _config(app, host: str, port: int, log_level: str, fast_path: bool = True):
    import uvicorn

    from hybridsplit.serving.protocol import hardened_protocol

    limits = fitted_limits(getattr(app.state, "http_limits", None) or HttpLimits())
    # proxy_headers off: nothing here reads the client address, and the X-Forwarded-* middleware
    # it adds is one more ASGI layer on every request
    return uvicorn.Config(app, host=host, port=port, log_level=log_level, access_log=False,
                          timeout_graceful_shutdown=5, backlog=2048, proxy_headers=False,
                          http=hardened_protocol(limits, app if fast_path and hasattr(app, "fast_route") else None),
                          timeout_keep_alive=limits.keep_alive_s)


def check_port(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            raise TargetError(f"Cannot listen on {host}:{port} ({exc.strerror}); pick another --port") from None


def serve_forever(app, host: str, port: int, on_ready: Callable[[], None] | None = None,
                  log_level: str = "warning") -> None:
    """Blocking; calls on_ready once the socket accepts connections (after the lifespan loaded the model)."""
    import uvicorn

    check_port(host, port)
    server = uvicorn.Server(_config(app, host, port, log_level))
    if on_ready is not None:
        orig = server.startup

        async def startup(sockets=None):
            await orig(sockets)
            if server.started:
                on_ready()

        server.startup = startup
    server.run()
    if not server.started:
        raise TargetError(f"The server on {host}:{port} did not start; see the log above")


class BackgroundServer:
    """`with BackgroundServer(app) as url:` — uvicorn on a free loopback port in a thread, stopped on exit.
    `fast_path=False` sends every request through ASGI (tests compare the two paths' answers)."""

    def __init__(self, app, host: str = "127.0.0.1", port: int | None = None, log_level: str = "warning",
                 fast_path: bool = True):
        import uvicorn

        self.host, self.port = host, port or free_port(host)
        self.server = uvicorn.Server(_config(app, self.host, self.port, log_level, fast_path))
        self.thread = threading.Thread(target=self.server.run, name=f"uvicorn:{self.port}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                self.__exit__(None, None, None)
                raise TargetError(f"background server on {self.url} did not start")
            time.sleep(0.02)
        return self.url

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
