"""PendingInbounds: webhook commands that were acknowledged but not yet answered.

Why: LINE and WhatsApp get their 200 before the command runs (faults.md 6),
and the event id is already marked seen, so a crash (SIGKILL, OOM, power
loss) between the 200 and the reply would lose the command for good: the
platform does not redeliver an acknowledged event, and a redelivery would be
dropped as a duplicate anyway. So each command is written to the StateStore
before the acknowledgement, removed once ``on_inbound`` has finished (reply
sent or failed for good), and replayed by the next start. A command cancelled
by a shutdown stays pending too. A command older than ``max_age_sec`` is
not run surprisingly late: the sender is told in that chat that it was not
run and why (``tell``, the channel's send), never dropped silently
(issue 20); a replayed
``/run`` is safe because OpenClaw deduplicates on the trace id derived from
the message id (openclaw-api.md, triggers).

Where a row lives: with ``seen_ns`` (LINE, WhatsApp) :meth:`admit` keeps the
command in the event's dedup row itself (``mark_seen(..., pending=...)``), so
acknowledging a webhook costs one insert in the batch commit instead of two
(issue 21); otherwise (:meth:`add`, Discord) it is a row of the StateStore's
``pending_inbound`` table, written in the caller's ``state.batch()`` scope
with its dedup mark. :meth:`take_over` reads both.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, Awaitable, Callable, Optional

from openclaw_connector import log as logmod
from openclaw_connector.messages import ChatRef, Inbound, PhotoRef, Reply
from openclaw_connector.state import PendingRow, StateStore, pending_key
from openclaw_connector.timetext import duration

HELD = "seen"                   # row-key prefix of a command held in its dedup row
MAX_AGE_SEC = 3600.0
QUOTE_CHARS = 80
TOO_OLD_TEXT = ("Your command \"%s\" from %s ago was not run: the connector stopped before "
                "it could answer, and running it more than an hour late could surprise you. "
                "Send it again if you still want it.")

Tell = Callable[[ChatRef, Reply], Awaitable[Any]]


class PendingInbounds:
    """One platform's pending commands: ``add`` before the 200, ``run``, ``take_over``."""

    def __init__(self, state: StateStore, platform: str, *, max_age_sec: float = MAX_AGE_SEC,
                 tell: Optional[Tell] = None, seen_ns: Optional[str] = None,
                 seen_ttl_sec: float = 0.0) -> None:
        self._state = state
        self._platform = platform
        self._max_age = max_age_sec
        self._tell = tell
        self._too_old: dict[str, float] = {}    # row key -> age, for run() to explain
        self._seen_ns = seen_ns           # the channel's dedup namespace (admit)
        self._seen_ttl = seen_ttl_sec
        self._log = logmod.get(platform)

    def admit(self, event_id: str, inbound: Inbound) -> Optional[str]:
        """Mark ``event_id`` seen and hold ``inbound`` in that row, in the StateStore's
        batch (answer the platform from ``state.when_durable``); the row key to pass to
        :meth:`run`, or None when the event was seen before (a redelivery)."""
        assert self._seen_ns is not None
        held = json.dumps({"created": time.time(), "chat": inbound.chat.to_json(),
                           "data": _fields(inbound)}, separators=(",", ":"))
        with self._state.batch():
            if not self._state.mark_seen(self._seen_ns, event_id, self._seen_ttl,
                                         pending=held):
                return None
        return "%s:%s" % (HELD, event_id)

    def add(self, event_key: str, inbound: Inbound) -> str:
        """Persist ``inbound``; return the row key to pass to :meth:`run`.

        Inside the caller's ``state.batch()`` scope the row shares that
        transaction (with the dedup mark); the caller answers the platform from
        ``state.when_durable``.
        """
        row_key = pending_key(self._platform, event_key)
        self._state.put_pending(PendingRow(
            key=row_key, platform=self._platform, event_id=event_key,
            chat=inbound.chat.to_json(), created=time.time(), data=_fields(inbound)))
        return row_key

    async def run(self, row_key: str, handler: Callable[[Inbound], Awaitable[None]],
                  inbound: Inbound) -> None:
        """Run ``handler``; forget the row unless the run was cancelled (shutdown).

        A row :meth:`take_over` found too old is not run: its sender is told.
        """
        age = self._too_old.pop(row_key, None)
        if age is not None:
            handler = self._explainer(age)
        try:
            await handler(inbound)
        except asyncio.CancelledError:
            raise                       # shutdown: stays pending for the next start
        except BaseException:
            self._forget(row_key)
            raise
        self._forget(row_key)

    def _explainer(self, age: float) -> Callable[[Inbound], Awaitable[None]]:
        async def explain(inbound: Inbound) -> None:
            quote = " ".join(inbound.text.split())
            if len(quote) > QUOTE_CHARS:
                quote = quote[:QUOTE_CHARS - 1] + "…"
            try:
                await self._tell(inbound.chat, Reply(TOO_OLD_TEXT % (   # type: ignore[misc]
                    quote, duration(age))))
            except asyncio.CancelledError:
                raise
            except Exception as exc:   # noqa: BLE001 (any send failure: logged, row gone)
                self._log.warning("event=pending_not_run platform=%s id=%s age_s=%.0f "
                                  "told=false error=%s", self._platform, inbound.message_id,
                                  age, logmod.one_line_error(exc))
                return
            self._log.warning("event=pending_not_run platform=%s id=%s age_s=%.0f told=true",
                              self._platform, inbound.message_id, age)
        return explain

    def _forget(self, row_key: str) -> None:
        # Batched: a crash before the commit replays one answered command, which
        # the at-least-once rule allows; the reply is already out either way.
        with self._state.batch():
            if row_key.startswith(HELD + ":"):
                assert self._seen_ns is not None
                self._state.clear_pending(self._seen_ns, row_key[len(HELD) + 1:])
            else:
                self._state.delete_pending(row_key)

    def take_over(self) -> list[tuple[str, Inbound]]:
        """The rows a previous run left, as (row key, Inbound) to pass to :meth:`run`;
        the sender of one older than ``max_age_sec`` is told instead of it running."""
        found: list[tuple[str, Inbound]] = []
        now = time.time()
        for row in self._state.pending_inbound(self._platform):
            try:
                inbound = _restored(row.chat, row.data)
            except (TypeError, ValueError):
                self._log.warning("event=pending_unreadable key=%s", row.key)
                self._state.delete_pending(row.key)
                continue
            if now - row.created > self._max_age:
                if self._tell is None:
                    self._log.warning("event=pending_dropped platform=%s id=%s age_s=%.0f "
                                      "reason=too_old", self._platform, row.event_id,
                                      now - row.created)
                    self._state.delete_pending(row.key)
                    continue
                self._too_old[row.key] = now - row.created
            found.append((row.key, inbound))
        if self._seen_ns is not None:
            found.extend(self._take_over_held(now))
        if found:
            self._log.info("event=pending_replayed platform=%s count=%d", self._platform,
                           len(found))
        return found

    def _take_over_held(self, now: float) -> list[tuple[str, Inbound]]:
        found: list[tuple[str, Inbound]] = []
        assert self._seen_ns is not None
        for event_id, text in self._state.held_pending(self._seen_ns):
            try:
                held = json.loads(text)
                inbound = _restored(held["chat"], held["data"])
                created = float(held["created"])
            except (TypeError, ValueError, KeyError):
                self._log.warning("event=pending_unreadable key=%s:%s", HELD, event_id)
                self._state.clear_pending(self._seen_ns, event_id)
                continue
            row_key = "%s:%s" % (HELD, event_id)
            if now - created > self._max_age:
                if self._tell is None:
                    self._log.warning("event=pending_dropped platform=%s id=%s age_s=%.0f "
                                      "reason=too_old", self._platform, event_id,
                                      now - created)
                    self._state.clear_pending(self._seen_ns, event_id)
                    continue
                self._too_old[row_key] = now - created
            found.append((row_key, inbound))
        return found


def _fields(inbound: Inbound) -> dict:
    """What an Inbound needs besides its chat, as stored in a pending row."""
    return {"platform": inbound.platform, "user_id": inbound.user_id,
            "chat_id": inbound.chat_id, "text": inbound.text,
            "message_id": inbound.message_id, "is_direct": inbound.is_direct,
            "bot_name": inbound.bot_name, "mentioned": inbound.mentioned,
            "verified": inbound.verified, "reply_to": inbound.reply_to,
            "photo": inbound.photo.to_json() if inbound.photo is not None else None}


def _restored(chat: str, data: dict) -> Inbound:
    """The Inbound of a pending row (its photo decoded; rows from before have none)."""
    data = dict(data)
    photo = data.pop("photo", None)
    try:
        ref = PhotoRef.from_json(photo) if photo else None
    except KeyError as exc:
        raise ValueError("pending photo without %s" % exc) from None
    return Inbound(chat=ChatRef.from_json(chat), **data, photo=ref)
