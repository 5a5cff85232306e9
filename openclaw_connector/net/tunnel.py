"""TunnelResolver: Tornado's websocket client through an HTTP proxy's CONNECT tunnel.

Why: Tornado's ``websocket_connect`` has no proxy option and dials with its
own TCP client, but it takes a ``resolver``. This one answers every name with
a one-shot listener on 127.0.0.1; the single connection it accepts is piped
through a ``CONNECT host:port`` tunnel of the proxy. Tornado still does TLS
itself, with the real host name for SNI and the certificate check, so the
proxy sees only the host name and the relay only ciphertext. Used for the
Discord gateway (``wss://``); the ComfyUI ``/ws`` stream is local and never
proxied. The listener closes after its one connection or ``timeout``.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from tornado.netutil import Resolver

from openclaw_connector import log as logmod
from openclaw_connector.net.proxy import Proxy, connect_request

log = logmod.get("proxy")
MAX_HEAD = 16 << 10


class ProxyRefused(ConnectionError):
    """The proxy answered the CONNECT with something other than 2xx."""


async def open_tunnel(proxy: Proxy, host: str, port: int, timeout: float
                      ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A stream to ``host:port`` through ``proxy`` (TLS, if any, is the caller's)."""
    async def _open() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection(proxy.host, proxy.port)
        try:
            writer.write(connect_request(proxy, host, port))
            head = await reader.readuntil(b"\r\n\r\n")
        except BaseException:
            writer.close()
            raise
        status = head.split(b" ", 2)[1:2]
        if not status or not status[0].startswith(b"2"):
            writer.close()
            raise ProxyRefused("the proxy refused the tunnel to %s:%d: HTTP %s" % (
                host, port, status[0].decode("latin-1") if status else "?"))
        return reader, writer
    return await asyncio.wait_for(_open(), timeout)


class TunnelResolver(Resolver):
    """Resolves ``host`` to a loopback relay whose one connection reaches ``host:port``
    through ``proxy``; pass it as ``websocket_connect(..., resolver=...)``."""

    def initialize(self, proxy: Proxy, timeout: float) -> None:  # Configurable's __init__
        self._proxy = proxy
        self._timeout = timeout

    async def resolve(self, host: str, port: int,
                      family: socket.AddressFamily = socket.AF_UNSPEC) -> list[tuple[int, Any]]:
        served = asyncio.get_running_loop().create_future()

        async def relay(client_reader: asyncio.StreamReader,
                        client_writer: asyncio.StreamWriter) -> None:
            if served.done():          # one connection per resolve
                client_writer.close()
                return
            served.set_result(None)
            server.close()
            try:
                reader, writer = await open_tunnel(self._proxy, host, port, self._timeout)
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError,
                    asyncio.LimitOverrunError) as exc:
                log.warning("event=proxy_tunnel_failed host=%s port=%d error=%s", host, port,
                            logmod.one_line_error(exc))
                client_writer.close()
                return
            await asyncio.gather(_pipe(client_reader, writer), _pipe(reader, client_writer))

        server = await asyncio.start_server(relay, "127.0.0.1", 0)
        asyncio.get_running_loop().call_later(self._timeout, server.close)
        return [(socket.AF_INET, server.sockets[0].getsockname()[:2])]

    def close(self) -> None:
        pass


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until end of stream, then close the other side too."""
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    finally:
        writer.close()
