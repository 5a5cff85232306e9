"""FakeProxy: an HTTP ``CONNECT`` proxy on 127.0.0.1 that serves made-up host names.

A real asyncio server. ``CONNECT api.telegram.test:443`` is answered 200 and
the tunnel is connected to the loopback fake registered for that authority
(``routes``), so the daemon under test dials a name that exists nowhere but
here, which proves it never resolved or dialled it itself. With ``tls`` (a
cert/key pair the test made with ``cryptography``), the proxy ends TLS
inside the tunnel with that certificate and relays plain HTTP to the fake,
so an unmodified plain-HTTP fake stands in for an https:// platform API and
the client's certificate check (against the real host name) is exercised.
``require_auth`` answers 407 to a tunnel without that ``Proxy-Authorization``.
Records: ``tunnels`` (authority and auth header of each CONNECT accepted),
``refused`` (authorities answered 407/502).
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Optional


class FakeProxy:
    def __init__(self, routes: dict[str, int], *, tls: Optional[tuple[str, str]] = None,
                 require_auth: Optional[str] = None) -> None:
        self.routes = routes                       # "host:port" -> loopback port of a fake
        self.tunnels: list[tuple[str, str]] = []   # (authority, Proxy-Authorization)
        self.refused: list[str] = []
        self.require_auth = require_auth
        self._tls: Optional[ssl.SSLContext] = None
        if tls is not None:
            self._tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self._tls.load_cert_chain(*tls)
        self._server: Optional[asyncio.AbstractServer] = None
        self._pipes: set[asyncio.Task] = set()
        self.port = 0

    @property
    def url(self) -> str:
        return "http://127.0.0.1:%d" % self.port

    async def __aenter__(self) -> "FakeProxy":
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._pipes):
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._pipes.add(task)
        try:
            await self._tunnel(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        except asyncio.CancelledError:   # the fake's own stop; asyncio would log it
            pass
        finally:
            self._pipes.discard(task)
            writer.close()

    async def _tunnel(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        method, authority, _version = head[0].split(" ", 2)
        headers = dict(line.split(": ", 1) for line in head[1:] if ": " in line)
        auth = headers.get("Proxy-Authorization", "")
        if method != "CONNECT" or authority not in self.routes:
            self.refused.append(authority)
            writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            return
        if self.require_auth is not None and auth != self.require_auth:
            self.refused.append(authority)
            writer.write(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                         b"Proxy-Authenticate: Basic realm=\"fake\"\r\nContent-Length: 0\r\n\r\n")
            return
        self.tunnels.append((authority, auth))
        upstream_reader, upstream_writer = await asyncio.open_connection(
            "127.0.0.1", self.routes[authority])
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
        if self._tls is not None:
            await writer.start_tls(self._tls)
        try:
            await asyncio.gather(_pump(reader, upstream_writer), _pump(upstream_reader, writer))
        finally:
            upstream_writer.close()


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while True:
        data = await reader.read(65536)
        if not data:
            writer.close()
            return
        writer.write(data)
        await writer.drain()
