"""KeepAliveClient: pooled HTTP/1.1 keep-alive connections for the webhook
channels' REST calls (LINE reply/push, WhatsApp Graph).

Why: Tornado's ``simple_httpclient`` opens a new connection for every
request. A webhook channel sends one API call per command, so over HTTPS each
reply paid a TLS handshake, and on loopback the connect/resolve/close alone
cost ~0.6 ms of CPU per reply, more than the whole acknowledgement
(benchmarks/README.md, webhook ingest). This client keeps idle connections
per host and speaks the small part of HTTP/1.1 these APIs need straight on a
Tornado ``IOStream``: one request written in one piece, a response head read
with one ``read_until``, a body framed by ``Content-Length``, chunked
encoding or the end of the connection. Going through ``HTTP1Connection``
instead cost about three times the CPU per call, which is most of what a
webhook costs (issue 6).

Limits and rules: at most ``max_per_host`` requests in flight per host (the
rest wait their turn inside the request deadline); idle connections are
dropped after ``idle_sec``; a reused connection that turns out to be closed
before any response byte is retried once on a fresh one (the server never
saw the request); every call has a connect and a total deadline and a
failure comes back as status 599 with ``error`` set, like Tornado's client,
so callers branch on one ``code``. A header value with a line break is
refused (ValueError) rather than sent.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from dataclasses import dataclass, field
from typing import Optional
from urllib.parse import urlsplit

from tornado import httputil, iostream
from tornado.ioloop import IOLoop
from tornado.tcpclient import TCPClient

from openclaw_connector.netutil import LiteralFirstResolver

MAX_RESPONSE = 8 << 20
MAX_HEAD = 64 << 10
MAX_INFORMATIONAL = 5        # 1xx heads skipped before the real answer


@dataclass(frozen=True)
class APIResponse:
    """Status, headers and body of one call; 599 + ``error`` when none arrived."""

    code: int
    headers: httputil.HTTPHeaders = field(default_factory=httputil.HTTPHeaders)
    body: bytes = b""
    error: Optional[BaseException] = None


class _Stale(Exception):
    """A reused connection was closed before the response started."""


class _Deadline:
    """Closes a stream when a call's time is up, so its pending read fails at once.

    One timer per call on the IOLoop, cancelled when the call ends (cheaper
    than wrapping every read in ``gen.with_timeout``).
    """

    def __init__(self, stream: iostream.IOStream, deadline: float) -> None:
        self.expired = False
        self._stream = stream
        loop = IOLoop.current()
        self._handle = loop.call_at(loop.time() + max(0.0, deadline - time.monotonic()),
                                    self._expire)

    def _expire(self) -> None:
        self.expired = True
        self._stream.close()

    def cancel(self) -> None:
        IOLoop.current().remove_timeout(self._handle)


class KeepAliveClient:
    """``await client.fetch(method, url, headers=..., body=...)`` → :class:`APIResponse`."""

    def __init__(self, *, max_per_host: int = 256, idle_sec: float = 30.0,
                 ssl_context: Optional[ssl.SSLContext] = None) -> None:
        self.max_per_host = max_per_host
        self.idle_sec = idle_sec
        self.connections_opened = 0
        self._idle: dict[tuple, list[tuple[iostream.IOStream, float]]] = {}
        self._slots: dict[tuple, asyncio.Semaphore] = {}
        self._tcp = TCPClient(resolver=LiteralFirstResolver())
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
        request = _request_bytes(method, target, parts.netloc, headers or {}, body)
        deadline = time.monotonic() + request_timeout
        slot = self._slots.get(key)
        if slot is None:
            slot = self._slots[key] = asyncio.Semaphore(self.max_per_host)
        if slot.locked():   # only a full pool pays for a timed wait
            try:
                await asyncio.wait_for(slot.acquire(), request_timeout)
            except asyncio.TimeoutError as exc:
                return APIResponse(599, error=exc)
        else:
            await slot.acquire()
        try:
            for attempt in range(2):
                # The retry after a stale connection dials afresh: its idle
                # siblings most likely died with it (a server restart).
                stream = self._take_idle(key) if attempt == 0 else None
                reused = stream is not None
                try:
                    if stream is None:
                        stream = await self._connect(key, connect_timeout, deadline)
                    return await self._exchange(key, stream, method, request, deadline,
                                                reused)
                except _Stale:
                    continue
                except (OSError, iostream.StreamClosedError, asyncio.TimeoutError,
                        httputil.HTTPInputError) as exc:
                    if stream is not None:
                        stream.close()
                    return APIResponse(599, error=exc)
            return APIResponse(599, error=iostream.StreamClosedError())
        finally:
            slot.release()

    def _take_idle(self, key: tuple) -> Optional[iostream.IOStream]:
        streams = self._idle.get(key)
        if not streams:
            return None
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
                                         timeout=timeout, max_buffer_size=MAX_RESPONSE + MAX_HEAD)
        stream.set_nodelay(True)
        self.connections_opened += 1
        return stream

    async def _exchange(self, key: tuple, stream: iostream.IOStream, method: str,
                        request: bytes, deadline: float, reused: bool) -> APIResponse:
        timer = _Deadline(stream, deadline)
        started = False
        try:
            stream.write(request)
            for _ in range(MAX_INFORMATIONAL + 1):
                head = await stream.read_until(b"\r\n\r\n", max_bytes=MAX_HEAD)
                started = True
                code, version, headers = _parse_head(head)
                if not 100 <= code < 200:
                    break
            else:
                raise httputil.HTTPInputError("too many 1xx responses")
            body, framed = await _read_body(stream, method, code, headers)
        except iostream.StreamClosedError:
            if timer.expired:
                raise asyncio.TimeoutError("no complete answer within the request "
                                           "deadline") from None
            if reused and not started:
                stream.close()
                raise _Stale() from None
            raise
        except iostream.UnsatisfiableReadError as exc:
            raise httputil.HTTPInputError(str(exc)) from None
        finally:
            timer.cancel()
        keep = (framed and version == "HTTP/1.1" and not self._closed
                and "close" not in headers.get("Connection", "").lower())
        if keep and not stream.closed():
            self._idle.setdefault(key, []).append((stream, time.monotonic()))
        else:
            stream.close()
        return APIResponse(code, headers, body)


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


def _parse_head(head: bytes) -> tuple[int, str, httputil.HTTPHeaders]:
    """(status, HTTP version, headers) of a response head ending in a blank line."""
    lines = head.decode("latin-1").split("\r\n")
    start = httputil.parse_response_start_line(lines[0])
    headers = httputil.HTTPHeaders()
    for line in lines[1:]:
        if not line:
            continue
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip() or line[0] in " \t":
            # No folded or malformed lines: these APIs never send them.
            raise httputil.HTTPInputError("malformed response header %r" % line[:60])
        headers.add(name, value.strip(" \t"))
    return start.code, start.version, headers


async def _read_body(stream: iostream.IOStream, method: str, code: int,
                     headers: httputil.HTTPHeaders) -> tuple[bytes, bool]:
    """The response body and whether its end was framed (so the connection can be reused)."""
    if method == "HEAD" or code in (204, 304):
        return b"", True
    if headers.get("Transfer-Encoding", "").lower() == "chunked":
        return await _read_chunked(stream), True
    length = headers.get("Content-Length")
    if length is not None:
        try:
            size = int(length)
        except ValueError:
            raise httputil.HTTPInputError("bad Content-Length %r" % length) from None
        if not 0 <= size <= MAX_RESPONSE:
            raise httputil.HTTPInputError("Content-Length %d out of range" % size)
        return (await stream.read_bytes(size) if size else b""), True
    # No framing: the body runs to the end of the connection.
    return await stream.read_until_close(), False


async def _read_chunked(stream: iostream.IOStream) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while True:
        line = await stream.read_until(b"\r\n", max_bytes=1024)
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise httputil.HTTPInputError("bad chunk size %r" % line[:40]) from None
        if size == 0:
            while (await stream.read_until(b"\r\n", max_bytes=MAX_HEAD)) != b"\r\n":
                pass                                # trailers: ignored
            return b"".join(chunks)
        total += size
        if total > MAX_RESPONSE:
            raise httputil.HTTPInputError("chunked body over %d bytes" % MAX_RESPONSE)
        data = await stream.read_bytes(size + 2)
        if data[-2:] != b"\r\n":
            raise httputil.HTTPInputError("chunk not followed by CRLF")
        chunks.append(data[:-2])
