"""Outbound Telegram: a Reply as sendMessage chunks and multipart photo/document uploads,
and editMessageText for a message sent before.

Split from ``channel.py`` (the poll loop) so each stays one concept. Sends
to one chat are serialised (a lock per chat while in use), so parts and
replies arrive in order. One attempt per part: the Outbox (``delivery.py``)
retries, resuming at ``start_part``, so a caption is never sent twice.
Outbound faults follow platforms.md §1 "Sending" and faults.md §3: 429
raises with ``retry_after`` (the Outbox waits it, once); 400 with
``migrate_to_chat_id`` resends once to the new id and remembers it; a 400 on
sendPhoto resends the bytes as a document; 400/401/403/404 are permanent;
5xx and connection failures are transient (Telegram has no idempotency key,
so a response lost after Telegram accepted a part can still repeat that one
part). Edits: interactive.md §2.1 ("message is not modified" is success).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Awaitable, Callable, Optional

from openclaw_connector import log as logmod
from openclaw_connector.channels.base import ChatLocks, send_parts
from openclaw_connector.channels.telegram import card_media
from openclaw_connector.channels.textsplit import split_text
from openclaw_connector.net.multipart import FilePart
from openclaw_connector.channels.oversize import links_for_oversize
from openclaw_connector.channels.telegram.media_out import UPLOAD_MAX_BYTES, media_call, \
    within_limit
from openclaw_connector.channels.telegram.wire import (
    PHOTO_MAX_BYTES, TEXT_LIMIT, TelegramError, log_field, scrub)
from openclaw_connector.messages import ChannelSendError, ChatRef, Image, Reply, Sent
from openclaw_connector.metrics import Metrics

log = logmod.get("telegram")

MIGRATED = "telegram.migrated"   # state.kv: chat id -> the supergroup it became
NOT_MODIFIED = "message is not modified"

ApiCall = Callable[..., Awaitable[Any]]


class TelegramSender:
    """Renders Replies for one bot; ``call_api(method, params, files=...)`` does the HTTP."""

    def __init__(self, call_api: ApiCall, *, state: Any, token: str,
                 metrics: Metrics, media: Any = None) -> None:
        self._call_api, self._state = call_api, state
        self._media = media             # over 50 MB: a signed link where it can serve one
        self._token, self._metrics = token, metrics
        self._locks = ChatLocks()
        # Cards that show a photo (progress.previews): (chat, message id).
        self._photo_cards: set[tuple[str, str]] = set()

    async def send(self, chat: ChatRef, reply: Reply, *, start_part: int = 0,
                   markup: Optional[dict] = None) -> Sent:
        """Text in ≤4096-unit chunks, then images, from ``start_part`` on; in order per chat.
        ``markup`` (an inline keyboard) goes on the last part.

        Raises ChannelSendError (with ``sent_parts``) when Telegram refused a part
        (``permanent`` for 400/401/403/404, ``retry_after`` for 429).
        """
        return await self._locks(chat.chat_id,
                                 lambda: self._send_locked(chat, reply, start_part, markup))

    async def edit(self, sent: Sent, reply: Reply) -> Sent:
        """editMessageText on ``sent``'s first message (a card is one message; text
        over 4096 units is cut to the first chunk). With an image, the message shows
        it as a photo from then on (editMessageMedia, later editMessageCaption:
        telegram.card_media)."""
        chunks = split_text(reply.text, TEXT_LIMIT, units="utf16")
        if not chunks or not sent.first_id.isdigit():
            raise ChannelSendError("nothing to edit: empty text or no message id",
                                   permanent=True)
        target, message_id = self._chat_target(sent.chat_id), int(sent.first_id)
        photo = (sent.chat_id, sent.first_id) in self._photo_cards
        method = "editMessageMedia" if reply.images else \
            "editMessageCaption" if photo else "editMessageText"
        try:
            try:
                if reply.images:
                    await card_media.edit_photo(self._call_api, target, message_id,
                                                reply.images[0], reply.text)
                    self._photo_cards.add((sent.chat_id, sent.first_id))
                elif photo:
                    await card_media.edit_caption(self._call_api, target, message_id,
                                                  reply.text)
                else:
                    await self._call_api("editMessageText", dict(
                        chat_id=target, message_id=message_id, text=chunks[0]))
            except TelegramError as exc:
                if method != "editMessageText" or exc.status != 400 or \
                        card_media.NO_TEXT not in exc.description:
                    raise
                # A photo card from before a restart: its words are a caption.
                method = "editMessageCaption"
                self._photo_cards.add((sent.chat_id, sent.first_id))
                await card_media.edit_caption(self._call_api, target, message_id, reply.text)
        except TelegramError as exc:
            if exc.status == 400 and NOT_MODIFIED in exc.description:
                return sent                 # the same content again: already shown
            raise self._error(sent.chat_id, method, exc) from None
        self._count("telegram_sends_total", method=method, result="ok")
        return sent

    async def _send_locked(self, chat: ChatRef, reply: Reply, start_part: int,
                           markup: Optional[dict] = None) -> Sent:
        reply = await links_for_oversize(self._media, reply, UPLOAD_MAX_BYTES, "Telegram")
        reply_to = int(chat.message_id) if chat.is_group and chat.message_id.isdigit() \
            else None
        parts: list[Any] = list(split_text(reply.text, TEXT_LIMIT, units="utf16")) + \
            [within_limit(i) for i in reply.images]

        async def send_one(index: int, part: Any) -> str:
            extra = {"reply_markup": markup} if markup and index == len(parts) - 1 else {}
            if isinstance(part, Image):
                return await self._send_image(chat, part, extra)
            params: dict = dict(extra, text=part)
            if index == 0 and reply_to is not None:     # thread the first part only
                params["reply_to_message_id"] = reply_to
                params["allow_sending_without_reply"] = True
            return await self._deliver(chat, "sendMessage", params)

        sent = await send_parts("telegram", chat.chat_id, parts, start_part, send_one)
        # Where it went: a migrated group's new id, so an edit targets the right chat.
        return dataclasses.replace(sent, chat_id=str(self._chat_target(chat.chat_id)))

    async def _send_image(self, chat: ChatRef, image: Image, extra: Optional[dict] = None) -> str:
        # Multipart fields are strings: the keyboard goes as JSON text (interactive.md §1.1).
        params = {k: json.dumps(v) for k, v in (extra or {}).items()}
        call = media_call(image)        # videos and animations (issue 19)
        if call is not None:
            method, field, media_params = call
            return await self._deliver(chat, method, dict(media_params, **params), FilePart(
                field, image.filename, image.content_type, image.data))
        document = FilePart("document", image.filename, image.content_type, image.data)
        if len(image.data) > PHOTO_MAX_BYTES or not image.content_type.startswith("image/"):
            return await self._deliver(chat, "sendDocument", params, document)
        photo = FilePart("photo", image.filename, image.content_type, image.data)
        try:
            return await self._deliver(chat, "sendPhoto", params, photo, fallback=True)
        except _PhotoRefused:
            # Dimensions or format Telegram won't take as a photo: send the file.
            return await self._deliver(chat, "sendDocument", params, document)

    async def _deliver(self, chat: ChatRef, method: str, params: dict,
                       file: Optional[FilePart] = None, *, fallback: bool = False) -> str:
        """One send (plus one resend to a migrated group); the new message's id."""
        target = self._chat_target(chat.chat_id)
        migrated = False
        while True:
            try:
                result = await self._call_api(method, dict(params, chat_id=target),
                                              files=(file,) if file else ())
            except TelegramError as exc:
                if exc.migrate_to is not None and not migrated:
                    migrated = True
                    log.info("event=chat_migrated chat=%s new_chat=%d", target, exc.migrate_to)
                    self._state.kv(MIGRATED).set(chat.chat_id, str(exc.migrate_to))
                    target = exc.migrate_to
                    continue
                if fallback and exc.status == 400:
                    self._count("telegram_sends_total", method=method, result="error")
                    raise _PhotoRefused(str(exc)) from None
                raise self._error(chat.chat_id, method, exc) from None
            self._count("telegram_sends_total", method=method, result="ok")
            message_id = result.get("message_id") if isinstance(result, dict) else None
            return str(message_id) if message_id is not None else ""

    def _error(self, chat_id: str, method: str, exc: TelegramError) -> ChannelSendError:
        """The ChannelSendError for a refused call, logged once."""
        error = scrub(str(exc), self._token)
        permanent = exc.status in (400, 401, 403, 404)
        self._count("telegram_sends_total", method=method, result="error")
        log.warning("event=send_failed chat=%s method=%s status=%d permanent=%s "
                    "retry_after=%s error=%s", chat_id, method, exc.status, permanent,
                    exc.retry_after, log_field(error))
        return ChannelSendError(error, retry_after=exc.retry_after, permanent=permanent)

    def _chat_target(self, chat_id: str) -> Any:
        """The id to send to: a migrated group's new id, as an int when numeric."""
        chat_id = self._state.kv(MIGRATED).get(chat_id) or chat_id
        return int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id

    def _count(self, name: str, **labels: str) -> None:
        self._metrics.inc(name, 1.0, **labels)


class _PhotoRefused(Exception):
    """sendPhoto got a 400: try the same bytes as a document."""
