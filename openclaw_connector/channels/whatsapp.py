"""WhatsApp Cloud API: webhook in, Graph ``/messages`` out (platforms.md §4).

Inbound: ``GET whatsapp.path`` answers Meta's verification (``hub.mode``,
``hub.verify_token``, ``hub.challenge``; the query never reaches a log);
``POST whatsapp.path`` carries ``entry[].changes[].value`` with
``messages[]`` (text ones become :class:`Inbound`, ``chat_id = user_id =
wa_id``) and ``statuses[]`` (recorded, never commands). Bodies must carry
a valid ``X-Hub-Signature-256`` over ``app_secret``; config refuses to start
without the secret unless ``insecure_unsigned`` is set, and then every
message is marked unverified (``Inbound.verified``), so no forged "from"
is ever an admin (issue 20). Messages are deduplicated on their wamid,
statuses on wamid + status, and commands run after the 200 (faults.md 6,
12), kept in the StateStore until answered (``channels/pending.py``). A
malformed message or status is skipped with a log line; the rest of the
batch still runs.

Outbound: text split at 4096 characters, images by MediaStore URL
(``image.link``), one attempt per message (the Outbox, ``delivery.py``,
retries from the first message not delivered, so a message Graph accepted
is not posted again by a retry). Free-form messages are only allowed within
24 hours of the user's last inbound message, so the last inbound time per
user is kept in the StateStore and a send outside the window is refused
here, without calling Graph. A 200 is acceptance only: a later ``failed`` status is logged
with its error code (e.g. 131047) and remembered (:meth:`delivery_failed`).
"""

from __future__ import annotations

import dataclasses
import hmac
import json
import math
import time
from typing import Any, Optional

from openclaw_connector import log as logmod
from openclaw_connector.net.client import APIResponse, ApiUnreachable
from openclaw_connector.channels.base import ChannelDeps, send_parts
from openclaw_connector.channels.media_links import image_ids
from openclaw_connector.channels.textsplit import split_text
from openclaw_connector.channels.webhook_taps import WebhookTaps
from openclaw_connector.channels.whatsapp_buttons import MAX_BUTTONS, parse_button_reply, \
    with_buttons
from openclaw_connector.channels.whatsapp_media import fetch_photo
from openclaw_connector.channels.whatsapp_wire import iter_values, message_to_inbound
from openclaw_connector.channels.webhook import (DEDUP_TTL_SEC, WebhookChannel,
                                                 WebhookPathHandler,
                                                 count, hub_signature, is_stale,
                                                 signature_matches, url_media)
from openclaw_connector.config import WhatsAppConfig
from openclaw_connector.messages import Capabilities, ChannelSendError, ChatRef, \
    InboundHandler, PhotoRef, Reply, Sent

log = logmod.get("whatsapp")

TEXT_LIMIT = 4096
IMAGE_MAX_BYTES = 5 * 1024 * 1024    # image.link: JPEG/PNG up to 5 MB
VIDEO_MAX_BYTES = 16 * 1024 * 1024   # video.link: mp4 (H.264 + AAC) up to 16 MB
WINDOW_SEC = 24 * 3600
# No edits in the Cloud API; "typing": mark read + typing indicator, once per command.
CAPABILITIES = Capabilities(max_upload_bytes=IMAGE_MAX_BYTES, typing=True)
SENT_TTL_SEC = 7 * 24 * 3600
MESSAGE_NS, STATUS_NS = "whatsapp.message", "whatsapp.status"
SENT_NS, FAILED_NS = "whatsapp.sent", "whatsapp.failed"
LAST_INBOUND = "whatsapp.last_inbound"   # state.kv, expiring: wa_id -> time
RETRYABLE_CODES = {130429, 4, 80007}          # throughput / call-rate limits: back off
PAIR_LIMIT_CODE, PAIR_LIMIT_WAIT = 131056, 6.0
FATAL_CODES = {190, 0, 10, 200}               # token expired / auth / permission
STATUS_LABELS = {"sent", "delivered", "read", "failed"}   # platforms.md §4


class WhatsAppWebhookHandler(WebhookPathHandler):
    """``GET`` verification on ``whatsapp.path`` (POSTs go to ``ingest``)."""

    def get(self) -> None:
        challenge = self.channel.verify(self.get_query_argument("hub.mode", None),
                                        self.get_query_argument("hub.verify_token", None),
                                        self.get_query_argument("hub.challenge", None))
        if challenge is None:
            self.set_status(403)
            self.finish(b"403\n")
            return
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(challenge)


class WhatsAppChannel(WebhookChannel):
    """One WhatsApp Business phone number: webhook route, window bookkeeping, sender."""

    platform = "whatsapp"
    base_capabilities = CAPABILITIES
    max_buttons = MAX_BUTTONS

    def __init__(self, cfg: WhatsAppConfig, on_inbound: InboundHandler,
                 deps: ChannelDeps) -> None:
        super().__init__(cfg, on_inbound, deps, seen_ns=MESSAGE_NS,
                         signature_header="X-Hub-Signature-256",
                         path_handler=WhatsAppWebhookHandler)
        self._taps = WebhookTaps("whatsapp", state=deps.state, buttons=deps.buttons,
                                 pending=self._pending, tasks=self._tasks, seen_ns=MESSAGE_NS,
                                 on_inbound=on_inbound, tell=self.send)

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        if not self.cfg.app_secret:
            log.error("event=webhook_unsigned platform=whatsapp insecure_unsigned=true: "
                      "whatsapp.app_secret is not set, so anyone who finds %s can post "
                      "messages as any number; admin commands from WhatsApp are refused. "
                      "Set whatsapp.app_secret (Meta app dashboard > App settings > Basic "
                      "> App secret) and remove insecure_unsigned", self.cfg.path)
        self._resume_pending()
        self.health.ok()
        log.info("event=channel_started platform=whatsapp path=%s", self.cfg.path)

    # ------------------------------------------------------------------ inbound
    def verify(self, mode: Optional[str], token: Optional[str],
               challenge: Optional[str]) -> Optional[str]:
        """The challenge to echo for a valid subscription check, else None."""
        expected = (self.cfg.verify_token or "").encode("utf-8")
        given = (token or "").encode("utf-8")
        ok = bool(expected) and hmac.compare_digest(expected, given)
        if mode != "subscribe" or not ok or challenge is None:
            log.warning("event=verify_rejected platform=whatsapp mode_ok=%s token_ok=%s",
                        mode == "subscribe", ok)
            return None
        log.info("event=verify_accepted platform=whatsapp")
        return challenge

    def ingest(self, signature: Optional[str], body: bytes) -> int:
        """Handle one notification body; return the HTTP status to answer with."""
        metrics = self._deps.metrics
        secret = self.cfg.app_secret
        # Config guarantees a secret unless the operator chose insecure_unsigned.
        if secret or not self.cfg.insecure_unsigned:
            given = signature.strip().lower() if signature else signature  # hex: any case
            if not secret or not signature_matches(hub_signature(secret, body), given):
                log.warning("event=webhook_rejected platform=whatsapp reason=%s bytes=%d",
                            "bad_signature" if signature else "missing_signature", len(body))
                count(metrics, "webhook_requests_total", platform="whatsapp", status="401")
                return 401
        try:
            values = list(iter_values(json.loads(body)))
        except (ValueError, RecursionError) as exc:   # RecursionError: absurd nesting
            log.warning("event=webhook_bad_body platform=whatsapp error=%s",
                        logmod.one_line_error(exc))
            count(metrics, "webhook_requests_total", platform="whatsapp", status="400")
            return 400
        now = time.time()
        for value in values:
            metadata = value.get("metadata")
            number = metadata.get("phone_number_id") if isinstance(metadata, dict) else None
            if number and self.cfg.phone_number_id and str(number) != self.cfg.phone_number_id:
                log.info("event=webhook_other_number platform=whatsapp")
                continue
            for status in _list(value.get("statuses")):
                self._guarded(self._record_status, status, now, "status")
            for message in _list(value.get("messages")):
                self._guarded(self._take_message, message, now, "message")
        count(metrics, "webhook_requests_total", platform="whatsapp", status="200")
        return 200

    def _guarded(self, take: Any, item: Any, now: float, kind: str) -> None:
        """Run ``take(item, now)``; a field it cannot handle skips this item only.

        Meta redelivers a batch that was not answered 200, so one absurd field
        (a 400-digit timestamp) must not fail every other message with it.
        """
        try:
            take(item, now)
        except Exception as exc:   # noqa: BLE001 (any shape of broken input)
            item_id = item.get("id") if isinstance(item, dict) else None
            log.warning("event=webhook_%s_skipped platform=whatsapp id=%s error=%s", kind,
                        item_id if isinstance(item_id, str) else "?",
                        logmod.one_line_error(exc))
            count(self._deps.metrics, "webhook_malformed_total", platform="whatsapp")

    def _take_message(self, message: Any, now: float) -> None:
        if isinstance(message, dict) and isinstance(message.get("from"), str):
            self._note_inbound(message["from"], message.get("timestamp"), now)
        tap = parse_button_reply(message, now, verified=bool(self.cfg.app_secret))
        if tap is not None and not is_stale(message.get("timestamp"), now):
            self._taps.take(tap.wamid, tap.token, tap.chat, tap.inbound)
            return
        inbound = message_to_inbound(message, now, verified=bool(self.cfg.app_secret))
        if inbound is None:
            log.debug("event=webhook_message_ignored platform=whatsapp type=%s",
                      message.get("type") if isinstance(message, dict) else "?")
            return
        if is_stale(message.get("timestamp"), now):
            log.warning("event=webhook_stale platform=whatsapp id=%s", inbound.message_id)
            count(self._deps.metrics, "webhook_stale_total", platform="whatsapp")
            return
        # Seen and held in one row, committed before the 200 (WebhookPost waits for
        # state.when_durable); None: a redelivery.
        row_key = self._pending.admit(inbound.message_id, inbound)
        if row_key is None:
            log.info("event=webhook_duplicate platform=whatsapp id=%s", inbound.message_id)
            count(self._deps.metrics, "webhook_duplicates_total", platform="whatsapp")
            return
        count(self._deps.metrics, "webhook_messages_total", platform="whatsapp")
        self._tasks.spawn(self._pending.run(row_key, self._on_inbound, inbound))

    def _note_inbound(self, wa_id: str, timestamp: Any, now: float) -> None:
        """Remember when ``wa_id`` last wrote to us (opens the 24-hour window)."""
        try:
            sent_at = min(float(timestamp), now)
        except (TypeError, ValueError, OverflowError):   # Overflow: a 400-digit integer
            sent_at = now
        if not math.isfinite(sent_at):   # "nan" would hold the window open forever
            sent_at = now
        last = self._deps.state.kv(LAST_INBOUND)
        previous = last.get_expiring(wa_id)
        if previous is None or float(previous) < sent_at:
            # Expiring: every sender, allowed or not, gets a row; a stream of
            # strangers must not grow the state file for ever (issue 20).
            with self._deps.state.batch():
                last.put_expiring(wa_id, "%.3f" % sent_at, max(1.0, sent_at + WINDOW_SEC - now))

    def _record_status(self, status: Any, _now: float = 0.0) -> None:
        if not isinstance(status, dict) or not isinstance(status.get("id"), str):
            return
        wamid, state = status["id"], str(status.get("status", ""))
        with self._deps.state.batch():
            if not self._deps.state.mark_seen(STATUS_NS, "%s:%s" % (wamid, state),
                                              DEDUP_TTL_SEC):
                return
        # The label comes from a fixed set: a sender-chosen string must not add series.
        count(self._deps.metrics, "whatsapp_statuses_total",
              status=state if state in STATUS_LABELS else "other")
        if state != "failed":
            log.debug("event=message_status id=%s status=%s", wamid, state)
            return
        errors = [e for e in _list(status.get("errors")) if isinstance(e, dict)]
        code = errors[0].get("code") if errors else None
        title = errors[0].get("title", "") if errors else ""
        ours = self._deps.state.is_seen(SENT_NS, wamid)
        self._deps.state.mark_seen(FAILED_NS, wamid, SENT_TTL_SEC)
        log.warning("event=delivery_failed platform=whatsapp id=%s ours=%s code=%s title=%s%s",
                    wamid, ours, code, json.dumps(title),
                    " hint=outside_24h_window" if code == 131047 else "")

    def delivery_failed(self, wamid: str) -> bool:
        """True when a ``failed`` status arrived for a message we sent."""
        return self._deps.state.is_seen(FAILED_NS, wamid)

    def last_inbound(self, wa_id: str) -> Optional[float]:
        value = self._deps.state.kv(LAST_INBOUND).get_expiring(wa_id)
        return float(value) if value is not None else None

    async def fetch_photo(self, photo: PhotoRef, max_bytes: int) -> bytes:
        """A user's image: media id → URL → bytes, with the Bearer token."""
        return await fetch_photo(self._api, self.cfg.api_base, self.cfg.access_token or "",
                                 photo, max_bytes)

    # ------------------------------------------------------------------ outbound
    async def send(self, chat: ChatRef, reply: Reply, *, start_part: int = 0,
                   key: str = "") -> Sent:
        """Send text pieces then images from ``start_part`` on, one attempt each; raise
        ChannelSendError (with ``sent_parts``) if Graph refused one."""
        to = chat.user_id or chat.chat_id
        last = self.last_inbound(to)
        if last is None or time.time() - last >= WINDOW_SEC:
            log.warning("event=send_skipped platform=whatsapp reason=outside_24h_window "
                        "last_inbound_age_h=%s", "never" if last is None else
                        "%.1f" % ((time.time() - last) / 3600))
            count(self._deps.metrics, "whatsapp_window_skips_total")
            raise ChannelSendError("outside WhatsApp's 24-hour window", permanent=True,
                                   sent_parts=start_part)
        bodies, shows = await self.render(to, reply, chat.message_id)
        if reply.actions and self._deps.buttons is not None:
            base = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to}
            # Buttons replace a text body in place or come last: image positions hold.
            bodies = with_buttons(bodies, base, self._deps.buttons, chat, reply.actions)
        ids = [""] * len(bodies)        # every sent message's wamid, for Sent.image_ids

        async def send_one(index: int, body: dict) -> str:
            ids[index] = await self._post(body)
            return ids[index]

        sent = await send_parts("whatsapp", to, bodies, start_part, send_one)
        self.health.ok()
        return dataclasses.replace(sent, image_ids=image_ids(shows, ids, len(reply.images)))

    async def typing(self, chat: ChatRef) -> None:
        """Mark the command read with the typing indicator (interactive.md §2.4: shown
        until we answer or 25 s pass). Raises ChannelSendError if Graph refused it."""
        if not chat.message_id:
            return
        url = "%s/%s/messages" % (self.cfg.api_base.rstrip("/"), self.cfg.phone_number_id)
        body = {"messaging_product": "whatsapp", "status": "read",
                "message_id": chat.message_id, "typing_indicator": {"type": "text"}}
        resp = await self._api.fetch(
            "POST", url, body=json.dumps(body).encode("utf-8"),
            headers={"Authorization": "Bearer %s" % self.cfg.access_token,
                     "Content-Type": "application/json"},
            connect_timeout=self.cfg.connect_timeout_sec,
            request_timeout=self.cfg.request_timeout_sec)
        count(self._deps.metrics, "whatsapp_typing_total", status=str(resp.code))
        if resp.code != 200:
            raise ChannelSendError("WhatsApp typing indicator refused (status %d)"
                                   % resp.code, permanent=400 <= resp.code < 500)

    async def render(self, to: str, reply: Reply,
                     reply_to: str = "") -> tuple[list[dict], list[int]]:
        """Graph message bodies: text pieces (the first quoting the command), images;
        and per body the index in ``reply.images`` it shows (-1: none)."""
        out = await url_media(self._deps.media, reply, image_max_bytes=IMAGE_MAX_BYTES,
                              video_max_bytes=VIDEO_MAX_BYTES)
        base = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to}
        bodies = [dict(base, type="text", text={"body": piece, "preview_url": False})
                  for piece in split_text(out.text, TEXT_LIMIT)]
        if bodies and reply_to:
            bodies[0]["context"] = {"message_id": reply_to}
        shows = out.shows(len(bodies))
        bodies += [dict(base, type="image", image={"link": url}) for _n, url in out.stills]
        bodies += [dict(base, type="video", video={"link": url}) for _n, url in out.videos]
        return bodies, shows

    async def _post(self, body: dict) -> str:
        """One Graph call; the wamid of the sent message."""
        url = "%s/%s/messages" % (self.cfg.api_base.rstrip("/"), self.cfg.phone_number_id)
        try:
            resp = await self._api.fetch(
                "POST", url, body=json.dumps(body, ensure_ascii=False).encode("utf-8"),
                headers={"Authorization": "Bearer %s" % self.cfg.access_token,
                         "Content-Type": "application/json"},
                connect_timeout=self.cfg.connect_timeout_sec,
                request_timeout=self.cfg.request_timeout_sec)
        except ApiUnreachable as exc:
            count(self._deps.metrics, "whatsapp_sends_total", status="no_answer")
            log.warning("event=send_failed platform=whatsapp error=%s",
                        logmod.one_line_error(exc))
            self.health.failed("backoff", "Graph send failing")
            raise ChannelSendError("WhatsApp send failed (no answer)") from None
        code = _error_code(resp)
        count(self._deps.metrics, "whatsapp_sends_total", status=str(resp.code))
        if resp.code == 200:
            return self._remember_sent(resp)
        if not (resp.code >= 500 or code in RETRYABLE_CODES):
            self._raise_for(resp, code)
        log.warning("event=send_failed platform=whatsapp status=%d code=%s", resp.code, code)
        self.health.failed("backoff", "Graph send failing")
        raise ChannelSendError("WhatsApp send failed (status %d, code %s)" % (resp.code, code))

    def _remember_sent(self, resp: APIResponse) -> str:
        """Mark the wamids Graph returned as ours; the first one ("" if none)."""
        first = ""
        try:
            for item in json.loads(resp.body).get("messages", []):
                self._deps.state.mark_seen(SENT_NS, str(item["id"]), SENT_TTL_SEC)
                first = first or str(item["id"])
        except (ValueError, AttributeError, KeyError, TypeError):
            log.warning("event=send_unexpected_response platform=whatsapp")
        return first

    def _raise_for(self, resp: APIResponse, code: Optional[int]) -> None:
        log.warning("event=send_refused platform=whatsapp status=%d code=%s", resp.code, code)
        if code in FATAL_CODES or resp.code == 401:
            self.health.fatal("Graph refused the access token (code %s)" % code)
            raise ChannelSendError("WhatsApp refused the access token", permanent=True)
        if code == PAIR_LIMIT_CODE or resp.code == 429:
            raise ChannelSendError("WhatsApp rate limit (code %s)" % code,
                                   retry_after=PAIR_LIMIT_WAIT)
        raise ChannelSendError("WhatsApp refused the message (status %d, code %s)" % (
            resp.code, code), permanent=True)


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _error_code(resp: APIResponse) -> Optional[int]:
    try:
        error = json.loads(resp.body or b"{}").get("error")
        return int(error["code"]) if isinstance(error, dict) else None
    except (ValueError, AttributeError, KeyError, TypeError):
        return None
