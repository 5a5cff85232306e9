"""One keep-alive HTTP/1.1 connection as an ``asyncio.BufferedProtocol``: writes one
request at a time and parses its response as the bytes arrive (status line, headers,
``Content-Length``/chunked/close framing, 1xx skipping, the ``max_body`` cap).

Why a *buffered* protocol: a plain ``asyncio.Protocol`` gets each read as a new
``bytes`` of up to 256 KiB, which the allocator maps and unmaps on every read
(an ``mmap``/``munmap`` pair per reply); here the socket is read into one
:class:`ReceiveBuffer` the client owns, and only the bytes that arrived are
copied out. Client CPU per call on loopback: ~47 → ~27 µs (issue 21). The
buffer can be shared by every connection of one client: asyncio calls
``get_buffer`` and ``buffer_updated`` back to back on the loop's thread, and
``buffer_updated`` copies the bytes out before returning. 64 KiB rather than
asyncio's 256: the same CPU for API answers (a few hundred bytes), and
0.2 MiB less resident memory (a bytearray is zero-filled, so all of it is).

Why its own module: the byte-level parser is one concept; the pool, deadlines,
proxies and retries of :class:`~openclaw_connector.net.client.KeepAliveClient`
are another.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Optional

from tornado import httputil

MAX_RESPONSE = 8 << 20
MAX_HEAD = 64 << 10
MAX_INFORMATIONAL = 5        # 1xx heads skipped before the real answer
RECEIVE_BUFFER = 64 << 10    # one socket read at most; below glibc's mmap threshold


class BodyTooLarge(httputil.HTTPInputError):
    """The response body is (or says it is) over the call's ``max_body``: a typed
    cause, so a caller tells "too big" from a broken answer without reading text."""


class ConnectionClosed(ConnectionError):
    """The server closed the connection before the response was complete."""


class ReceiveBuffer:
    """The memory a client's connections read their sockets into (see the module
    docstring for why one is enough per client); allocated on first use."""

    def __init__(self, size: int = RECEIVE_BUFFER) -> None:
        self._size = size
        self._view: Optional[memoryview] = None

    @property
    def view(self) -> memoryview:
        if self._view is None:
            self._view = memoryview(bytearray(self._size))
        return self._view


@dataclass
class RawResponse:
    """One parsed response as the connection saw it (the client makes an APIResponse)."""

    code: int
    version: str
    headers: httputil.HTTPHeaders
    body: bytes
    framed: bool          # its end was marked, so the connection can carry another


class Connection(asyncio.BufferedProtocol):
    """One keep-alive connection: one request at a time, its response parsed as bytes
    arrive (``buffer_updated``), handed to the waiting call through a future."""

    def __init__(self, receive: Optional[ReceiveBuffer] = None) -> None:
        self._receive = receive if receive is not None else ReceiveBuffer()
        self.transport: Optional[asyncio.Transport] = None
        self.closed = False
        self.idle_since = 0.0
        self._buffer = bytearray()
        self._waiter: Optional[asyncio.Future] = None
        self._method = ""
        self._head: Optional[tuple[int, str, httputil.HTTPHeaders]] = None
        self._informational = 0
        self._chunks: list[bytes] = []
        self._last_chunk = False  # the zero-size chunk was read; trailers follow
        self._received = False    # any byte of the current response
        self._max_body = MAX_RESPONSE

    # ------------------------------------------------------------------ asyncio side
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._receive.view

    def buffer_updated(self, nbytes: int) -> None:
        if self._waiter is None:     # bytes nobody asked for: not reusable
            self.abort()
            return
        self._received = True
        self._buffer += self._receive.view[:nbytes]   # copied out: the buffer is shared
        try:
            response = self._parse()
        except httputil.HTTPInputError as exc:
            self._fail(exc)
            self.abort()
            return
        if response is not None:
            self._resolve(response)

    def eof_received(self) -> bool:
        return False                 # close our side too; connection_lost follows

    def connection_lost(self, exc: Optional[Exception]) -> None:
        self.closed = True
        if self._waiter is None:
            return
        if self._head is not None and self._framing() == "close":
            self._resolve(self._finish(bytes(self._buffer), framed=False))
            return
        self._fail(ConnectionClosed("connection closed %s the response started" % (
            "after" if self._received else "before")))

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    # ------------------------------------------------------------------ call side
    @property
    def reusable(self) -> bool:
        return not self.closed and self._waiter is None and not self._buffer

    def send(self, request: bytes, method: str, max_body: int = MAX_RESPONSE) -> asyncio.Future:
        """Write ``request``; the future resolves to its :class:`RawResponse`."""
        assert self.transport is not None and self._waiter is None
        if self.closed or self.transport.is_closing():
            # Closed by the server between connect and this write (a server that accepts
            # and hangs up): fail now, not at the request deadline.
            raise ConnectionClosed("connection closed before the request was sent")
        self._waiter = asyncio.get_running_loop().create_future()
        self._method = method
        self._max_body = max_body
        self._head = None
        self._informational = 0
        self._chunks = []
        self._last_chunk = False
        self._received = False
        self.transport.write(request)
        return self._waiter

    @property
    def received_any(self) -> bool:
        return self._received

    # ------------------------------------------------------------------ parsing
    def _parse(self) -> Optional[RawResponse]:
        while self._head is None:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > MAX_HEAD:
                    raise httputil.HTTPInputError("response head over %d bytes" % MAX_HEAD)
                return None
            head = _parse_head(bytes(self._buffer[:end]))
            del self._buffer[:end + 4]
            if 100 <= head[0] < 200:
                self._informational += 1
                if self._informational > MAX_INFORMATIONAL:
                    raise httputil.HTTPInputError("too many 1xx responses")
                continue
            self._head = head
        framing = self._framing()
        if framing == "none":
            return self._finish(b"", framed=True)
        if framing == "chunked":
            return self._parse_chunks()
        if framing == "close":
            if len(self._buffer) > self._max_body:
                raise BodyTooLarge("body over %d bytes" % self._max_body)
            return None
        size = int(framing)
        if len(self._buffer) < size:
            return None
        body = bytes(self._buffer[:size])
        del self._buffer[:size]
        return self._finish(body, framed=True)

    def _framing(self) -> str:
        """"none", "chunked", "close" or the Content-Length as a string."""
        assert self._head is not None
        code, _version, headers = self._head
        if self._method == "HEAD" or code in (204, 304) or (
                self._method == "CONNECT" and 200 <= code < 300):
            return "none"   # a tunnel's bytes after its 2xx head belong to the tunnel
        if headers.get("Transfer-Encoding", "").lower() == "chunked":
            return "chunked"
        length = headers.get("Content-Length")
        if length is None:
            return "close"
        try:
            size = int(length)
        except ValueError:
            raise httputil.HTTPInputError("bad Content-Length %r" % length) from None
        if size < 0:
            raise httputil.HTTPInputError("Content-Length %d out of range" % size)
        if size > self._max_body:
            raise BodyTooLarge("Content-Length %d over %d bytes" % (size, self._max_body))
        return str(size)

    def _parse_chunks(self) -> Optional[RawResponse]:
        while True:
            line_end = self._buffer.find(b"\r\n")
            if line_end < 0:
                if len(self._buffer) > 1024:
                    raise httputil.HTTPInputError("chunk size line too long")
                return None
            if self._last_chunk:
                # After the last chunk: trailers up to a blank line (ignored).
                del self._buffer[:line_end + 2]
                if line_end == 0:
                    return self._finish(b"".join(self._chunks), framed=True)
                continue
            try:
                size = int(bytes(self._buffer[:line_end]).split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise httputil.HTTPInputError("bad chunk size %r" % bytes(
                    self._buffer[:min(line_end, 40)])) from None
            if size == 0:
                del self._buffer[:line_end + 2]
                self._last_chunk = True
                continue
            if sum(len(c) for c in self._chunks) + size > self._max_body:
                raise BodyTooLarge("chunked body over %d bytes" % self._max_body)
            if len(self._buffer) < line_end + 2 + size + 2:
                return None
            start = line_end + 2
            if self._buffer[start + size:start + size + 2] != b"\r\n":
                raise httputil.HTTPInputError("chunk not followed by CRLF")
            self._chunks.append(bytes(self._buffer[start:start + size]))
            del self._buffer[:start + size + 2]

    def _finish(self, body: bytes, *, framed: bool) -> RawResponse:
        assert self._head is not None
        code, version, headers = self._head
        return RawResponse(code, version, headers, body, framed)

    def _resolve(self, response: RawResponse) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(response)

    def _fail(self, exc: BaseException) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)


def _parse_head(head: bytes) -> tuple[int, str, httputil.HTTPHeaders]:
    """(status, HTTP version, headers) of a response head without its blank line."""
    lines = head.decode("latin-1").split("\r\n")
    start = httputil.parse_response_start_line(lines[0])
    headers = httputil.HTTPHeaders()
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip() or line[0] in " \t":
            # No folded or malformed lines: these APIs never send them.
            raise httputil.HTTPInputError("malformed response header %r" % line[:60])
        headers.add(name, value.strip(" \t"))
    return start.code, start.version, headers
