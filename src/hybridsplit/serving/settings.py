"""Server settings: one frozen, validated object passed to create_app (and the Ray deployment)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hybridsplit.errors import HybridsplitError

TOKEN_ENV = "HYBRIDSPLIT_TOKEN"
TOKEN_FILE_ENV = "HYBRIDSPLIT_TOKEN_FILE"


class HttpLimits(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    max_headers: int = Field(64, ge=8, le=1000)
    """Most header lines per request (431 beyond)."""
    max_header_bytes: int = Field(16 * 1024, ge=1024, le=1024 * 1024)
    """Most bytes of request line + headers (431 beyond)."""
    header_timeout_s: float = Field(10.0, gt=0, le=600)
    """Time from a connection's start, or a request's first byte, to the end of its headers (408)."""
    body_timeout_s: float = Field(10.0, gt=0, le=600)
    """Time from the end of the headers to the end of the body (408): a length lie cannot hang."""
    keep_alive_s: float = Field(5.0, gt=0, le=600)
    """An idle keep-alive connection is closed this long after its last answer."""
    max_connections: int = Field(1000, ge=1, le=100_000)
    """Open connections beyond this are answered 503 and closed; the server lowers it to fit `ulimit -n`."""


class ServeSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    token: str = Field(min_length=16, repr=False)
    """Bearer token every predict/info request must carry (compared in constant time)."""
    max_batch: int = Field(64, ge=1, le=4096)
    """Most feature tensors run through cloud.onnx at once (1 = no batching)."""
    max_wait_ms: float = Field(2.0, ge=0, le=1000)
    """How long the first request of a batch waits for others to join it."""
    max_items_per_request: int = Field(64, ge=1, le=4096)
    max_body_bytes: int = Field(256 * 1024, ge=64)
    """Bodies larger than this are refused with 413 before they are read in full."""
    num_threads: int = Field(1, ge=1, le=64)
    """ONNX Runtime intra-op threads."""
    cors_origins: tuple[str, ...] = ()
    """Browser origins allowed to call the API (e.g. http://127.0.0.1:8080 for the web demo)."""
    http: HttpLimits = HttpLimits()
    """Connection-level limits: header count and size, timeouts, open connections (serving/protocol.py)."""

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origins(cls, v):
        return tuple(v or ())


def resolve_token(token_file: str | Path | None = None, generate: bool = True) -> tuple[str, str]:
    """(token, where it came from): --token-file, else $HYBRIDSPLIT_TOKEN, else $HYBRIDSPLIT_TOKEN_FILE, else a new one."""
    if token_file:
        return _read_token(Path(token_file)), f"file {token_file}"
    if os.environ.get(TOKEN_ENV):
        token = os.environ[TOKEN_ENV].strip()
        if len(token) < 16:
            raise HybridsplitError(f"${TOKEN_ENV} is {len(token)} characters; use at least 16")
        return token, f"${TOKEN_ENV}"
    if os.environ.get(TOKEN_FILE_ENV):
        path = os.environ[TOKEN_FILE_ENV]
        return _read_token(Path(path)), f"file {path}"
    if not generate:
        raise HybridsplitError(f"No token: set ${TOKEN_ENV}, or pass --token-file with the server's token")
    return secrets.token_urlsafe(24), "generated"


def _read_token(path: Path) -> str:
    if not path.is_file():
        raise HybridsplitError(f"Token file '{path}' not found; write the bearer token (16+ characters) into it")
    token = path.read_text().strip()
    if len(token) < 16:
        raise HybridsplitError(f"Token in '{path}' is {len(token)} characters; use at least 16")
    return token
