"""Ray Serve's HTTP proxy, hardened like the FastAPI engine: same protocol limits, same JSON errors.

Ray Serve runs its own uvicorn in a proxy actor and exposes only a keep-alive timeout. Its proxy
callback (`RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH`, called in the proxy process before uvicorn
starts) is the supported hook: `harden()` points uvicorn's protocol at `hardened_protocol(limits)`
and returns the JsonErrors middleware that wraps the proxy's answers. The limits travel as JSON in
`HYBRIDSPLIT_HTTP_LIMITS`. `RayServer` sets both variables before it starts a local Ray; on a
cluster, export them on every node before `ray start` (`proxy_env(settings)` prints them).
"""

from __future__ import annotations

import os

from hybridsplit.serving.settings import HttpLimits

CALLBACK_ENV = "RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH"
LIMITS_ENV = "HYBRIDSPLIT_HTTP_LIMITS"
CALLBACK = "hybridsplit.serving.ray_proxy.harden"


def proxy_env(limits: HttpLimits) -> dict[str, str]:
    """The environment a Ray node's proxy needs to be hardened with `limits`."""
    return {CALLBACK_ENV: CALLBACK, LIMITS_ENV: limits.model_dump_json()}


def harden() -> list:
    """Ray's proxy callback: install the hardened protocol for uvicorn, return the JSON-errors middleware."""
    import uvicorn.protocols.http.auto as auto
    from starlette.middleware import Middleware

    from hybridsplit.serving.json_errors import JsonErrors
    from hybridsplit.serving.protocol import hardened_protocol
    from hybridsplit.serving.server import fitted_limits

    raw = os.environ.get(LIMITS_ENV)
    limits = HttpLimits.model_validate_json(raw) if raw else HttpLimits()
    # uvicorn.Config(http="auto") resolves this attribute when the proxy's server loads
    auto.AutoHTTPProtocol = hardened_protocol(fitted_limits(limits))
    return [Middleware(JsonErrors)]
