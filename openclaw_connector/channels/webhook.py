"""Shared pieces of the webhook channels (LINE, WhatsApp): the bounded,
signed-body request handler, signature checks, the task set that runs
commands after the acknowledgement, and text splitting.

Why this shape (faults.md 6, 10): a webhook must answer in milliseconds, so
the handler verifies the signature over the *raw* bytes, parses, dedupes and
spawns the command as a task, and answers 200 as soon as the StateStore has
committed the dedup id and the pending command; the command and its reply run
after the response has left. When that commit failed (disk full) the answer
is 503 instead, so LINE and Meta deliver the event again later (issue 20).
Bodies are capped at 1 MiB and a larger one gets 413 before more of it is
read; all bodies together are bounded by a :class:`~openclaw_connector.listener.BodyBudget`
and one that does not fit gets 503 with ``Retry-After``. Wire facts: platforms.md §3
(``X-Line-Signature``) and §4 (``X-Hub-Signature-256``).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Optional

import tornado.ioloop
import tornado.web
from tornado import httputil

from openclaw_connector import log as logmod
from openclaw_connector.lifecycle import drain
from openclaw_connector.media import MediaTooLarge, MediaUnsupported

log = logmod.get("webhook")
access = logmod.get("http")

MAX_BODY = 1 << 20           # 1 MiB; LINE and Meta send a few KiB at most
STOP_GRACE_SEC = 5.0         # how long stop() lets in-flight commands finish
RETRY_AFTER_SEC = 5          # Retry-After on a 503 (body budget full, state not durable)
DEDUP_TTL_SEC = 48 * 3600    # redeliveries come for hours (Meta: days, but rarely)
# An event older than this is refused: the dedup memory may have forgotten it,
# so running it could repeat a command (a replayed body, a very late retry).
MAX_EVENT_AGE_SEC = DEDUP_TTL_SEC - 3600


def is_stale(sent_at: object, now: float, *, millis: bool = False) -> bool:
    """True when the platform's event time is older than MAX_EVENT_AGE_SEC.

    A missing or unreadable time is not stale: the dedup memory still applies.
    """
    try:
        seconds = float(sent_at) / (1000.0 if millis else 1.0)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return False
    return seconds == seconds and now - seconds > MAX_EVENT_AGE_SEC   # NaN is not stale


# --------------------------------------------------------------------------- signatures

def line_signature(secret: str, body: bytes) -> str:
    """``base64(HMAC-SHA256(channel secret, body))`` as LINE sends it."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def hub_signature(secret: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256(app secret, body)>`` as Meta sends it."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def signature_matches(expected: str, received: Optional[str]) -> bool:
    """Constant-time compare of two ASCII signature strings; a missing one never matches."""
    if not received:
        return False
    try:
        got = received.strip().encode("ascii")
    except UnicodeEncodeError:
        return False
    return hmac.compare_digest(expected.encode("ascii"), got)


NO_PUBLIC_URL_NOTE = ("The image is ready but cannot be delivered here: set media.public_base_url "
                      "(OPENCLAW_CONNECTOR_PUBLIC_BASE_URL) to the public HTTPS address of this "
                      "connector so the platform can fetch it.")
TOO_LARGE_NOTE = "An image was too large to deliver (%.1f MB; the limit here is %.1f MB)."
UNSUPPORTED_NOTE = "An image could not be delivered (%s; only PNG and JPEG can be sent here)."
URL_IMAGE_TYPES = ("image/png", "image/jpeg")   # what LINE and WhatsApp fetch by URL


async def image_urls(media, images, *,
                     platform_max_bytes: int) -> tuple[list[str], list[str]]:
    """Store ``images`` in the MediaStore; return (public URLs, notes for the user).

    A note replaces each image that cannot be sent by URL: no
    ``public_base_url``, over ``media.max_mb`` or the platform's own limit,
    or not PNG/JPEG (the only types LINE and WhatsApp accept). The file is
    written on the default executor, as MediaHandler reads it: an image of
    several MB would otherwise hold the IOLoop for tens of milliseconds.
    """
    urls: list[str] = []
    notes: list[str] = []
    for image in images:
        if media is None or not media.public:
            if NO_PUBLIC_URL_NOTE not in notes:
                notes.append(NO_PUBLIC_URL_NOTE)
            continue
        ctype = image.content_type.split(";")[0].strip().lower()
        limit = min(platform_max_bytes, media.max_bytes)
        try:
            if ctype not in URL_IMAGE_TYPES:
                raise MediaUnsupported(ctype)
            if len(image.data) > limit:
                raise MediaTooLarge(ctype)
            urls.append(await tornado.ioloop.IOLoop.current().run_in_executor(
                None, media.url, image.data, ctype))
        except MediaTooLarge:
            log.warning("event=image_not_sent reason=too_large bytes=%d limit=%d",
                        len(image.data), limit)
            notes.append(TOO_LARGE_NOTE % (len(image.data) / 1048576, limit / 1048576))
        except MediaUnsupported:
            log.warning("event=image_not_sent reason=unsupported_type type=%s", ctype)
            notes.append(UNSUPPORTED_NOTE % ctype)
    return urls, notes


def with_notes(text: str, notes: list[str]) -> str:
    """``text`` followed by ``notes``, one paragraph each."""
    return "\n\n".join([p for p in [text, *notes] if p])


METRIC_HELP = {
    "webhook_requests_total": "Webhook POSTs by answer status",
    "webhook_duplicates_total": "Webhook events dropped as redeliveries",
    "webhook_stale_total": "Webhook events refused as older than the dedup memory",
    "webhook_malformed_total": "Webhook events skipped for a field that could not be read",
    "webhook_messages_total": "Webhook text messages handed to the router",
    "line_sends_total": "LINE reply/push API calls by status",
    "whatsapp_sends_total": "WhatsApp Graph message calls by status",
    "whatsapp_statuses_total": "WhatsApp delivery statuses received",
    "whatsapp_window_skips_total": "WhatsApp sends refused outside the 24-hour window",
}


def count(metrics, name: str, **labels: str) -> None:
    """``metrics.inc`` with this module's help text for ``name``."""
    metrics.inc(name, help=METRIC_HELP.get(name, ""), **labels)


# --------------------------------------------------------------------------- tasks

class TaskSet:
    """The commands a channel started after acknowledging a webhook.

    Keeps a reference to each task (asyncio only keeps weak ones), logs an
    exception a task raised, and lets ``stop()`` wait a bounded time for the
    rest before cancelling them.
    """

    def __init__(self, component: str) -> None:
        self._tasks: set[asyncio.Task] = set()
        self._log = logmod.get(component)

    def spawn(self, coro: Awaitable[None]) -> asyncio.Task:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        error = None if task.cancelled() else task.exception()
        if error is not None:
            self._log.error("event=inbound_failed error=%s", logmod.one_line_error(error))

    def __len__(self) -> int:
        return len(self._tasks)

    async def drain(self, timeout: float = STOP_GRACE_SEC) -> None:
        """Wait up to ``timeout`` for running tasks, then cancel what is left."""
        left = await drain(set(self._tasks), timeout)
        if left:
            self._log.warning("event=inbound_cancelled count=%d (kept pending; the next "
                              "start runs them again)", left)


# --------------------------------------------------------------------------- handler

Ingest = Callable[[Optional[str], bytes], int]
# Sent with every answer on a webhook path, whichever class answers it.
WEBHOOK_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}


def _never() -> bool:
    return False


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

    def __init__(self, endpoint: WebhookEndpoint, connection: httputil.HTTPConnection,
                 deadlines: BodyDeadlines, budget: Optional[Any] = None) -> None:
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
        self._connection.set_max_body_size(1 << 40)
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


class WebhookPathHandler(tornado.web.RequestHandler):
    """Every method but POST on a webhook path (POST goes to :class:`WebhookPost`):
    405 unless a subclass defines it (WhatsApp's verification ``GET``)."""

    def initialize(self, channel) -> None:
        self.channel = channel

    def check_xsrf_cookie(self) -> None:  # webhooks carry signatures, not cookies
        return None

    def set_default_headers(self) -> None:
        self.clear_header("Server")
        for name, value in WEBHOOK_HEADERS.items():
            self.set_header(name, value)
