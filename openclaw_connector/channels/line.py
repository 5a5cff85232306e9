"""LINE Messaging API: webhook in, reply/push out (platforms.md §3).

Inbound: ``POST line.path`` signed with ``X-Line-Signature``; text messages
from users, groups and rooms become :class:`Inbound` (``chat_id`` = groupId,
roomId or userId; ``user_id`` = source.userId). Events are deduplicated on
``webhookEventId`` (redeliveries reuse it), the request is answered 200 at
once and commands run afterwards (faults.md 6); each acknowledged command is
kept in the StateStore until answered, so a crash does not lose it
(``channels/pending.py``). Events in ``standby`` mode
and non-text types are ignored. The console's "Verify" request (empty
``events``) gets 200.

Outbound: the event's reply token while it is fresh (< 50 s; LINE only
promises about a minute) and unused, else push. One attempt per batch: the
Outbox (``delivery.py``) retries from the first batch not delivered. The
push's ``X-Line-Retry-Key`` is derived (uuid5 of chat, delivery key and batch
index), so every retry of a batch, in this process or after a restart,
carries the same key and a 409 means "already delivered" (faults.md 7, 15).
Text is split at 5000 UTF-16 units, at most 5 message objects per call;
images go out as MediaStore URLs. API calls reuse keep-alive connections
(``net/client.py``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import secrets
import time
from typing import Any, Optional

from openclaw_connector import log as logmod
from openclaw_connector.net.client import APIResponse, ApiUnreachable
from openclaw_connector.net.retry import retry_after
from openclaw_connector.channels.base import ChannelDeps, send_parts
from openclaw_connector.channels.line_media import fetch_photo, photo_of
from openclaw_connector.channels.media_links import image_ids, stored_url
from openclaw_connector.channels.textsplit import split_text
from openclaw_connector.channels.webhook import (WebhookChannel, WebhookPathHandler, count,
                                                 is_stale, line_signature, signature_matches,
                                                 url_media)
from openclaw_connector.channels.line_buttons import MAX_BUTTONS, button_messages, \
    parse_postback
from openclaw_connector.channels.webhook_taps import WebhookTaps
from openclaw_connector.config import LineConfig
from openclaw_connector.media_out import placeholder_png
from openclaw_connector.messages import Capabilities, ChannelSendError, ChatRef, Inbound, \
    InboundHandler, PhotoRef, Reply, Sent

log = logmod.get("line")

TEXT_LIMIT = 5000            # UTF-16 units per text message
MESSAGES_PER_CALL = 5
IMAGE_MAX_BYTES = 10 * 1024 * 1024   # originalContentUrl: JPEG/PNG up to 10 MB
VIDEO_MAX_BYTES = 200 * 1024 * 1024  # video originalContentUrl: mp4 up to 200 MB
REPLY_TOKEN_FRESH_SEC = 50.0
RETRY_KEY_NAMESPACE = bytes.fromhex("6f1d2c3e5b7a4c1e9a0d1c2b3a4d5e6f")   # a UUID, ours, fixed
# No edits on LINE; the loading animation (interactive.md §2.3) lasts at most 60 s, so a
# running job renews it every 55 s.
CAPABILITIES = Capabilities(max_upload_bytes=IMAGE_MAX_BYTES, typing=True,
                            typing_renew_sec=55.0)
LOADING_SEC = 60             # 5-60, a multiple of 5
DEDUP_NS = "line.event"


def parse_events(payload: Any) -> list:
    """The ``events`` list of a webhook body; ValueError when the shape is wrong."""
    if not isinstance(payload, dict) or not isinstance(payload.get("events"), list):
        raise ValueError("expected an object with an events list")
    return payload["events"]


def event_to_inbound(event: Any, now: float) -> Optional[Inbound]:
    """An Inbound for a text message event in active mode; None for anything else."""
    if not isinstance(event, dict) or event.get("type") != "message":
        return None
    if event.get("mode", "active") != "active":
        return None
    message, source = event.get("message"), event.get("source")
    if not isinstance(message, dict) or not isinstance(source, dict):
        return None
    text = "" if message.get("type") == "image" else message.get("text")   # issue 19
    if message.get("type") not in ("text", "image") or not isinstance(text, str):
        return None
    user_id = source.get("userId") or ""
    kind = source.get("type")
    if not isinstance(kind, str):
        return None
    chat_id = {"user": user_id, "group": source.get("groupId"),
               "room": source.get("roomId")}.get(kind)
    if not isinstance(chat_id, str) or not chat_id or not isinstance(user_id, str):
        return None
    message_id = str(message.get("id") or "")
    mention = message.get("mention")
    mentionees = mention.get("mentionees") if isinstance(mention, dict) else None
    mentioned = isinstance(mentionees, list) and any(
        isinstance(m, dict) and m.get("isSelf") is True for m in mentionees)
    reply_token = event.get("replyToken")
    chat = ChatRef(platform="line", chat_id=chat_id, user_id=user_id, message_id=message_id,
                   is_group=kind != "user",
                   reply_token=reply_token if isinstance(reply_token, str) else "",
                   received_at=now)
    photo = photo_of(message, chat_id)
    if message.get("type") == "image" and photo is None:
        return None
    quoted = message.get("quotedMessageId")
    return Inbound(platform="line", user_id=user_id, chat_id=chat_id, text=text, chat=chat,
                   message_id=message_id, is_direct=kind == "user", bot_name="",
                   mentioned=mentioned, photo=photo,
                   reply_to=quoted if isinstance(quoted, str) else "")


def dedup_key(event: Any) -> str:
    """``webhookEventId``, or the message id for events that lack one."""
    if isinstance(event, dict):
        if isinstance(event.get("webhookEventId"), str) and event["webhookEventId"]:
            return event["webhookEventId"]
        message = event.get("message")
        if isinstance(message, dict) and message.get("id"):
            return "message:%s" % message["id"]
    return ""


class LineWebhookHandler(WebhookPathHandler):
    """``line.path`` for every method but POST: 405."""


class LineChannel(WebhookChannel):
    """One LINE bot: its webhook route, reply-token bookkeeping and sender."""

    platform = "line"
    base_capabilities = CAPABILITIES
    max_buttons = MAX_BUTTONS

    def __init__(self, cfg: LineConfig, on_inbound: InboundHandler, deps: ChannelDeps) -> None:
        self._used_tokens: dict[str, float] = {}
        super().__init__(cfg, on_inbound, deps, seen_ns=DEDUP_NS,
                         signature_header="X-Line-Signature", path_handler=LineWebhookHandler)
        self._taps = WebhookTaps("line", state=deps.state, buttons=deps.buttons,
                                 pending=self._pending, tasks=self._tasks, seen_ns=DEDUP_NS,
                                 on_inbound=on_inbound, tell=self.send)

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        self._resume_pending()
        self.health.ok()
        log.info("event=channel_started platform=line path=%s", self.cfg.path)

    # ------------------------------------------------------------------ inbound
    def ingest(self, signature: Optional[str], body: bytes) -> int:
        """Handle one webhook body; return the HTTP status to answer with."""
        metrics = self._deps.metrics
        if not signature_matches(line_signature(self.cfg.channel_secret or "", body),
                                 signature):
            log.warning("event=webhook_rejected platform=line reason=%s bytes=%d",
                        "bad_signature" if signature else "missing_signature", len(body))
            count(metrics, "webhook_requests_total", platform="line", status="401")
            return 401
        try:
            events = parse_events(json.loads(body))
        except (ValueError, RecursionError) as exc:   # RecursionError: absurd nesting
            log.warning("event=webhook_bad_body platform=line error=%s",
                        logmod.one_line_error(exc))
            count(metrics, "webhook_requests_total", platform="line", status="400")
            return 400
        now = time.time()
        for event in events:
            inbound = event_to_inbound(event, now)
            tap = parse_postback(event, now) if inbound is None else None
            if tap is not None and not is_stale(event.get("timestamp"), now, millis=True):
                self._taps.take(tap.event_id, tap.token, tap.chat, tap.inbound)
                continue
            if inbound is None:
                kind = event.get("type") if isinstance(event, dict) else type(event).__name__
                log.debug("event=webhook_event_ignored platform=line type=%s", kind)
                continue
            key = dedup_key(event)
            if is_stale(event.get("timestamp"), now, millis=True):
                log.warning("event=webhook_stale platform=line id=%s", key)
                count(metrics, "webhook_stale_total", platform="line")
                continue
            # Seen and held in one row, committed before the 200 (WebhookPost waits
            # for state.when_durable); None: a redelivery.
            row_key = self._pending.admit(key or secrets.token_hex(16), inbound)
            if row_key is None:
                context = event.get("deliveryContext")
                log.info("event=webhook_duplicate platform=line id=%s redelivery=%s", key,
                         isinstance(context, dict) and context.get("isRedelivery") is True)
                count(metrics, "webhook_duplicates_total", platform="line")
                continue
            count(metrics, "webhook_messages_total", platform="line")
            self._tasks.spawn(self._pending.run(row_key, self._on_inbound, inbound))
        count(metrics, "webhook_requests_total", platform="line", status="200")
        return 200

    async def fetch_photo(self, photo: PhotoRef, max_bytes: int) -> bytes:
        """A user's image through the content API (``line.data_api_base``)."""
        return await fetch_photo(self._api, self.cfg.data_api_base,
                                 self.cfg.channel_access_token, photo, max_bytes)

    # ------------------------------------------------------------------ outbound
    async def send(self, chat: ChatRef, reply: Reply, *, start_part: int = 0,
                   key: str = "") -> Sent:
        """Reply (fresh token) or push each batch from ``start_part`` on, one attempt
        each; raise ChannelSendError (with ``sent_parts``) if LINE refused one."""
        messages, shows = await self.render(reply)
        if reply.actions and self._deps.buttons is not None:
            messages += button_messages(self._deps.buttons, chat, reply.actions, reply.text)
        batches = [messages[i:i + MESSAGES_PER_CALL]
                   for i in range(0, len(messages), MESSAGES_PER_CALL)]
        origin = key or chat.message_id
        ids = [""] * len(messages)      # every sent message's id, for Sent.image_ids

        async def send_one(index: int, batch: list[dict]) -> str:
            got: Optional[list[str]] = None
            if index == 0 and self._take_reply_token(chat):
                got = await self._reply(chat.reply_token, batch)
            if got is None:
                got = await self._push(chat.chat_id, batch, retry_key(chat, origin, index))
            if len(got) == len(batch):  # one sentMessages entry per message, in order
                ids[index * MESSAGES_PER_CALL:(index + 1) * MESSAGES_PER_CALL] = got
            return got[0] if got else ""

        sent = await send_parts("line", chat.chat_id, batches, start_part, send_one)
        self.health.ok()
        return dataclasses.replace(sent, image_ids=image_ids(shows, ids, len(reply.images)))

    async def typing(self, chat: ChatRef) -> None:
        """The loading animation in a 1:1 chat (groups and rooms cannot show it: §2.3);
        free, unlike a push. Raises ChannelSendError if LINE refused it."""
        if chat.is_group:
            return
        resp = await self._call("/v2/bot/chat/loading/start",
                                {"chatId": chat.user_id or chat.chat_id,
                                 "loadingSeconds": LOADING_SEC})
        count(self._deps.metrics, "line_loading_total", status=str(resp.code))
        if resp.code not in (200, 202):
            raise ChannelSendError("LINE loading animation refused (status %d)" % resp.code,
                                   permanent=400 <= resp.code < 500)

    async def render(self, reply: Reply) -> tuple[list[dict], list[int]]:
        """Text pieces, then one image object per image (notes replace images), then
        video objects (mp4; other animations are links in the text: issue 19); and per
        message the index in ``reply.images`` it shows (-1: none)."""
        out = await url_media(self._deps.media, reply, image_max_bytes=IMAGE_MAX_BYTES,
                              video_max_bytes=VIDEO_MAX_BYTES)
        urls = [url for _n, url in out.stills]
        messages: list[dict] = [{"type": "text", "text": piece}
                                for piece in split_text(out.text, TEXT_LIMIT, units="utf16")]
        shows = out.shows(len(messages))
        messages += [{"type": "image", "originalContentUrl": url, "previewImageUrl": url}
                     for url in urls]
        if out.videos:   # a preview is required: the job's first still, else a plain PNG
            preview = urls[0] if urls else await stored_url(self._deps.media,
                                                            placeholder_png(), "image/png")
            messages += [{"type": "video", "originalContentUrl": url,
                          "previewImageUrl": preview} for _n, url in out.videos]
        return messages, shows

    def _take_reply_token(self, chat: ChatRef) -> bool:
        now = time.time()
        if not chat.reply_token or now - chat.received_at >= REPLY_TOKEN_FRESH_SEC:
            return False
        # Insertion order is (nearly) expiry order: drop expired entries from the front,
        # looking at the oldest only (no copy per reply; usually it is still fresh).
        used = self._used_tokens
        for _ in range(64):
            oldest = next(iter(used), None)
            if oldest is None or used[oldest] > now:
                break
            del used[oldest]
        if chat.reply_token in self._used_tokens:
            return False
        self._used_tokens[chat.reply_token] = now + REPLY_TOKEN_FRESH_SEC
        return True

    async def _call(self, path: str, body: dict,
                    headers: Optional[dict] = None) -> APIResponse:
        return await self._api.fetch(
            "POST", self.cfg.api_base.rstrip("/") + path,
            headers={"Authorization": "Bearer %s" % self.cfg.channel_access_token,
                     "Content-Type": "application/json", **(headers or {})},
            body=json.dumps(body, ensure_ascii=False).encode("utf-8"),
            connect_timeout=self.cfg.connect_timeout_sec,
            request_timeout=self.cfg.request_timeout_sec)

    async def _reply(self, token: str, batch: list[dict]) -> Optional[list[str]]:
        """The sent message ids if LINE accepted the reply; None when push should
        take over (the token was refused, or LINE failed)."""
        try:
            resp = await self._call("/v2/bot/message/reply",
                                    {"replyToken": token, "messages": batch})
        except ApiUnreachable as exc:
            count(self._deps.metrics, "line_sends_total", api="reply", status="no_answer")
            log.warning("event=reply_failed error=%s fallback=push",
                        logmod.one_line_error(exc))
            return None
        if resp.code == 200:
            count(self._deps.metrics, "line_sends_total", api="reply", status="200")
            return _sent_ids(resp)
        count(self._deps.metrics, "line_sends_total", api="reply", status=str(resp.code))
        if resp.code == 400 and "reply token" in _error_message(resp).lower():
            log.info("event=reply_token_rejected fallback=push")
            return None
        if resp.code >= 500:
            log.warning("event=reply_failed status=%d fallback=push", resp.code)
            return None
        self._raise_for(resp, "reply")
        return None

    async def _push(self, to: str, batch: list[dict], key: str) -> list[str]:
        """One push carrying ``key`` as ``X-Line-Retry-Key``; 409 = delivered before
        (no ids then). The sent message ids."""
        try:
            resp = await self._call("/v2/bot/message/push", {"to": to, "messages": batch},
                                    {"X-Line-Retry-Key": key})
        except ApiUnreachable as exc:
            count(self._deps.metrics, "line_sends_total", api="push", status="no_answer")
            log.warning("event=push_failed error=%s", logmod.one_line_error(exc))
            self.health.failed("backoff", "push failing")
            raise ChannelSendError("LINE push failed (no answer)") from None
        count(self._deps.metrics, "line_sends_total", api="push", status=str(resp.code))
        if resp.code == 200:
            return _sent_ids(resp)
        if resp.code == 409:
            log.info("event=push_already_accepted retry_key=%s", key)
            return []
        if resp.code < 500:
            self._raise_for(resp, "push")
        log.warning("event=push_failed status=%d", resp.code)
        self.health.failed("backoff", "push failing")
        raise ChannelSendError("LINE push failed (%d)" % resp.code,
                               retry_after=retry_after(resp.headers, None))

    def _raise_for(self, resp: APIResponse, api: str) -> None:
        message = _error_message(resp)
        log.warning("event=send_refused api=%s status=%d message=%s", api, resp.code,
                    json.dumps(message))
        if resp.code in (401, 403):
            self.health.fatal("LINE refused the channel access token (%d)" % resp.code)
            raise ChannelSendError("LINE refused the access token", permanent=True)
        if resp.code == 429:
            raise ChannelSendError("LINE rate limit or monthly quota reached",
                                   retry_after=retry_after(resp.headers, None))
        raise ChannelSendError("LINE %s refused (%d): %s" % (api, resp.code, message),
                               permanent=True)


def retry_key(chat: ChatRef, origin: str, index: int) -> str:
    """The ``X-Line-Retry-Key`` of batch ``index`` of the delivery ``origin`` to ``chat``:
    derived, so every retry carries the same key; random only without an origin. It is
    ``uuid.uuid5`` computed with hashlib: the uuid module (and platform, ~0.3 MiB RSS) stays
    unloaded, and the keys are those of earlier releases, so a resend across an upgrade
    still carries the same one."""
    if not origin:
        return _uuid_text(secrets.token_bytes(16), 4)
    name = "%s\n%s\n%d" % (chat.chat_id, origin, index)
    return _uuid_text(hashlib.sha1(RETRY_KEY_NAMESPACE + name.encode()).digest(), 5)


def _uuid_text(raw: bytes, version: int) -> str:
    """The first 16 bytes of ``raw`` as an RFC 4122 UUID of ``version``, 8-4-4-4-12 hex."""
    b = bytearray(raw[:16])
    b[6] = (b[6] & 0x0F) | (version << 4)
    b[8] = (b[8] & 0x3F) | 0x80
    h = b.hex()
    return "%s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])


def _sent_ids(resp: APIResponse) -> list[str]:
    """The ids LINE reports as sent (``sentMessages``: one per message, in order)."""
    try:
        sent = json.loads(resp.body or b"{}").get("sentMessages")
        return [str(item["id"]) for item in sent or ()]
    except (ValueError, AttributeError, KeyError, TypeError):
        return []


def _error_message(resp: APIResponse) -> str:
    try:
        body = json.loads(resp.body or b"{}")
    except ValueError:
        return ""
    return str(body.get("message", "")) if isinstance(body, dict) else ""
