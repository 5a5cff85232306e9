"""KeepAliveClient: answers larger than one socket read, many at once, arrive intact.

Why a test of its own: the connection reads into one reused receive buffer, so a
body spans several reads and concurrent connections take turns filling it; any
mix-up between reads or connections shows as a wrong byte here.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl

import pytest
import tornado.httpserver
import tornado.netutil
import tornado.web

from openclaw_connector.net.client import KeepAliveClient
from tests.fakes.certs import self_signed

SIZE = 700 << 10      # several reads of the 64 KiB receive buffer (and of asyncio's 256)
CALLS = 12


def body_for(name: str) -> bytes:
    """A body whose every 32-byte block depends on ``name`` and its offset."""
    blocks = [hashlib.sha256(b"%s:%d" % (name.encode(), i)).digest()
              for i in range(SIZE // 32)]
    return b"".join(blocks)


class Big(tornado.web.RequestHandler):
    """Answers ``/big/<name>`` with body_for(name): Content-Length, or chunked when
    ``?chunked=1`` (written in pieces, flushed between them)."""

    async def get(self, name: str) -> None:
        data = body_for(name)
        if self.get_query_argument("chunked", ""):
            for start in range(0, len(data), 100_000):
                self.write(data[start:start + 100_000])
                await self.flush()
        else:
            self.write(data)


async def _serve(cert_and_key=None):
    ctx = None
    if cert_and_key is not None:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(*cert_and_key)
    sockets = tornado.netutil.bind_sockets(0, address="127.0.0.1")
    server = tornado.httpserver.HTTPServer(tornado.web.Application([(r"/big/(\w+)", Big)]),
                                           ssl_options=ctx)
    server.add_sockets(sockets)
    scheme = "https" if ctx else "http"
    return server, "%s://localhost:%d" % (scheme, sockets[0].getsockname()[1])


async def _fetch_all(client: KeepAliveClient, base: str) -> dict[str, bytes]:
    names = ["n%d" % i for i in range(CALLS)]
    urls = [base + "/big/" + name + ("?chunked=1" if i % 2 else "")
            for i, name in enumerate(names)]
    answers = await asyncio.gather(*(client.fetch("GET", url) for url in urls))
    assert [a.code for a in answers] == [200] * CALLS
    return dict(zip(names, (a.body for a in answers)))


@pytest.mark.gen_test(timeout=20)
async def test_concurrent_large_answers_arrive_intact_and_connections_are_reused():
    """Twelve concurrent 700 KiB answers (half Content-Length, half chunked) each arrive
    byte for byte; a second round reuses the same connections."""
    server, base = await _serve()
    client = KeepAliveClient()
    try:
        first = await _fetch_all(client, base)
        second = await _fetch_all(client, base)
    finally:
        client.close()
        server.stop()
        await server.close_all_connections()
    for name, body in list(first.items()) + list(second.items()):
        assert body == body_for(name), name
    assert client.introspect().connections_opened == CALLS


@pytest.mark.gen_test(timeout=20)
async def test_concurrent_large_answers_over_tls_arrive_intact(tmp_path):
    """The same over HTTPS: TLS records reassembled across reads, per connection."""
    cert, key = self_signed(tmp_path, ("localhost", "127.0.0.1"))
    server, base = await _serve((cert, key))
    client = KeepAliveClient(ssl_context=ssl.create_default_context(cafile=cert))
    try:
        answers = await _fetch_all(client, base)
    finally:
        client.close()
        server.stop()
        await server.close_all_connections()
    for name, body in answers.items():
        assert body == body_for(name), name
