"""Outbound Telegram: a Reply as sendMessage chunks and multipart photo/document uploads.

Split from ``telegram.py`` (the poll loop) so each stays one concept. Sends
to one chat are serialised (a lock per chat while in use), so parts and
replies arrive in order. Outbound faults follow platforms.md §1 "Sending" and
faults.md §3: 429 waits ``retry_after`` and resends the same request; 400
with ``migrate_to_chat_id`` resends once to the new id and remembers it; 403
(blocked) is permanent; 5xx and connection failures are retried twice with
backoff (Telegram has no idempotency key, so a rare duplicate is accepted).
"""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable, Optional

from openclaw_connector import log as logmod
from openclaw_connector.backoff import Backoff, BackoffPolicy, wait_or_stop
from openclaw_connector.channels.base import ChatLocks
from openclaw_connector.channels.multipart import FilePart
from openclaw_connector.channels.telegram_wire import (
    PHOTO_MAX_BYTES, TelegramError, chunk_text, log_field, scrub)
from openclaw_connector.messages import ChannelSendError, ChatRef, Image, Reply

log = logmod.get("telegram")

KEY_MIGRATED = "telegram.migrated."
SEND_RATE_RETRIES = 5              # outbound 429s waited out per send before giving up
SEND_TRANSIENT_RETRIES = 2         # 5xx / connection failures retried per send

ApiCall = Callable[..., Awaitable[Any]]


class TelegramSender:
    """Renders Replies for one bot; ``call_api(method, params, files=...)`` does the HTTP."""

    def __init__(self, call_api: ApiCall, *, state: Any, retry: BackoffPolicy,
                 stopping: asyncio.Event, token: str, metrics: Any = None) -> None:
        self._call_api, self._state, self._retry = call_api, state, retry
        self._stopping, self._token, self._metrics = stopping, token, metrics
        self._locks = ChatLocks()

    async def send(self, chat: ChatRef, reply: Reply) -> None:
        """Text in ≤4096-unit chunks, then images; in order per chat.

        Raises ChannelSendError when Telegram refused a part (``permanent`` for
        400/401/403/404); 429s are waited out (``retry_after``) and resent.
        """
        await self._locks(chat.chat_id, lambda: self._send_locked(chat, reply))

    async def _send_locked(self, chat: ChatRef, reply: Reply) -> None:
        reply_to = int(chat.message_id) if chat.is_group and chat.message_id.isdigit() \
            else None
        for text in chunk_text(reply.text):
            params: dict = {"text": text}
            if reply_to is not None:
                params["reply_to_message_id"] = reply_to
                params["allow_sending_without_reply"] = True
                reply_to = None             # thread the first part only
            await self._deliver(chat, "sendMessage", params)
        for image in reply.images:
            await self._send_image(chat, image)

    async def _send_image(self, chat: ChatRef, image: Image) -> None:
        document = FilePart("document", image.filename, image.content_type, image.data)
        if len(image.data) > PHOTO_MAX_BYTES or not image.content_type.startswith("image/"):
            await self._deliver(chat, "sendDocument", {}, document)
            return
        photo = FilePart("photo", image.filename, image.content_type, image.data)
        try:
            await self._deliver(chat, "sendPhoto", {}, photo, fallback=True)
        except _PhotoRefused:
            # Dimensions or format Telegram won't take as a photo: send the file.
            await self._deliver(chat, "sendDocument", {}, document)

    async def _deliver(self, chat: ChatRef, method: str, params: dict,
                       file: Optional[FilePart] = None, *, fallback: bool = False) -> None:
        """One send with its retries; raises ChannelSendError when refused."""
        target = self._chat_target(chat.chat_id)
        rate_waits = transient = 0
        migrated = False
        delays = Backoff(self._retry)
        while True:
            try:
                await self._call_api(method, dict(params, chat_id=target),
                                     files=(file,) if file else ())
                self._count("telegram_sends_total", method=method, result="ok")
                return
            except TelegramError as exc:
                error = scrub(str(exc), self._token)
                if exc.status == 429 and rate_waits < SEND_RATE_RETRIES:
                    rate_waits += 1
                    wait = exc.retry_after if exc.retry_after is not None else delays.next()
                    log.warning("event=send_rate_limited chat=%s method=%s retry_in=%.3f",
                                chat.chat_id, method, wait)
                    if await wait_or_stop(self._stopping, wait):
                        raise ChannelSendError("stopping during a rate-limit wait",
                                               retry_after=wait) from None
                    continue
                if exc.migrate_to is not None and not migrated:
                    migrated = True
                    log.info("event=chat_migrated chat=%s new_chat=%d", target, exc.migrate_to)
                    self._state.set(KEY_MIGRATED + chat.chat_id, str(exc.migrate_to))
                    target = exc.migrate_to
                    continue
                if (exc.status == 0 or exc.status >= 500) and transient < SEND_TRANSIENT_RETRIES:
                    transient += 1
                    if await wait_or_stop(self._stopping, delays.next()):
                        raise ChannelSendError("stopping during a send retry: %s" % error)
                    continue
                self._count("telegram_sends_total", method=method, result="error")
                if fallback and exc.status == 400:
                    raise _PhotoRefused(error) from None
                permanent = exc.status in (400, 401, 403, 404)
                log.warning("event=send_failed chat=%s method=%s status=%d permanent=%s "
                            "error=%s", chat.chat_id, method, exc.status, permanent,
                            log_field(error))
                raise ChannelSendError(error, retry_after=exc.retry_after,
                                       permanent=permanent) from None

    def _chat_target(self, chat_id: str) -> Any:
        """The id to send to: a migrated group's new id, as an int when numeric."""
        chat_id = self._state.get(KEY_MIGRATED + chat_id) or chat_id
        return int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id

    def _count(self, name: str, **labels: str) -> None:
        if self._metrics is not None:
            self._metrics.inc(name, **labels)


class _PhotoRefused(Exception):
    """sendPhoto got a 400: try the same bytes as a document."""
