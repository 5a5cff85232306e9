"""KeepAliveClient: pooled HTTP/1.1 keep-alive connections for every outbound
HTTP call: the platform APIs (Telegram, Discord REST, LINE, WhatsApp Graph)
and OpenClaw/ComfyUI. ``net/transport.py`` puts Tornado's ``fetch``
surface in front of it for the callers written against that.

Why: Tornado's ``simple_httpclient`` opens a new connection for every
request. A webhook channel sends one API call per command, so over HTTPS each
reply paid a TLS handshake, and on loopback the connect/resolve/close alone
cost ~0.6 ms of CPU per reply, more than the whole acknowledgement
(benchmarks/README.md, webhook ingest). This client keeps idle connections
per host and speaks the small part of HTTP/1.1 these APIs need.

Why an asyncio protocol on the IOLoop's own asyncio loop rather than a
Tornado ``IOStream``: a reply is the single largest cost of a webhook, and an
IOStream re-registers its socket with epoll for every read and wraps every
read in a Future; a protocol stays registered and parses the bytes as they
arrive. Measured on loopback: ~35 µs of CPU per call against ~75-95 µs
through an IOStream, ~250 µs through ``HTTP1Connection`` (issue 6); ~27 µs
since it reads into one reused buffer (``connection.py``, issue 21).

Limits and rules: at most ``max_per_host`` requests in flight per host (the
rest wait their turn inside the request deadline); idle connections are
dropped after ``idle_sec``; a reused connection that turns out to be closed
before any response byte is retried once on a fresh one (the server never
saw the request); every call has a connect and a total deadline. A call that
got no answer raises :class:`ApiTimeout` (the deadline passed) or
:class:`ApiUnreachable` (refused, broken, malformed), never a made-up status,
so a caller cannot mistake it for a server's reply. Responses are framed by
``Content-Length``, chunked encoding or the end of the connection, and
capped at ``max_body`` bytes (MAX_RESPONSE by default). A header with a
line break is refused (ValueError) rather than sent.

Proxies (``net/proxy.py`` decides which call uses one): an https://
call dials the proxy, asks for a ``CONNECT host:port`` tunnel and starts TLS
inside it (certificate checked against the real host name); an http:// call
is sent to the proxy with the absolute URL as its target. A refused tunnel
fails as ApiUnreachable caused by :class:`ProxyError`. ``close()`` also aborts calls in
flight (a Telegram long poll), so nothing outlives the daemon's stop.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import time
from dataclasses import dataclass, field
from typing import Callable, NamedTuple, Optional
from urllib.parse import urlsplit

from tornado import httputil

from openclaw_connector.net.connection import (MAX_RESPONSE, Connection, ConnectionClosed,
                                               RawResponse, ReceiveBuffer)
from openclaw_connector.net.proxy import Proxy, connect_request

__all__ = ["MAX_RESPONSE", "APIResponse", "ApiTimeout", "ApiUnreachable", "ConnectionClosed",
           "KeepAliveClient", "ProxyError"]


@dataclass(frozen=True)
class APIResponse:
    """Status, headers and body of the server's answer to one call."""

    code: int
    headers: httputil.HTTPHeaders = field(default_factory=httputil.HTTPHeaders)
    body: bytes = b""


@dataclass(frozen=True)
class PoolView:
    """:meth:`KeepAliveClient.introspect`: connections dialled so far (reuse shows as
    calls outnumbering them)."""

    connections_opened: int


class ApiUnreachable(ConnectionError):
    """No answer: could not connect, the connection broke, or the answer was malformed.

    ``cause`` is the underlying error; the message names the host, never the URL
    (a Telegram URL carries the bot token).
    """

    def __init__(self, host: str, cause: BaseException) -> None:
        super().__init__("no answer from %s: %s" % (host, cause or type(cause).__name__))
        self.host = host
        self.cause = cause


class ApiTimeout(ApiUnreachable):
    """No complete answer within the request deadline (waiting for a pool slot included)."""


class ProxyError(ConnectionError):
    """The proxy refused or broke the ``CONNECT`` tunnel (its status in the message)."""


class _Stale(Exception):
    """A reused connection was closed before the response started."""


class KeepAliveClient:
    """``await client.fetch(method, url, headers=..., body=...)`` → :class:`APIResponse`."""

    def __init__(self, *, max_per_host: int = 256, idle_sec: float = 30.0,
                 ssl_context: Optional[ssl.SSLContext] = None,
                 proxies: Optional[Callable[[str, str], Optional[Proxy]]] = None) -> None:
        self.max_per_host = max_per_host
        self.idle_sec = idle_sec
        self._opened = 0
        self._idle: dict[tuple, list[Connection]] = {}
        self._busy: set[Connection] = set()
        self._slots: dict[tuple, asyncio.Semaphore] = {}
        self._ssl = ssl_context           # None: the system's CA store, made on first use
        self._proxies = proxies           # (scheme, host) -> Proxy or None (ProxyRules.for_url)
        self._closed = False
        self._receive = ReceiveBuffer()   # every connection reads into this (connection.py)

    def introspect(self) -> "PoolView":
        """What the pool holds now (tests and benchmarks read this, never the internals)."""
        return PoolView(connections_opened=self._opened)

    def close(self) -> None:
        """Close every connection; calls in flight fail with ApiUnreachable."""
        self._closed = True
        for conns in self._idle.values():
            for conn in conns:
                conn.abort()
        self._idle.clear()
        for conn in list(self._busy):
            conn.abort()

    async def fetch(self, method: str, url: str, *, headers: Optional[dict] = None,
                    body: bytes = b"", connect_timeout: float = 10.0,
                    request_timeout: float = 20.0,
                    max_body: int = MAX_RESPONSE) -> APIResponse:
        """The server's answer; raises ApiTimeout or ApiUnreachable when none came."""
        parts = _split_url(url)
        https, host, port, target = parts.https, parts.host, parts.port, parts.target
        proxy = self._proxies(parts.scheme, host) if self._proxies is not None else None
        key = (https, host, port, proxy)
        if proxy is not None and not https:   # plain HTTP: the proxy gets the whole URL
            target = "http://%s%s" % (parts.netloc, target)
            if proxy.authorization:
                headers = dict(headers or {}, **{"Proxy-Authorization": proxy.authorization})
        request = _request_bytes(method, target, parts.netloc, headers or {}, body)
        deadline = time.monotonic() + request_timeout
        slot = self._slots.get(key)
        if slot is None:
            slot = self._slots[key] = asyncio.Semaphore(self.max_per_host)
        if slot.locked():   # only a full pool pays for a timed wait
            try:
                await asyncio.wait_for(slot.acquire(), request_timeout)
            except asyncio.TimeoutError as exc:
                raise ApiTimeout(host, exc) from None
        else:
            await slot.acquire()
        try:
            for attempt in range(2):
                # The retry after a stale connection dials afresh: its idle
                # siblings most likely died with it (a server restart).
                conn = self._take_idle(key) if attempt == 0 else None
                reused = conn is not None
                try:
                    if conn is None:
                        conn = await self._connect(key, connect_timeout, deadline)
                    response = await self._exchange(conn, request, method, deadline, reused,
                                                    max_body)
                except _Stale:
                    continue
                except (OSError, asyncio.TimeoutError, httputil.HTTPInputError) as exc:
                    if conn is not None:
                        conn.abort()
                    if isinstance(exc, asyncio.TimeoutError):
                        raise ApiTimeout(host, exc) from None
                    raise ApiUnreachable(host, exc) from None
                except asyncio.CancelledError:
                    if conn is not None:   # its answer may still come: never reuse it
                        conn.abort()
                    raise
                self._release(key, conn, response)
                return APIResponse(response.code, response.headers, response.body)
            raise ApiUnreachable(host, ConnectionClosed("connection closed twice"))
        finally:
            slot.release()

    def _take_idle(self, key: tuple) -> Optional[Connection]:
        conns = self._idle.get(key)
        if not conns:
            return None
        now = time.monotonic()
        while conns and now - conns[0].idle_since >= self.idle_sec:   # oldest first: expired
            conns.pop(0).abort()
        while conns:
            conn = conns.pop()
            if conn.reusable:
                return conn
            conn.abort()
        return None

    def _release(self, key: tuple, conn: Connection, response: RawResponse) -> None:
        keep = (response.framed and response.version == "HTTP/1.1" and not self._closed
                and "close" not in response.headers.get("Connection", "").lower())
        if keep and conn.reusable:
            conn.idle_since = time.monotonic()
            self._idle.setdefault(key, []).append(conn)
        else:
            conn.abort()

    def tls_context(self) -> ssl.SSLContext:
        """The context every TLS connection of this client is checked with (the system's
        CA store, read on first use); websockets that should trust the same use it too."""
        if self._ssl is None:
            self._ssl = ssl.create_default_context()
        return self._ssl

    async def _connect(self, key: tuple, connect_timeout: float,
                       deadline: float) -> Connection:
        https, host, port, proxy = key
        tls = self.tls_context() if https else None
        connect_by = time.monotonic() + min(connect_timeout,
                                            max(0.0, deadline - time.monotonic()))
        loop = asyncio.get_running_loop()
        if proxy is None:
            # server_hostname: the name sent as SNI and checked against the certificate.
            _transport, conn = await asyncio.wait_for(loop.create_connection(
                self._new_connection, host, port, ssl=tls,
                server_hostname=host if tls else None), _left(connect_by))
        else:
            _transport, conn = await asyncio.wait_for(loop.create_connection(
                self._new_connection, proxy.host, proxy.port), _left(connect_by))
            if https:
                try:
                    await self._tunnel(conn, proxy, host, port, connect_by)
                except BaseException:
                    conn.abort()
                    raise
        self._opened += 1
        return conn

    def _new_connection(self) -> Connection:
        return Connection(self._receive)

    async def _tunnel(self, conn: Connection, proxy: Proxy, host: str, port: int,
                      connect_by: float) -> None:
        """``CONNECT host:port`` through ``proxy``, then TLS to ``host`` inside the tunnel."""
        authority = "%s:%d" % (host, port)
        try:
            answer = await asyncio.wait_for(conn.send(connect_request(proxy, host, port),
                                                      "CONNECT", 64 << 10),
                                            _left(connect_by))
        except ConnectionClosed:
            raise ProxyError("the proxy closed the connection instead of a tunnel") from None
        if not 200 <= answer.code < 300:
            raise ProxyError("the proxy refused the tunnel to %s: HTTP %d%s" % (
                authority, answer.code,
                " (proxy credentials needed or wrong)" if answer.code == 407 else ""))
        loop = asyncio.get_running_loop()
        assert conn.transport is not None
        conn.transport = await asyncio.wait_for(loop.start_tls(  # type: ignore[assignment]
            conn.transport, conn, self.tls_context(), server_hostname=host),
            _left(connect_by))

    async def _exchange(self, conn: Connection, request: bytes, method: str,
                        deadline: float, reused: bool,
                        max_body: int = MAX_RESPONSE) -> RawResponse:
        loop = asyncio.get_running_loop()
        expired: list[bool] = []

        def expire() -> None:
            expired.append(True)
            conn.abort()

        timer = loop.call_later(max(0.0, deadline - time.monotonic()), expire)
        self._busy.add(conn)
        try:
            return await conn.send(request, method, max_body)
        except ConnectionClosed:
            if expired:
                raise asyncio.TimeoutError("no complete answer within the request "
                                           "deadline") from None
            if reused and not conn.received_any and not self._closed:
                # (After close() the abort was ours: sending again would be a new call.)
                conn.abort()
                raise _Stale() from None
            raise
        finally:
            timer.cancel()
            self._busy.discard(conn)


class _URL(NamedTuple):
    """What a call needs of its URL (see :func:`_split_url`)."""

    scheme: str
    https: bool
    host: str
    port: int
    netloc: str
    target: str       # path and query, as sent in the request line


@functools.lru_cache(maxsize=256)
def _split_url(url: str) -> _URL:
    """The parts of ``url``; cached, because a bot calls the same few URLs over and
    over and ``urlsplit`` plus ``.hostname``/``.port`` cost several µs per call."""
    parts = urlsplit(url)
    https = parts.scheme == "https"
    target = (parts.path or "/") + ("?" + parts.query if parts.query else "")
    return _URL(parts.scheme, https, parts.hostname or "", parts.port or (443 if https else 80),
                parts.netloc, target)


def _left(by: float) -> float:
    """Seconds until the monotonic time ``by`` (0 when past)."""
    return max(0.0, by - time.monotonic())


def _request_bytes(method: str, target: str, netloc: str, headers: dict,
                   body: bytes) -> bytes:
    """The whole request as sent: request line, headers, blank line, body."""
    lines = ["%s %s HTTP/1.1" % (method, target), "Host: " + netloc,
             "Connection: keep-alive", "Accept-Encoding: identity"]
    for name, value in headers.items():
        value = str(value)
        if "\n" in value or "\r" in value or "\n" in name or "\r" in name:
            raise ValueError("line break in HTTP header %r" % name)
        lines.append("%s: %s" % (name, value))
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
