"""The Outbox: the one place that retries a send, for command replies and job results alike.

Why one place: a reply used to be retried at three depths (a channel's own
5xx loop, the daemon's or the JobWatcher's outer loop, and the part loop
inside a channel), so one failing photo upload sent its caption three times.
Now a channel makes one attempt per part and raises ChannelSendError with
``sent_parts``; the Outbox waits and calls ``send`` again from that part on
(``start_part``), so no part is ever sent twice by a retry.

The policy, once: backoff ``retry.*`` (jitter, cap), at most
``results.delivery_attempts`` attempts in a row that deliver nothing new
(a retry that got further starts the count again), a platform's
``retry_after`` honoured once (``max(backoff, retry_after)``; the channel
does not wait it as well), ``permanent`` refusals not retried, and images
refused for good replaced by a sentence so the words still arrive. A stop
during a wait returns STOPPED at once. Sends to one chat are serialised here,
so a retried reply is not overtaken by the next one.

``durable`` deliveries (job results) keep their resume point in the
StateStore, so a result interrupted by a shutdown continues after the restart
from the first part not yet delivered.

:meth:`Outbox.update` shows a live card (DESIGN.md, "Cards are edited,
results are sent"): sent once, then edited in place where the channel can
edit, at most once per ``card_interval`` seconds (interactive.md §2.1/§2.2
suggest one edit per 2-3 s), latest state wins.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from openclaw_connector import log as logmod
from openclaw_connector.backoff import Backoff, BackoffPolicy, wait_or_stop
from openclaw_connector.channels.base import ChatLocks
from openclaw_connector.messages import ChannelSendError, ChatRef, Reply, Sent
from openclaw_connector.metrics import Metrics

log = logmod.get("delivery")

DONE, FAILED, STOPPED = "done", "failed", "stopped"
PROGRESS = "outbox.progress"     # state.kv: delivery key -> resume point
CARD = "outbox.card"             # state.kv: card key -> the sent message
CARD_INTERVAL_SEC = 2.5
IMAGES_REFUSED_NOTE = "(images not attached: the platform refused them)"


@dataclass(frozen=True)
class Delivery:
    """How a delivery ended: DONE, FAILED (refused for good or out of attempts) or
    STOPPED (the daemon is stopping); ``sent`` names what went out, if anything."""

    status: str
    attempts: int
    sent: Optional[Sent] = None
    error: str = ""
    permanent: bool = False

    @property
    def done(self) -> bool:
        return self.status == DONE


@dataclass
class _Card:
    """One live card: the newest state asked for, and what is shown."""

    latest: Reply = field(default_factory=Reply)
    asked: int = 0                  # updates asked for so far
    shown: int = 0                  # the update now on screen (or superseded)
    shown_at: float = float("-inf")
    sent: Optional[Sent] = None     # the card's message, once sent
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class Outbox:
    """``await outbox.deliver(chat, reply, key=...)`` → :class:`Delivery`.

    ``channels`` maps a platform name to its channel (the daemon's live dict);
    ``stopping`` is the event that ends every wait.
    """

    def __init__(self, channels: Mapping[str, Any], *, retry: BackoffPolicy, attempts: int,
                 stopping: asyncio.Event, metrics: Metrics, state: Any = None,
                 card_interval: float = CARD_INTERVAL_SEC) -> None:
        self._channels = channels
        self._cards: dict[str, _Card] = {}
        self._card_interval = card_interval
        self._retry = retry
        self._attempts = max(1, attempts)
        self._stopping = stopping
        self._state = state
        self._metrics = metrics
        self._locks = ChatLocks()

    async def deliver(self, chat: ChatRef, reply: Reply, *, key: str,
                      durable: bool = False) -> Delivery:
        """Send ``reply`` to ``chat`` until accepted, refused for good, out of attempts
        or stopping. ``key`` names the delivery: channels derive idempotency keys
        from it, and ``durable`` keeps the resume point under it across restarts."""
        return await self._locks("%s:%s" % (chat.platform, chat.chat_id),
                                 lambda: self._deliver(chat, reply, key, durable))

    async def _deliver(self, chat: ChatRef, reply: Reply, key: str,
                       durable: bool) -> Delivery:
        channel = self._channels.get(chat.platform)
        if channel is None:
            log.warning("event=delivery_failed key=%s platform=%s reason=channel_not_enabled",
                        key, chat.platform)
            return Delivery(FAILED, 0, error="channel %s is not enabled" % chat.platform,
                            permanent=True)
        started = time.monotonic()
        start, first_id = self._resume_point(key) if durable else (0, "")
        stored = start > 0          # a resume point is in the StateStore (to clear at the end)
        part_key = key
        delays = Backoff(self._retry)
        attempts = fruitless = 0
        while True:
            attempts += 1
            try:
                sent = await channel.send(chat, reply, start_part=start, key=part_key)
            except ChannelSendError as exc:
                error, permanent, after = _line(exc), exc.permanent, exc.retry_after or 0.0
                if exc.sent is not None and not first_id:
                    first_id = exc.sent.first_id
                if exc.sent_parts > start:      # got further: the count starts again
                    start, fruitless = exc.sent_parts, 0
                    delays.reset()
                    if durable and part_key == key:   # not the words-only fallback
                        self._save_progress(key, start, first_id)
                        stored = True
            except Exception as exc:  # an unknown failure is retried like a transient one
                error, permanent, after = logmod.one_line_error(exc), False, 0.0
                log.debug("event=delivery_error key=%s", key, exc_info=True)
            else:
                return self._done(chat, key, stored, attempts, started, first_id, sent)
            fruitless += 1
            if permanent and reply.images:
                # The images were refused (size, type): the words still matter. If
                # parts already went out, those were the words; add only the note.
                log.warning("event=delivery_images_refused key=%s platform=%s error=%s",
                            key, chat.platform, error)
                reply = Reply(IMAGES_REFUSED_NOTE if start else
                              "\n".join(t for t in (reply.text, IMAGES_REFUSED_NOTE) if t))
                # A new reply: its own parts and keys (LINE would take the old key's
                # part 0 as "already accepted").
                start, part_key, fruitless = 0, key + ":words", 0
                continue
            if permanent or fruitless >= self._attempts:
                return self._failed(chat, key, stored, attempts, error, permanent)
            wait = max(delays.next(), after)
            log.warning("event=delivery_retry key=%s platform=%s chat=%s attempt=%d "
                        "sent_parts=%d retry_in=%.3f error=%s", key, chat.platform,
                        chat.chat_id, attempts, start, wait, error)
            self._count("send_retries_total", chat.platform, "Reply sends retried")
            if await wait_or_stop(self._stopping, wait):
                log.info("event=delivery_stopped key=%s platform=%s attempts=%d "
                         "sent_parts=%d", key, chat.platform, attempts, start)
                return Delivery(STOPPED, attempts,
                                Sent(chat.platform, chat.chat_id, first_id) if first_id
                                else None, error)

    async def update(self, card_key: str, chat: ChatRef, reply: Reply) -> None:
        """Show ``reply`` as the card ``card_key`` in ``chat``: the first update is
        delivered (with retries), later ones edit that message where the channel can
        edit (one attempt: a later state will follow), others are dropped. Edits of
        one card are at least ``card_interval`` apart; an update that was overtaken
        while it waited is skipped (latest wins). The card's ``Sent`` is kept in the
        StateStore, so after a restart the same message is edited; ``end_card``
        forgets it when the job is done."""
        card = self._cards.setdefault(card_key, _Card())
        card.asked += 1
        card.latest, mine = reply, card.asked
        async with card.lock:
            if card.shown >= mine:
                return                          # a newer state is already on screen
            wait = card.shown_at + self._card_interval - time.monotonic()
            if wait > 0 and await wait_or_stop(self._stopping, wait):
                return
            newest, card.shown = card.latest, card.asked
            await self._show(card_key, card, chat, newest)
            card.shown_at = time.monotonic()

    def end_card(self, card_key: str) -> None:
        """Forget the card (its job finished): no further edits, no stored handle."""
        self._cards.pop(card_key, None)
        if self._state is not None:
            self._state.kv(CARD).delete(card_key)

    async def _show(self, card_key: str, card: _Card, chat: ChatRef, reply: Reply) -> None:
        sent = card.sent or self._card_sent(card_key)
        channel = self._channels.get(chat.platform)
        if sent is not None and channel is not None and channel.capabilities.edit:
            try:
                await channel.edit(sent, reply)
                return
            except ChannelSendError as exc:
                log.warning("event=card_edit_failed key=%s platform=%s permanent=%s "
                            "error=%s", card_key, chat.platform, exc.permanent, _line(exc))
                if not exc.permanent:
                    return                      # the next state tries again
                # The message is gone (deleted, too old): the card starts anew below.
            except Exception as exc:            # a card is cosmetic: never fail the caller
                log.warning("event=card_edit_failed key=%s platform=%s error=%s", card_key,
                            chat.platform, logmod.one_line_error(exc))
                return
        elif sent is not None:
            return                              # cannot edit: the result message follows
        delivery = await self.deliver(chat, reply, key="card:%s:%d" % (card_key, card.shown))
        card.sent = delivery.sent
        if delivery.sent is not None and self._state is not None:
            self._state.kv(CARD).set(card_key, delivery.sent.to_json())

    def _card_sent(self, card_key: str) -> Optional[Sent]:
        raw = self._state.kv(CARD).get(card_key) if self._state is not None else None
        try:
            return Sent.from_json(raw) if raw else None
        except (ValueError, KeyError, TypeError):
            return None

    def _done(self, chat: ChatRef, key: str, stored: bool, attempts: int, started: float,
              first_id: str, sent: Any) -> Delivery:
        if not isinstance(sent, Sent):      # a channel from before Sent: no ids
            sent = Sent(chat.platform, chat.chat_id)
        if first_id:
            sent = Sent(sent.platform, sent.chat_id, first_id, sent.last_id or first_id)
        if stored:
            self._forget_progress(key)
        self._count("sends_total", chat.platform, "Replies sent")
        log.debug("event=delivered key=%s platform=%s attempts=%d took_ms=%.1f", key,
                  chat.platform, attempts, 1000 * (time.monotonic() - started))
        return Delivery(DONE, attempts, sent)

    def _failed(self, chat: ChatRef, key: str, stored: bool, attempts: int, error: str,
                permanent: bool) -> Delivery:
        if stored:
            self._forget_progress(key)
        # The caller logs the outcome in its own words (reply_failed, result_gave_up).
        log.debug("event=delivery_failed key=%s platform=%s chat=%s attempts=%d "
                  "permanent=%s error=%s", key, chat.platform, chat.chat_id, attempts,
                  permanent, error)
        return Delivery(FAILED, attempts, error=error, permanent=permanent)

    # ------------------------------------------------------------------ resume points
    def _resume_point(self, key: str) -> tuple[int, str]:
        if self._state is None:
            return 0, ""
        try:
            saved = self._state.kv(PROGRESS).get_json(key)
        except ValueError:
            saved = None
        if not isinstance(saved, dict):
            return 0, ""
        parts = saved.get("sent_parts")
        if not isinstance(parts, int) or parts < 0:
            return 0, ""
        log.info("event=delivery_resumed key=%s sent_parts=%d", key, parts)
        return parts, str(saved.get("first_id") or "")

    def _save_progress(self, key: str, sent_parts: int, first_id: str) -> None:
        if self._state is not None:
            self._state.kv(PROGRESS).set_json(key,
                                 {"sent_parts": sent_parts, "first_id": first_id})

    def _forget_progress(self, key: str) -> None:
        if self._state is not None:
            self._state.kv(PROGRESS).delete(key)

    def _count(self, name: str, platform: str, help_text: str) -> None:
        self._metrics.inc(name, platform=platform, help=help_text)


def _line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
