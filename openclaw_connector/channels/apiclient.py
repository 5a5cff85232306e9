"""KeepAliveClient: pooled HTTP/1.1 keep-alive connections for the webhook
channels' REST calls (LINE reply/push, WhatsApp Graph).

Why: Tornado's ``simple_httpclient`` opens a new connection for every
request. A webhook channel sends one API call per command, so over HTTPS each
reply paid a TLS handshake, and on loopback the connect/resolve/close alone
cost ~0.6 ms of CPU per reply, more than the whole acknowledgement
(benchmarks/README.md, webhook ingest). This client keeps a few idle
connections per host and speaks HTTP/1.1 through Tornado's own
``HTTP1Connection``, one request at a time per connection.

Limits and rules: at most ``max_per_host`` requests in flight per host (the
rest wait their turn inside the request deadline); idle connections are
dropped after ``idle_sec``; a reused connection that turns out to be closed
before any response byte is retried once on a fresh one (the server never
saw the request); every call has a connect and a total deadline and a
failure comes back as status 599 with ``error`` set, like Tornado's client,
so callers branch on one ``code``.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from dataclasses import dataclass, field
from typing import Optional
from urllib.parse import urlsplit

from tornado import gen, httputil, iostream
from tornado.http1connection import HTTP1Connection, HTTP1ConnectionParameters
from tornado.ioloop import IOLoop
from tornado.tcpclient import TCPClient

MAX_RESPONSE = 8 << 20


@dataclass(frozen=True)
class APIResponse:
    """Status, headers and body of one call; 599 + ``error`` when none arrived."""

    code: int
    headers: httputil.HTTPHeaders = field(default_factory=httputil.HTTPHeaders)
    body: bytes = b""
    error: Optional[BaseException] = None


class _Collector(httputil.HTTPMessageDelegate):
    def __init__(self) -> None:
        self.start_line: Optional[httputil.ResponseStartLine] = None
        self.headers = httputil.HTTPHeaders()
        self.chunks: list[bytes] = []

    def headers_received(self, start_line, headers) -> None:
        self.start_line = start_line  # type: ignore[assignment]
        self.headers = headers

    def data_received(self, chunk: bytes) -> None:
        self.chunks.append(chunk)


class _Stale(Exception):
    """A reused connection was closed before the response started."""


class KeepAliveClient:
    """``await client.fetch(method, url, headers=..., body=...)`` → :class:`APIResponse`."""

    def __init__(self, *, max_per_host: int = 100, idle_sec: float = 30.0,
                 ssl_context: Optional[ssl.SSLContext] = None) -> None:
        self.max_per_host = max_per_host
        self.idle_sec = idle_sec
        self.connections_opened = 0
        self._idle: dict[tuple, list[tuple[iostream.IOStream, float]]] = {}
        self._slots: dict[tuple, asyncio.Semaphore] = {}
        self._tcp = TCPClient()
        self._ssl = ssl_context           # None: the system's CA store, made on first use
        self._closed = False

    def close(self) -> None:
        """Close idle connections; requests in flight finish or fail on their own."""
        self._closed = True
        for streams in self._idle.values():
            for stream, _t in streams:
                stream.close()
        self._idle.clear()
        self._tcp.close()

    async def fetch(self, method: str, url: str, *, headers: Optional[dict] = None,
                    body: bytes = b"", connect_timeout: float = 10.0,
                    request_timeout: float = 20.0) -> APIResponse:
        parts = urlsplit(url)
        https = parts.scheme == "https"
        host = parts.hostname or ""
        port = parts.port or (443 if https else 80)
        key = (https, host, port)
        target = (parts.path or "/") + ("?" + parts.query if parts.query else "")
        deadline = time.monotonic() + request_timeout
        slot = self._slots.setdefault(key, asyncio.Semaphore(self.max_per_host))
        try:
            await asyncio.wait_for(slot.acquire(), request_timeout)
        except asyncio.TimeoutError as exc:
            return APIResponse(599, error=exc)
        try:
            for attempt in range(2):
                # The retry after a stale connection dials afresh: its idle
                # siblings most likely died with it (a server restart).
                stream = self._take_idle(key) if attempt == 0 else None
                reused = stream is not None
                try:
                    if stream is None:
                        stream = await self._connect(key, connect_timeout, deadline)
                    return await self._exchange(key, stream, method, target, parts.netloc,
                                                headers or {}, body, deadline, reused)
                except _Stale:
                    continue
                except (OSError, iostream.StreamClosedError, gen.TimeoutError,
                        asyncio.TimeoutError, httputil.HTTPInputError) as exc:
                    if stream is not None:
                        stream.close()
                    return APIResponse(599, error=exc)
            return APIResponse(599, error=iostream.StreamClosedError())
        finally:
            slot.release()

    def _take_idle(self, key: tuple) -> Optional[iostream.IOStream]:
        streams = self._idle.get(key, [])
        now = time.monotonic()
        while streams and now - streams[0][1] >= self.idle_sec:   # oldest first: expired
            streams.pop(0)[0].close()
        while streams:
            stream, since = streams.pop()
            if not stream.closed() and now - since < self.idle_sec:
                return stream
            stream.close()
        return None

    async def _connect(self, key: tuple, connect_timeout: float,
                       deadline: float) -> iostream.IOStream:
        https, host, port = key
        if https and self._ssl is None:
            self._ssl = ssl.create_default_context()
        timeout = min(connect_timeout, max(0.0, deadline - time.monotonic()))
        # TCPClient sends ``host`` as the TLS server name and verifies it.
        stream = await self._tcp.connect(host, port, ssl_options=self._ssl if https else None,
                                         timeout=timeout)
        stream.set_nodelay(True)
        self.connections_opened += 1
        return stream

    async def _exchange(self, key: tuple, stream: iostream.IOStream, method: str,
                        target: str, netloc: str, headers: dict, body: bytes,
                        deadline: float, reused: bool) -> APIResponse:
        conn = HTTP1Connection(stream, True, HTTP1ConnectionParameters(
            no_keep_alive=False, max_body_size=MAX_RESPONSE, decompress=False))
        request_headers = httputil.HTTPHeaders({"Host": netloc, "Connection": "keep-alive",
                                                "Accept-Encoding": "identity"})
        for name, value in headers.items():
            request_headers[name] = value
        if body or method in ("POST", "PUT", "PATCH"):
            request_headers["Content-Length"] = str(len(body))
        collector = _Collector()

        async def run() -> bool:
            conn.write_headers(httputil.RequestStartLine(method, target, "HTTP/1.1"),
                               request_headers, body or None)
            conn.finish()
            return await conn.read_response(collector)

        try:
            ok = await gen.with_timeout(_ioloop_deadline(deadline), run(),
                                        quiet_exceptions=(iostream.StreamClosedError,))
        except iostream.StreamClosedError:
            if reused and collector.start_line is None:
                stream.close()
                raise _Stale() from None
            raise
        if not ok or collector.start_line is None:
            stream.close()
            if reused:
                raise _Stale()
            raise iostream.StreamClosedError()
        response = APIResponse(collector.start_line.code, collector.headers,
                               b"".join(collector.chunks))
        keep = ("close" not in collector.headers.get("Connection", "").lower()
                and collector.start_line.version == "HTTP/1.1" and not self._closed)
        detached = conn.detach()
        if keep and not detached.closed():
            self._idle.setdefault(key, []).append((detached, time.monotonic()))
        else:
            detached.close()
        return response


def _ioloop_deadline(deadline: float) -> float:
    """Convert a ``time.monotonic()`` deadline to the IOLoop's clock."""
    return IOLoop.current().time() + max(0.0, deadline - time.monotonic())
