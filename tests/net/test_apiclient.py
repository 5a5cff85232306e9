"""KeepAliveClient: connection reuse, stale idle connections, deadlines."""

from __future__ import annotations

import asyncio
import time

import pytest
from tornado.httputil import HTTPInputError

from openclaw_connector.net.client import ApiTimeout, ApiUnreachable, KeepAliveClient
from tests.fakes import line as fline
from tests.fakes.certs import self_signed
from tests.channels.webhooks.support import free_port

TOKEN = "line-token"


def headers() -> dict:
    return {"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"}


PUSH = b'{"to":"U1","messages":[{"type":"text","text":"hi"}]}'


@pytest.mark.gen_test(timeout=10)
async def test_sequential_calls_reuse_one_connection():
    """Five calls in a row open one connection; all answers arrive intact."""
    async with fline.FakeLine(access_token=TOKEN) as fake:
        client = KeepAliveClient()
        try:
            codes = [(await client.fetch("POST", fake.url + "/v2/bot/message/push",
                                         headers=headers(), body=PUSH)).code
                     for _ in range(5)]
            info = await client.fetch("GET", fake.url + "/v2/bot/info", headers=headers())
        finally:
            client.close()
    assert codes == [200] * 5 and info.code == 200 and b"userId" in info.body
    assert client.introspect().connections_opened == 1 and len(fake.delivered) == 5


@pytest.mark.gen_test(timeout=10)
async def test_concurrent_calls_are_bounded_per_host():
    """More concurrent calls than max_per_host wait for a slot instead of failing."""
    async with fline.FakeLine(access_token=TOKEN, delay=0.02) as fake:
        client = KeepAliveClient(max_per_host=3)
        try:
            results = await asyncio.gather(*(
                client.fetch("POST", fake.url + "/v2/bot/message/push", headers=headers(),
                             body=PUSH) for _ in range(9)))
        finally:
            client.close()
    assert [r.code for r in results] == [200] * 9
    assert client.introspect().connections_opened == 3


@pytest.mark.gen_test(timeout=10)
async def test_server_closed_idle_connection_is_retried_on_a_fresh_one():
    """An idle connection the server closed is detected and the call still succeeds once."""
    async with fline.FakeLine(access_token=TOKEN) as fake:
        client = KeepAliveClient()
        try:
            first = await client.fetch("POST", fake.url + "/v2/bot/message/push",
                                       headers=headers(), body=PUSH)
            await fake._server.close_all_connections()
            second = await client.fetch("POST", fake.url + "/v2/bot/message/push",
                                        headers=headers(), body=PUSH)
        finally:
            client.close()
    assert (first.code, second.code) == (200, 200)
    assert client.introspect().connections_opened == 2 and len(fake.delivered) == 2


@pytest.mark.gen_test(timeout=10)
async def test_retry_after_stale_connection_dials_afresh_not_another_idle_one():
    """With several idle connections the server closed, the call still succeeds."""
    async with fline.FakeLine(access_token=TOKEN, delay=0.02) as fake:
        client = KeepAliveClient()
        try:
            url = fake.url + "/v2/bot/message/push"
            await asyncio.gather(*(client.fetch("POST", url, headers=headers(), body=PUSH)
                                   for _ in range(2)))
            await fake._server.close_all_connections()
            again = await client.fetch("POST", url, headers=headers(), body=PUSH)
        finally:
            client.close()
    assert again.code == 200 and client.introspect().connections_opened == 3 and len(fake.delivered) == 3


@pytest.mark.gen_test(timeout=10)
async def test_silent_server_times_out_and_refused_connection_fails_fast():
    """No answer → ApiTimeout at the request deadline; nothing listening → ApiUnreachable
    at once."""
    async def never_answer(reader, writer):
        await reader.read(1 << 16)
        await asyncio.Event().wait()

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = KeepAliveClient()
    try:
        started = time.monotonic()
        with pytest.raises(ApiTimeout) as silent:
            await client.fetch("POST", "http://127.0.0.1:%d/x" % port, body=b"{}",
                               request_timeout=0.2)
        took = time.monotonic() - started
        with pytest.raises(ApiUnreachable) as refused:
            await client.fetch("POST", "http://127.0.0.1:%d/x" % free_port(),
                               body=b"{}", connect_timeout=1)
    finally:
        client.close()
        server.close()
    assert 0.15 < took < 2 and "127.0.0.1" in str(silent.value)
    assert not isinstance(refused.value, ApiTimeout)
    assert isinstance(refused.value.cause, ConnectionRefusedError)


def _self_signed(tmp_path):
    """A certificate for 127.0.0.1 / localhost and its key, written as PEM files."""
    return self_signed(tmp_path, ("localhost", "127.0.0.1"))


@pytest.mark.gen_test(timeout=10)
async def test_https_verifies_the_server_and_reuses_the_tls_connection(tmp_path):
    """Over HTTPS: a trusted certificate works and one TLS connection serves every call;
    an untrusted one fails as ApiUnreachable (certificate verification is on)."""
    import ssl

    import tornado.httpserver
    import tornado.netutil
    import tornado.web

    class Hello(tornado.web.RequestHandler):
        def post(self) -> None:
            self.finish({"ok": True, "len": len(self.request.body)})

    cert, key = _self_signed(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    sockets = tornado.netutil.bind_sockets(0, address="127.0.0.1")
    server = tornado.httpserver.HTTPServer(tornado.web.Application([(r"/x", Hello)]),
                                           ssl_options=server_ctx)
    server.add_sockets(sockets)
    url = "https://localhost:%d/x" % sockets[0].getsockname()[1]
    trusting = KeepAliveClient(ssl_context=ssl.create_default_context(cafile=cert))
    default = KeepAliveClient()
    try:
        answers = [await trusting.fetch("POST", url, body=b"abc") for _ in range(3)]
        with pytest.raises(ApiUnreachable) as refused:
            await default.fetch("POST", url, body=b"abc", connect_timeout=2)
    finally:
        trusting.close()
        default.close()
        server.stop()
        await server.close_all_connections()
    assert [a.code for a in answers] == [200] * 3 and b'"len": 3' in answers[0].body
    assert trusting.introspect().connections_opened == 1
    assert isinstance(refused.value.cause, ssl.SSLError)


@pytest.mark.gen_test(timeout=10)
async def test_idle_connections_expire():
    """A connection idle longer than idle_sec is closed, not reused."""
    async with fline.FakeLine(access_token=TOKEN) as fake:
        client = KeepAliveClient(idle_sec=0.0)
        try:
            codes = [(await client.fetch("GET", fake.url + "/v2/bot/info",
                                         headers=headers())).code for _ in range(3)]
        finally:
            client.close()
    assert codes == [200] * 3 and client.introspect().connections_opened == 3


async def _raw_server(answer: bytes, *, close: bool = False):
    """A server that reads one request head per turn and writes ``answer`` back."""
    received: list[bytes] = []

    async def handle(reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = [int(h.split(b":")[1]) for h in head.split(b"\r\n")
                          if h.lower().startswith(b"content-length:")]
                body = await reader.readexactly(length[0]) if length else b""
                received.append(head + body)
                writer.write(answer)
                await writer.drain()
                if close:
                    writer.close()
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, "http://127.0.0.1:%d/x" % server.sockets[0].getsockname()[1], received


@pytest.mark.gen_test(timeout=10)
async def test_chunked_and_informational_answers_are_read_and_the_connection_reused():
    """A 100 Continue head is skipped, a chunked body (with trailers) is joined, and
    the connection is reused for the next call."""
    answer = (b"HTTP/1.1 100 Continue\r\n\r\n"
              b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Test: a\r\n\r\n"
              b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\n")
    server, url, received = await _raw_server(answer)
    client = KeepAliveClient()
    try:
        first = await client.fetch("POST", url, headers={"X-A": "1"}, body=b"{}")
        second = await client.fetch("POST", url, body=b"[]")
    finally:
        client.close()
        server.close()
    assert (first.code, first.body, first.headers["X-Test"]) == (200, b"hello world", "a")
    assert second.body == b"hello world" and client.introspect().connections_opened == 1
    assert received[0].startswith(b"POST /x HTTP/1.1\r\n") and b"\r\nX-A: 1\r\n" in received[0]
    assert received[0].endswith(b"Content-Length: 2\r\n\r\n{}")


@pytest.mark.gen_test(timeout=10)
async def test_unframed_answer_is_read_to_close_and_not_reused():
    """An answer without Content-Length ends with the connection, which is not reused."""
    server, url, _received = await _raw_server(b"HTTP/1.1 200 OK\r\n\r\n{\"ok\":true}",
                                               close=True)
    client = KeepAliveClient()
    try:
        answers = [await client.fetch("GET", url) for _ in range(2)]
    finally:
        client.close()
        server.close()
    assert [a.body for a in answers] == [b'{"ok":true}'] * 2
    assert client.introspect().connections_opened == 2


@pytest.mark.gen_test(timeout=10)
@pytest.mark.parametrize("answer", [
    b"garbage\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: nope\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 999999999999\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXY",
    b"HTTP/1.1 200 OK\r\n folded\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nNoColon\r\nContent-Length: 0\r\n\r\n",
])
async def test_malformed_answers_fail_as_unreachable(answer):
    """A broken status line, header line, length or chunk framing is ApiUnreachable
    with the parse error, not a crash."""
    server, url, _received = await _raw_server(answer)
    client = KeepAliveClient()
    try:
        with pytest.raises(ApiUnreachable) as failed:
            await client.fetch("POST", url, body=b"{}", request_timeout=2)
    finally:
        client.close()
        server.close()
    assert isinstance(failed.value.cause, HTTPInputError)


@pytest.mark.gen_test(timeout=10)
async def test_header_with_a_line_break_is_refused_before_sending():
    """A header value carrying CR/LF (a pasted token) never reaches the wire."""
    server, url, received = await _raw_server(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    client = KeepAliveClient()
    try:
        with pytest.raises(ValueError):
            await client.fetch("POST", url, headers={"Authorization": "Bearer a\r\nX: y"},
                               body=b"{}")
    finally:
        client.close()
        server.close()
    assert received == []


@pytest.mark.gen_test(timeout=10)
async def test_answer_split_into_single_bytes_is_reassembled():
    """A response arriving a byte at a time (slow network) is parsed the same."""
    first = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
    second = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"

    async def handle(reader, writer):
        for part in (first, second):
            await reader.readuntil(b"\r\n\r\n")
            for i in range(len(part)):
                writer.write(part[i:i + 1])
                await writer.drain()
        await reader.read()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    url = "http://127.0.0.1:%d/x" % server.sockets[0].getsockname()[1]
    client = KeepAliveClient()
    try:
        a = await client.fetch("GET", url)
        b = await client.fetch("GET", url)
    finally:
        client.close()
        server.close()
    assert (a.code, a.body, b.code, b.body) == (200, b"hello", 200, b"abc")
    assert client.introspect().connections_opened == 1


@pytest.mark.gen_test(timeout=10)
async def test_cancelled_call_does_not_leave_its_connection_for_reuse():
    """A call cancelled while waiting (shutdown) drops its connection: a late answer
    can never be read as the next call's response."""
    async with fline.FakeLine(access_token=TOKEN, delay=0.3) as fake:
        client = KeepAliveClient()
        try:
            url = fake.url + "/v2/bot/message/push"
            task = asyncio.ensure_future(client.fetch("POST", url, headers=headers(),
                                                      body=PUSH))
            await fake.wait_for("/push", 1, 5)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            again = await client.fetch("GET", fake.url + "/v2/bot/info", headers=headers())
        finally:
            client.close()
    assert again.code == 200 and b"userId" in again.body
    assert client.introspect().connections_opened == 2


@pytest.mark.gen_test(timeout=15)
async def test_server_that_hangs_up_at_once_fails_fast_not_at_the_deadline():
    """A port that accepts and closes at once (ComfyUI restarting): each call fails as
    ApiUnreachable right away, not a wait for its 5 s request deadline."""
    async def hang_up(_reader, writer) -> None:
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    url = "http://127.0.0.1:%d/x" % server.sockets[0].getsockname()[1]
    client = KeepAliveClient()
    try:
        started = time.monotonic()
        failures = []
        for _ in range(5):
            try:
                await client.fetch("GET", url, request_timeout=5)
            except ApiUnreachable as exc:
                failures.append(exc)
        took = time.monotonic() - started
    finally:
        client.close()
        server.close()
    assert len(failures) == 5 and not any(isinstance(f, ApiTimeout) for f in failures)
    assert took < 5, "waited for the deadline: %.1f s" % took
