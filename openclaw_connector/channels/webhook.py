"""Shared pieces of the webhook channels (LINE, WhatsApp): signature checks,
event age, the task set that runs commands after the acknowledgement, text
splitting, image URLs and metric help, and the ``RequestHandler`` base for
every method but POST on a webhook path.

The POST itself (body limits, deadlines, the durable 200) is answered by the
web server (``web/webhook.py``), which calls the channel's ``ingest`` through
the :class:`~openclaw_connector.web.webhook.WebhookRoute` Protocol; web/
imports no channel. Wire facts: platforms.md §3 (``X-Line-Signature``) and §4
(``X-Hub-Signature-256``).
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import hmac
import re
from typing import Any, Awaitable, Optional

import tornado.ioloop
import tornado.web

from openclaw_connector import log as logmod
from openclaw_connector.channels.base import ChannelDeps, ChannelHealth, NoEdits
from openclaw_connector.channels.pending import PendingInbounds
from openclaw_connector.lifecycle import drain
from openclaw_connector.channels.media_links import moving_media
from openclaw_connector.media import MediaTooLarge, MediaUnsupported
from openclaw_connector.media_out import IMAGE
from openclaw_connector.messages import Capabilities, ChatRef, InboundHandler, Reply, Sent
from openclaw_connector.net.client import KeepAliveClient
from openclaw_connector.web.webhook import WEBHOOK_HEADERS, WebhookEndpoint

log = logmod.get("webhook")

STOP_GRACE_SEC = 5.0         # how long stop() lets in-flight commands finish
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


async def image_links(media, images, *,
                      platform_max_bytes: int) -> tuple[list[tuple[int, str]], list[str]]:
    """Store ``images`` in the MediaStore; return ((index in ``images``, public URL)
    for each stored one, notes for the user).

    A note replaces each image that cannot be sent by URL: no
    ``public_base_url``, over ``media.max_mb`` or the platform's own limit,
    or not PNG/JPEG (the only types LINE and WhatsApp accept). The file is
    written on the default executor, as MediaHandler reads it: an image of
    several MB would otherwise hold the IOLoop for tens of milliseconds.
    """
    urls: list[tuple[int, str]] = []
    notes: list[str] = []
    for index, image in enumerate(images):
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
            urls.append((index, await tornado.ioloop.IOLoop.current().run_in_executor(
                None, media.url, image.data, ctype)))
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


@dataclasses.dataclass
class UrlMedia:
    """A reply as the platforms that fetch media by URL (LINE, WhatsApp) send it: its text
    with the links and notes that stand in for files, then stills and native videos as
    URLs, each paired with its index in ``Reply.images``."""

    text: str
    stills: list[tuple[int, str]]
    videos: list[tuple[int, str]]

    def shows(self, text_messages: int) -> list[int]:
        """Per message sent in that order (text pieces, stills, videos): the index of the
        reply image it shows, -1 for none (``media_links.image_ids``)."""
        return [-1] * text_messages + [n for n, _url in self.stills] + \
            [n for n, _url in self.videos]


async def url_media(media: Any, reply: Reply, *, image_max_bytes: int,
                    video_max_bytes: int) -> UrlMedia:
    """Store ``reply``'s stills (:func:`image_links`) and videos or animations
    (``media_links.moving_media``) for a platform with these size limits."""
    still_at = [n for n, image in enumerate(reply.images) if image.kind == IMAGE]
    moving_at = [n for n, image in enumerate(reply.images) if image.kind != IMAGE]
    moving = await moving_media(media, [reply.images[n] for n in moving_at],
                                native_max_bytes=video_max_bytes)
    links, notes = await image_links(media, [reply.images[n] for n in still_at],
                                     platform_max_bytes=image_max_bytes)
    return UrlMedia(with_notes(reply.text, moving.links + notes + moving.notes),
                    [(still_at[k], url) for k, url in links],
                    [(moving_at[k], url) for k, url in zip(moving.video_of, moving.videos)])


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


class WebhookPathHandler(tornado.web.RequestHandler):
    """Every method but POST on a webhook path (POST goes to ``web/webhook.py``):
    405 unless a subclass defines it (WhatsApp's verification ``GET``)."""

    def initialize(self, channel) -> None:
        self.channel = channel

    def check_xsrf_cookie(self) -> None:  # webhooks carry signatures, not cookies
        return None

    def set_default_headers(self) -> None:
        self.clear_header("Server")
        for name, value in WEBHOOK_HEADERS.items():
            self.set_header(name, value)


# --------------------------------------------------------------------------- the channel

class WebhookChannel(NoEdits):
    """What LINE and WhatsApp set up alike: health, the command tasks, the daemon's
    keep-alive pool, the pending commands kept in the event's dedup row (``seen_ns``),
    and the two routes of ``cfg.path`` (the POST fast path with its signature
    header, every other method on ``path_handler``)."""

    platform: str
    base_capabilities: Capabilities     # without buttons (no Buttons service configured)
    max_buttons: int = 0

    @property
    def capabilities(self) -> Capabilities:
        if self._deps.buttons is None:
            return self.base_capabilities
        return dataclasses.replace(self.base_capabilities, buttons=True,
                                   max_buttons=self.max_buttons)

    def __init__(self, cfg: Any, on_inbound: InboundHandler, deps: ChannelDeps, *,
                 seen_ns: str, signature_header: str,
                 path_handler: type[WebhookPathHandler]) -> None:
        self.cfg = cfg
        self._on_inbound = on_inbound
        self._deps = deps
        self.health = ChannelHealth(self.platform)
        self._tasks = TaskSet(self.platform)
        self._api: KeepAliveClient = deps.http.client   # the daemon's pool; it closes it
        self._pending = PendingInbounds(deps.state, self.platform, tell=self.send,
                                        seen_ns=seen_ns, seen_ttl_sec=DEDUP_TTL_SEC)
        if deps.web is not None:
            deps.web.add_webhook(cfg.bind, cfg.port, cfg.path, WebhookEndpoint(
                self.ingest, signature_header, deps.state.when_durable,
                lambda: deps.state.write_failing))
            deps.web.add_route(cfg.bind, cfg.port, re.escape(cfg.path), path_handler,
                               {"channel": self})

    def _resume_pending(self) -> None:
        """Run the commands an earlier process acknowledged (200) but never answered."""
        for row_key, inbound in self._pending.take_over():
            self._tasks.spawn(self._pending.run(row_key, self._on_inbound, inbound))

    async def stop(self) -> None:
        await self._tasks.drain()
        self.health.stopped()

    def ingest(self, signature: Optional[str], body: bytes) -> int:
        """Check, parse and acknowledge one POST body; the HTTP status to answer."""
        raise NotImplementedError

    async def send(self, chat: ChatRef, reply: Reply, *, start_part: int = 0,
                   key: str = "") -> Sent:
        raise NotImplementedError
