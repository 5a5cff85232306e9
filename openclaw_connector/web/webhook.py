"""The webhook POST fast path: body limits, deadlines and the durable acknowledgement.

A webhook POST is answered straight on Tornado's HTTP connection by a
:class:`WebhookPost` (an ``HTTPMessageDelegate`` that :class:`~openclaw_connector.web.router.ListenerRouter`
returns for a registered path), not by a ``RequestHandler``: ``tornado.web``'s
per-request machinery was the largest single cost of an acknowledgement
(issue 6). A channel registers what it needs through the :class:`WebhookRoute`
Protocol, so this package never imports a channel (issue 14); the signature
checks and the shared channel helpers stay in ``channels/webhook.py``.

Why this shape (faults.md 6, 10): a webhook must answer in milliseconds, so
the route verifies the signature over the *raw* bytes, parses, dedupes and
spawns the command as a task, and the answer (200) leaves as soon as the
StateStore has committed the dedup id and the pending command; the command and
its reply run after the response has left. When that commit failed (disk full)
the answer is 503 instead, so LINE and Meta deliver the event again later
(issue 20). Bodies are capped at MAX_BODY and a larger one gets 413 before more
of it is read; all bodies together are bounded by a
:class:`~openclaw_connector.web.listener.BodyBudget` and one that does not fit
gets 503 with ``Retry-After``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable, Optional, Protocol

from tornado import httputil

from openclaw_connector import log as logmod
from openclaw_connector.web.listener import BodyBudget

log = logmod.get("webhook")
access = logmod.get("http")

MAX_BODY = 1 << 20           # 1 MiB; LINE and Meta send a few KiB at most
RETRY_AFTER_SEC = 5          # Retry-After on a 503 (body budget full, state not durable)


Ingest = Callable[[Optional[str], bytes], int]
# Sent with every answer on a webhook path, whichever class answers it.
WEBHOOK_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}


def _never() -> bool:
    return False


class WebhookRoute(Protocol):
    """What a channel registers for its webhook path (``WebServers.add_webhook``).

    ``ingest(signature, body)`` verifies and takes in one body and returns the
    status to answer; ``signature_header`` names the header carrying the
    signature; ``when_durable(callback)`` runs ``callback`` once what ingest
    wrote is committed; ``write_failing()`` says the commit did not reach the
    disk (then a 200 would be a lie: 503 instead).
    """

    @property
    def signature_header(self) -> str: ...

    def ingest(self, signature: Optional[str], body: bytes) -> int: ...

    def when_durable(self, callback: Callable[[], None]) -> None: ...

    def write_failing(self) -> bool: ...


@dataclass(frozen=True)
class WebhookEndpoint:
    """What a webhook POST needs: the channel's ``ingest(signature, body) -> status``,
    the header carrying the signature, the StateStore's ``when_durable``, and
    whether its writes are failing (then a 200 would be a lie: 503 instead)."""

    ingest: Ingest
    signature_header: str
    when_durable: Callable[[Callable[[], None]], None]
    write_failing: Callable[[], bool] = _never


class BodyDeadlines:
    """Webhook POSTs whose body is still arriving, and a sweep that drops the slow ones.

    Tornado's per-request ``body_timeout`` wraps every body read in
    ``gen.with_timeout``, which cost more than HMAC and JSON together on the
    webhook path; a set and a sweep every few seconds bound a trickling body
    (slowloris) just as well. ``sweep()`` is called by the web server's timer.
    """

    def __init__(self, timeout_sec: float) -> None:
        self.timeout_sec = timeout_sec
        self._open: dict["WebhookPost", float] = {}

    def add(self, post: "WebhookPost") -> None:
        self._open[post] = time.monotonic()

    def discard(self, post: "WebhookPost") -> None:
        self._open.pop(post, None)

    def __len__(self) -> int:
        return len(self._open)

    def sweep(self) -> None:
        limit = time.monotonic() - self.timeout_sec
        late = [post for post, since in self._open.items() if since < limit]
        for post in late:
            self.discard(post)
            post.give_up()
        if late:
            log.info("event=webhook_body_timeout count=%d", len(late))


class WebhookPost(httputil.HTTPMessageDelegate):
    """One POST to a webhook path, answered straight on Tornado's HTTP connection.

    Why not a ``RequestHandler``: its per-request machinery (routing, header
    defaults, cookies, the output pipeline) cost more CPU than everything a
    webhook does besides the reply (issue 6, benchmarks/README.md). This reads
    a body of at most MAX_BODY bytes: a ``Content-Length`` over the limit gets
    413 before any of the body is read, a chunked body gets 413 as soon as it
    crosses the limit (Tornado then discards the rest and closes the
    connection). Then ``ingest`` runs, and the status it returns is sent once
    the StateStore has committed what ingest wrote (dedup ids, pending
    commands), so a 200 always means "this command survives a crash".
    """

    def __init__(self, endpoint: WebhookRoute, connection: httputil.HTTPConnection,
                 deadlines: BodyDeadlines, budget: Optional[BodyBudget] = None) -> None:
        self._endpoint = endpoint
        self._connection = connection
        self._deadlines = deadlines
        self._budget = budget
        self._reserved = 0          # bytes taken from the budget for this body
        self._declared = False
        self._chunks: list[bytes] = []
        self._size = 0
        self._answered = False
        self._signature: Optional[str] = None
        self._path = ""
        self._started = 0.0

    def headers_received(self, start_line, headers) -> None:
        self._started = time.monotonic()
        self._deadlines.add(self)
        self._path = start_line.path.split("?", 1)[0]
        self._signature = headers.get(self._endpoint.signature_header)
        # Our own limit is checked here and in data_received; raise Tornado's so it
        # never answers a bare "400" after our 413 (it checks after this call).
        self._connection.set_max_body_size(1 << 40)   # type: ignore[attr-defined]
        length = headers.get("Content-Length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                self._answer(400, b"bad Content-Length\n")
                return
            if declared > MAX_BODY:
                self._answer(413, b"body over %d bytes\n" % MAX_BODY)
                return
            # The whole declared body is reserved up front: a flood of slow bodies
            # is refused before it is read, not after it filled memory.
            self._declared = True
            self._reserve(max(0, declared))

    def _reserve(self, amount: int) -> bool:
        if self._budget is None:
            return True
        if self._budget.take(amount):
            self._reserved += amount
            return True
        self._release()
        self._chunks = []
        self._answer(503, b"busy: too many request bodies in flight, retry later\n",
                     retry_after=True)
        return False

    def _release(self) -> None:
        if self._reserved and self._budget is not None:
            self._budget.give(self._reserved)
        self._reserved = 0

    def data_received(self, chunk: bytes) -> None:
        if self._answered:
            return
        self._size += len(chunk)
        if self._size > MAX_BODY:
            self._chunks = []
            self._answer(413, b"body over %d bytes\n" % MAX_BODY)
            return
        if not self._declared and not self._reserve(len(chunk)):
            return
        self._chunks.append(chunk)

    def finish(self) -> None:
        self._deadlines.discard(self)
        if self._answered:
            self._release()
            return
        status = self._endpoint.ingest(self._signature, b"".join(self._chunks))
        self._chunks = []
        self._release()
        self._endpoint.when_durable(lambda: self._answer_durable(status))

    def _answer_durable(self, status: int) -> None:
        """The ingest's status, unless what it wrote did not reach the disk."""
        if status == 200 and self._endpoint.write_failing():
            # Nothing of this event is durable: let the platform deliver it again.
            self._answer(503, b"state storage failing, retry later\n", retry_after=True)
            return
        self._answer(status, b"" if status == 200 else b"%d\n" % status)

    def on_connection_close(self) -> None:
        self._deadlines.discard(self)
        self._chunks = []
        self._release()

    def give_up(self) -> None:
        """The body took too long: close the connection, run nothing."""
        self._answered = True
        self._chunks = []
        self._release()
        self._connection.close()   # type: ignore[attr-defined]

    def _answer(self, status: int, body: bytes, *, retry_after: bool = False) -> None:
        if self._answered:
            return
        self._answered = True
        self._deadlines.discard(self)
        headers = httputil.HTTPHeaders({
            "Content-Type": "text/plain; charset=utf-8", "Content-Length": str(len(body)),
            **WEBHOOK_HEADERS})
        if retry_after:
            headers["Retry-After"] = str(RETRY_AFTER_SEC)
        self._connection.write_headers(
            httputil.ResponseStartLine("HTTP/1.1", status, httputil.responses.get(status, "")),
            headers, body)
        self._connection.finish()
        # The command logs its own line; a 200 here is only worth a debug line.
        access.log(logging.DEBUG if status < 400 else logging.WARNING,
                   "event=http_request method=POST path=%s status=%d took_ms=%.1f",
                   self._path, status, 1000.0 * (time.monotonic() - self._started))
