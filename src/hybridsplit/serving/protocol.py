"""uvicorn's httptools protocol with the connection-level limits it lacks, for both engines.

uvicorn bounds neither the number nor the size of request headers (100,000 headers, or one 16 MB
header, were read and answered), closes no connection that never sends a request or stops halfway
(300 idle sockets exhausted a 256-fd limit; a Content-Length longer than the body hung until the
client gave up), and answers its own errors in plain text. `hardened_protocol(limits)` is a
subclass that:

- counts header bytes as they arrive and header lines as they are parsed: 431 past either limit;
- gives each request `header_timeout_s` from its first byte (or from the connection's start) to
  finish its headers and `body_timeout_s` to finish its body: 408, then close; an idle connection
  that never started a request is closed silently (as uvicorn's keep-alive timeout does later);
- answers 503 and closes any connection past `max_connections`, before it can hold a descriptor
  waiting for a request;
- serves `Upgrade: h2c` (and any other Upgrade) requests as plain HTTP/1.1 (RFC 9113 3.2: a server
  may ignore the upgrade), body included (llhttp stops at an Upgrade request's headers);
- writes every error it answers itself as `{"detail": ...}` JSON.

The FastAPI engine passes the class to uvicorn (`server.py`); Ray Serve's proxy gets it through its
proxy callback (`ray_proxy.py`).
"""

from __future__ import annotations

import httptools  # uvicorn's fast parser: requirements/base.txt pins it (and ray[serve] pulls it in)
import orjson
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from hybridsplit.serving import fast_path
from hybridsplit.serving.settings import HttpLimits

SWEEP_S = 0.25  # how often deadlines are checked: a timeout fires up to this late


def error_response(status: int, detail: str, extra: bytes = b"") -> bytes:
    body = orjson.dumps({"detail": detail})
    return b"".join([STATUS_LINE[status], b"content-type: application/json\r\n", extra,
                     b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body), body])


class HardenedProtocol(HttpToolsProtocol):
    limits: HttpLimits = HttpLimits()
    predict_app = None  # a CloudApp whose plain device requests take serving/fast_path.py (None: all go to ASGI)
    # plain numbers for the hot path
    _max_headers, _max_head, _head_timeout = limits.max_headers, limits.max_header_bytes, limits.header_timeout_s
    _keep_alive = limits.keep_alive_s

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._deadline: float | None = None  # loop time by which the current phase must end
        self._in_head = True  # waiting for the end of a request's headers
        self._begun = False  # a request's first byte arrived
        self._head_bytes = 0
        self._header_count = self._header_size = 0
        self._refusal: tuple[int, str] | None = None
        self._pending: tuple[int, str] | None = None  # a refusal due once the answer in progress is sent
        self._upgrade_left: int | None = None  # body bytes still due on an h2c request served as HTTP/1.1

    # -- connection -------------------------------------------------------------------------------
    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            self._refuse(503, f"the server holds its limit of {self.limits.max_connections} connections; retry later",
                         b"retry-after: 1\r\n")
            return
        self._arm(self.limits.header_timeout_s)
        self._start_sweeping()

    def connection_lost(self, exc) -> None:
        self._disarm()
        cycle = self.cycle
        super().connection_lost(exc)
        if type(cycle) is fast_path.PredictCycle:
            cycle.on_disconnect()

    def data_received(self, data: bytes) -> None:
        if self._upgrade_left is not None:  # the rest of an h2c request's body
            self._upgrade_body(data)
            return
        if self._in_head:  # a request's head starts (its deadline) or goes on
            if not self._begun:
                self._begun = True
                self._deadline = self.loop.time() + self._head_timeout
            self._head_bytes += len(data)
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            self._serve_upgrade_as_http1(data[exc.args[0]:] if exc.args else b"")
            return
        except httptools.HttpParserError:
            refusal = self._refusal or (400, "malformed HTTP request")
            cycle = self.cycle
            if cycle is not None and not cycle.more_body and not cycle.response_complete:
                self._pending = refusal  # a pipelined request is bad: answer it after the one before it
                self.flow.pause_reading()
            else:
                self._refuse(*refusal)
            return
        if self._in_head and self._head_bytes > self._max_head:
            self._refuse(431, f"request headers are over {self._max_head} bytes")

    def _serve_upgrade_as_http1(self, rest: bytes) -> None:
        """llhttp ends an Upgrade request (`curl --http2` on http:// sends `Upgrade: h2c`) at its headers
        and hands back the rest as the new protocol's bytes; here they are the request's body, read up
        to its Content-Length. The answer is HTTP/1.1, and the connection closes after it."""
        cycle = self.cycle
        if cycle is None or cycle.response_complete:
            self.transport.close()
            return
        headers = dict(self.headers)
        if b"chunked" in headers.get(b"transfer-encoding", b"").lower():
            self._refuse(400, "a chunked body with 'Upgrade: h2c' is not served; send the request without Upgrade")
            return
        cycle.keep_alive, cycle.more_body = False, True
        self._upgrade_left = int(headers.get(b"content-length", b"0") or 0)
        self._arm(self.limits.body_timeout_s)
        self._upgrade_body(rest)

    def _upgrade_body(self, data: bytes) -> None:
        cycle = self.cycle
        if cycle.response_complete:  # answered already (e.g. 413 on the declared length): drop the rest
            return
        take = data[:self._upgrade_left]
        self._upgrade_left -= len(take)
        cycle.body += take
        if self._upgrade_left == 0:
            self._upgrade_left, cycle.more_body = None, False
            self._disarm()
        cycle.message_event.set()

    # -- parser callbacks -------------------------------------------------------------------------
    def on_message_begin(self) -> None:
        """uvicorn's, without the ASGI scope: it is built in on_headers_complete, and only for a request
        that takes the ASGI path (a device request on the fast path never needs one)."""
        self.url = b""
        self.expect_100_continue = False
        self.headers = []

    def _build_scope(self) -> None:
        self.scope = {"type": "http", "asgi": {"version": self.asgi_version, "spec_version": "2.3"},
                      "http_version": "1.1", "server": self.server, "client": self.client, "scheme": self.scheme,
                      "root_path": self.root_path, "headers": self.headers, "state": self.app_state.copy()}

    # on_url and on_header replace uvicorn's (same effect, limits added) rather than call them: they run
    # once per header line of every request, and a second Python frame each shows in the load benchmark
    def on_url(self, url: bytes) -> None:
        self.url += url
        if len(self.url) > self._max_head:
            self._refusal = (414, f"request target is over {self._max_head} bytes")
            raise ValueError("url too long")  # httptools turns it into HttpParserCallbackError

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        self._header_size += len(name) + len(value) + 4
        if self._header_count > self._max_headers:
            self._refusal = (431, f"more than {self._max_headers} request headers")
            raise ValueError("too many headers")
        if self._header_size + len(self.url) > self._max_head:  # a head that came in one read
            self._refusal = (431, f"request headers are over {self._max_head} bytes")
            raise ValueError("headers too large")
        name = name.lower()
        if name == b"expect" and value.lower() == b"100-continue":
            self.expect_100_continue = True
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._arm(self.limits.body_timeout_s)
        app = self.predict_app
        if app is not None and self.url == fast_path.PATH and app.fast_route is not None and self._take_fast(app):
            return
        self._build_scope()
        super().on_headers_complete()

    def _take_fast(self, app) -> bool:
        """Serve this request on the protocol-level predict path (serving/fast_path.py) if it is a plain
        device request; False sends it to uvicorn's ASGI path."""
        parser = self.parser
        if parser.get_method() != b"POST" or parser.should_upgrade():
            return False
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:  # pipelined: uvicorn queues it
            return False
        if self.flow.write_paused:  # the client is not reading its answers: ASGI's send waits for it to drain,
            return False            # and meanwhile this connection's next requests queue unread
        authorization = content_type = content_length = None
        for name, value in self.headers:
            if name == b"authorization":
                authorization = value
            elif name == b"content-type":
                content_type = value
            elif name == b"content-length":
                content_length = value
            elif name == b"origin":  # a browser: the middleware stack answers, for CORS
                return False
        keep_alive = parser.get_http_version() != "1.0" and parser.should_keep_alive()
        self.cycle = fast_path.PredictCycle(self, app.fast_route, keep_alive)
        self.cycle.start(authorization, content_type, content_length, self.expect_100_continue)
        return True

    def on_body(self, body: bytes) -> None:
        cycle = self.cycle
        if type(cycle) is fast_path.PredictCycle:
            cycle.on_body(body)
        else:
            super().on_body(body)

    def on_response_complete(self) -> None:
        """uvicorn's, with the keep-alive timeout as a deadline for the sweep instead of a call_later
        armed here and cancelled by the next request's first bytes (two timer operations per request)."""
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self.flow.resume_reading()
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
        elif not self._begun:  # nothing of the next request yet: idle from here
            self._deadline = self.loop.time() + self._keep_alive
        if self._pending is not None:
            self._refuse(*self._pending)

    def on_message_complete(self) -> None:
        # the parser now waits for the next request's head (not at the response: an early 413 is answered
        # while the body still streams in, and those bytes are no header)
        cycle = self.cycle
        # answered before its body ended (an early 401 or 413): idle from here, else no deadline while it is served
        self._deadline = self.loop.time() + self._keep_alive if cycle is not None and cycle.response_complete else None
        self._in_head, self._begun, self._head_bytes, self._header_count, self._header_size = True, False, 0, 0, 0
        if type(cycle) is fast_path.PredictCycle:
            cycle.on_complete()
        else:
            super().on_message_complete()

    # -- timers and refusals ----------------------------------------------------------------------
    def _arm(self, seconds: float) -> None:
        """A deadline, not a timer: one sweep per server checks them all (`_sweep`), where a call_later and
        a cancel per request phase cost several microseconds on the hot path."""
        self._deadline = self.loop.time() + seconds

    def _disarm(self) -> None:
        self._deadline = None

    def _start_sweeping(self) -> None:
        state = self.server_state
        if not getattr(state, "hybridsplit_sweeping", False):
            state.hybridsplit_sweeping = True
            self.loop.call_later(SWEEP_S, _sweep, self.loop, state)

    def _timed_out(self) -> None:
        if self.transport.is_closing():
            return
        if not self._begun:  # never sent a byte: an idle connection, closed without an answer
            self.transport.close()
        elif self._in_head:
            self._refuse(408, f"request headers not complete within {self.limits.header_timeout_s:g} s")
        elif self.cycle is not None and self.cycle.response_started:  # answered early (401, 413): just close
            self.transport.close()
        else:
            self._refuse(408, f"request body not complete within {self.limits.body_timeout_s:g} s")

    def _refuse(self, status: int, detail: str, extra: bytes = b"") -> None:
        """Answer `status` unless an answer has started, then close the connection."""
        self._disarm()
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if cycle is None or not cycle.response_started or cycle.response_complete:
            self.transport.write(error_response(status, detail, extra))
        if cycle is not None and not cycle.response_complete:
            cycle.disconnected = True  # the app's own answer, if it comes, is dropped
            cycle.message_event.set()
        self.transport.close()

    def _should_upgrade(self) -> bool:  # nothing here speaks WebSocket: every Upgrade is served as HTTP/1.1
        return False

    def send_400_response(self, msg: str) -> None:  # uvicorn's own path, for completeness
        self._refuse(400, msg)


def _sweep(loop, state) -> None:
    """Time out every connection of one server whose deadline passed; runs while it has connections."""
    if not state.connections:
        state.hybridsplit_sweeping = False
        return
    now = loop.time()
    for conn in list(state.connections):
        deadline = getattr(conn, "_deadline", None)
        if deadline is not None and now >= deadline:
            conn._deadline = None
            conn._timed_out()
    loop.call_later(SWEEP_S, _sweep, loop, state)


def hardened_protocol(limits: HttpLimits, predict_app=None) -> type[HardenedProtocol]:
    """A HardenedProtocol class bound to `limits` (uvicorn instantiates the class per connection);
    with `predict_app` (a CloudApp), its device requests to /v1/predict take the protocol-level path."""
    return type("HardenedProtocol", (HardenedProtocol,), {"limits": limits, "_max_headers": limits.max_headers,
                                                          "_max_head": limits.max_header_bytes,
                                                          "_head_timeout": limits.header_timeout_s,
                                                          "_keep_alive": limits.keep_alive_s,
                                                          "predict_app": predict_app})
