"""WebhookPost, the webhook POST path outside tornado.web: the 200 waits for the
commit, a trickling body is dropped, and other routes keep Tornado's own limits."""

from __future__ import annotations

import asyncio
import sqlite3
import time

import pytest

from openclaw_connector.web import servers as webmod
from tests.fakes import line as fline
from tests.channels.webhooks.support import (ALICE_LINE, LINE_SECRET, Inbox, get, post_line, raw_exchange,
                                    running_stack, webhook_config)


def _stored(db_path: str) -> tuple[list, list]:
    """(seen ids, pending rows) as another process would read them from disk."""
    db = sqlite3.connect(db_path)
    try:
        seen = db.execute("SELECT id FROM seen WHERE namespace = 'line.event'").fetchall()
        # The command is held in its dedup row (channels/pending.py, admit).
        pending = db.execute("SELECT id, pending FROM seen WHERE namespace = 'line.event' "
                             "AND pending IS NOT NULL").fetchall()
    finally:
        db.close()
    return seen, pending


@pytest.mark.gen_test(timeout=10)
async def test_200_means_the_event_and_its_command_are_on_disk(tmp_path):
    """When the 200 arrives, another reader of the database already sees the dedup id
    and the pending command, while the command itself is still running."""
    release = asyncio.Event()

    async def hold(_inbound) -> None:
        await release.wait()

    async with fline.FakeLine(access_token="t") as fake:
        inbox = Inbox(hold)
        async with running_stack(webhook_config(tmp_path, line=fake), inbox) as stack:
            event = fline.text_event("/help", user_id=ALICE_LINE)
            resp = await post_line(stack.url("line"), fline.body_of(event))
            seen, pending = _stored(stack.state.path)
            (inbound,) = await inbox.wait(1)
            release.set()
    assert resp.code == 200 and inbound.text == "/help"
    assert seen == [(event["webhookEventId"],)]
    assert [row[0] for row in pending] == [event["webhookEventId"]]
    assert '"text":"/help"' in pending[0][1]


@pytest.mark.gen_test(timeout=10)
async def test_a_body_that_stops_arriving_is_dropped_and_runs_nothing(tmp_path):
    """A webhook body that trickles past the body deadline: connection closed, no command,
    no 200; the next request on a new connection is served normally."""
    async with fline.FakeLine(access_token="t") as fake:
        inbox = Inbox()
        async with running_stack(webhook_config(tmp_path, line=fake), inbox) as stack:
            body = fline.body_of(fline.text_event("/help", user_id=ALICE_LINE))
            port = stack.web.bound_port(stack.cfg.line.bind, stack.cfg.line.port)
            deadlines = stack.web.body_deadlines
            registered = asyncio.Event()
            track = deadlines.add
            deadlines.add = lambda post: (track(post), registered.set())  # type: ignore
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"POST %s HTTP/1.1\r\nHost: x\r\nX-Line-Signature: %s\r\n"
                         b"Content-Length: %d\r\n\r\n%s" % (
                             stack.cfg.line.path.encode(),
                             fline.sign(body, LINE_SECRET).encode(), len(body), body[:10]))
            await writer.drain()
            await asyncio.wait_for(registered.wait(), 5)
            deadlines.timeout_sec = 0.0
            deadlines.sweep()
            answer = await asyncio.wait_for(reader.read(), 5)
            writer.close()
            after = await post_line(stack.url("line"), body)
            await inbox.wait(1)
    assert answer == b"" and len(deadlines) == 0
    assert after.code == 200 and [i.text for i in inbox.items] == ["/help"]


@pytest.mark.gen_test(timeout=10)
async def test_other_routes_keep_tornados_body_timeout(tmp_path, monkeypatch):
    """A slow body to a non-webhook path is cut off by Tornado's per-request body timeout."""
    monkeypatch.setattr(webmod, "BODY_TIMEOUT_SEC", 0.2)
    async with fline.FakeLine(access_token="t") as fake:
        async with running_stack(webhook_config(tmp_path, line=fake), Inbox()) as stack:
            port = stack.web.bound_port(stack.cfg.line.bind, stack.cfg.line.port)
            started = time.monotonic()
            answer = await raw_exchange(port, b"POST /healthz HTTP/1.1\r\nHost: x\r\n"
                                              b"Content-Length: 100\r\n\r\nabc")
            took = time.monotonic() - started
            health = await get(stack.url("line", "/healthz"))
    assert answer == b"" and took < 4
    assert health.code == 200


@pytest.mark.gen_test(timeout=10)
async def test_webhook_path_answers_405_to_other_methods_and_ignores_the_query(tmp_path):
    """GET on the LINE path → 405 (only POST is a webhook); a query string on the POST
    path still reaches the webhook."""
    async with fline.FakeLine(access_token="t") as fake:
        inbox = Inbox()
        async with running_stack(webhook_config(tmp_path, line=fake), inbox) as stack:
            got = await get(stack.url("line"))
            body = fline.body_of(fline.text_event("/help", user_id=ALICE_LINE))
            posted = await post_line(stack.url("line") + "?x=1", body)
            await inbox.wait(1)
    assert got.code == 405
    assert posted.code == 200 and posted.headers["Cache-Control"] == "no-store"
    assert posted.headers["X-Content-Type-Options"] == "nosniff"


class _Connection:
    """Just enough of tornado's HTTP1Connection to watch what WebhookPost writes."""

    def __init__(self) -> None:
        self.written: list[tuple[int, bytes]] = []
        self.closed = False

    def set_max_body_size(self, size: int) -> None:
        self.max_body = size

    def write_headers(self, start_line, headers, chunk=None) -> None:
        self.written.append((start_line.code, chunk or b""))

    def finish(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


def test_the_answer_waits_for_the_commit_and_oversize_is_refused_early():
    """WebhookPost writes nothing until when_durable calls back; a declared body over
    the limit gets 413 from the headers alone and ingest never runs."""
    from tornado import httputil

    from openclaw_connector.web.webhook import (MAX_BODY, BodyDeadlines, WebhookEndpoint,
                                                WebhookPost)
    waiting: list = []
    seen: list = []

    def ingest(signature, body):
        seen.append((signature, body))
        return 200

    endpoint = WebhookEndpoint(ingest, "X-Sig", waiting.append)
    deadlines = BodyDeadlines(30)
    conn = _Connection()
    post = WebhookPost(endpoint, conn, deadlines)  # type: ignore[arg-type]
    post.headers_received(httputil.RequestStartLine("POST", "/hook?a=1", "HTTP/1.1"),
                          httputil.HTTPHeaders({"Content-Length": "2", "X-Sig": "s"}))
    post.data_received(b"{}")
    post.finish()
    assert seen == [("s", b"{}")] and conn.written == [] and len(deadlines) == 0
    waiting.pop()()
    assert conn.written == [(200, b"")]

    big = _Connection()
    post = WebhookPost(endpoint, big, deadlines)  # type: ignore[arg-type]
    post.headers_received(httputil.RequestStartLine("POST", "/hook", "HTTP/1.1"),
                          httputil.HTTPHeaders({"Content-Length": str(MAX_BODY + 1)}))
    post.data_received(b"x" * 10)
    post.finish()
    assert big.written[0][0] == 413 and len(seen) == 1 and waiting == []
