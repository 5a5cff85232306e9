"""The Telegram channel: Bot API long polling in; replies out through telegram.send.

At-least-once in, exactly-once effect (issue 4). A fetched batch is written
to the StateStore (``telegram.pending``) before the next getUpdates confirms
it to Telegram, so a crash never loses an update; each update is handed to
``on_inbound`` in its own task (one slow command never holds up polling);
when the handler returns, its ``update_id`` is marked seen and the persisted
offset (``telegram.offset``) moves up to the lowest update still running. On
restart the pending updates not yet seen run again; redeliveries are dropped
by the seen set. While the StateStore cannot write (disk full) nothing new is
confirmed: polls keep sending the last offset that was stored (with backoff
between them, retrying the pending record), so updates still run from memory
but a crash meanwhile leaves them at Telegram (issue 20). Errors follow faults.md §3 through one classifier
(``telegram.wire.classify``); wire facts are platforms.md §1.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, replace
from typing import Any, Awaitable, Callable, Optional

from openclaw_connector import log as logmod
from openclaw_connector.backoff import Backoff, wait_or_stop
from openclaw_connector.channels.base import ChannelDeps, ChannelHealth
from openclaw_connector.channels.telegram.api import BotApi
from openclaw_connector.channels.telegram.buttons import MAX_BUTTONS, CallbackTap, \
    TelegramButtons, parse_callback
from openclaw_connector.channels.telegram.menu import publish_menu
from openclaw_connector.channels.telegram.photos import TelegramPhotos
from openclaw_connector.channels.telegram.send import TelegramSender
from openclaw_connector.channels.telegram.wire import (
    BotInfo, Fatal, PoisonUpdate, Retry, TelegramError, classify, log_field, mask_token,
    parse_update, scrub, update_id_of)
from openclaw_connector.config import TelegramConfig
from openclaw_connector.lifecycle import drain
from openclaw_connector.messages import Capabilities, ChatRef, Inbound, InboundHandler, \
    PhotoRef, Reply, Sent

log = logmod.get("telegram")

NS = "telegram"                    # seen-id namespace
KEY_OFFSET = "offset"            # in state.kv(NS)
KEY_PENDING = "pending"          # in state.kv(NS)
SEEN_TTL_SEC = 2 * 24 * 3600       # Telegram keeps updates 24 h; remember ours twice that
CONFLICT_ESCALATE_SEC = 300.0      # a 409 streak this long is probably a second instance
CAPABILITIES = Capabilities(edit=True, max_upload_bytes=50_000_000)   # sendDocument ≤ 50 MB


@dataclass(frozen=True)
class TelegramView:
    """:meth:`TelegramChannel.introspect`: the offset the next getUpdates sends and how
    many updates are being handled."""

    offset: int
    running: int


class TelegramChannel:
    """Telegram Bot API by long polling (platforms.md §1)."""

    platform = "telegram"

    def __init__(self, cfg: TelegramConfig, on_inbound: InboundHandler,
                 deps: ChannelDeps) -> None:
        self._cfg, self._on_inbound, self._deps = cfg, on_inbound, deps
        self._state = deps.state
        self._token = cfg.token or ""
        self._api = BotApi(cfg, deps.http)
        self._call = self._api.call
        self.health = ChannelHealth("telegram")
        self.bot: Optional[BotInfo] = None
        self._stopping = asyncio.Event()
        self._task: Optional[asyncio.Task] = None
        self._inflight: dict[int, asyncio.Task] = {}
        self._raw: dict[int, dict] = {}          # running updates, as received
        self._next_offset = 0                    # the offset our next getUpdates sends
        self._saved_offset: Optional[int] = None
        self._sender = TelegramSender(self._call, state=deps.state, token=self._token,
                                      metrics=deps.metrics, media=deps.media)
        self._photos = TelegramPhotos(self._call, cfg.api_base, self._token, deps.http.client)
        self._stopped = False
        self._handled_waiters: list[asyncio.Future] = []
        self._replayed = False                   # pending of a previous run taken over
        self._menu_task: Optional[asyncio.Task] = None
        self._state_delays = Backoff(deps.retry)  # while the state cannot be written
        self._taps = TelegramButtons(self._call, deps.buttons, on_inbound,
                                     answer_timeout=self._api.setup_timeout)

    # ------------------------------------------------------------------ service
    async def start(self) -> None:
        """Spawn the poll loop and return; getMe and deleteWebhook run inside it."""
        saved = self._state.kv(NS).get(KEY_OFFSET)
        self._next_offset = int(saved) if saved and saved.lstrip("-").isdigit() else 0
        self._saved_offset = self._next_offset
        self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        """Stop polling, give running commands ``stop_drain_sec``, keep the rest pending."""
        if self._stopped:
            return
        self._stopped = True
        self._stopping.set()
        try:
            if self._task is not None:
                await drain([self._task], 0)     # the poll loop ends at once
            await drain(list(self._inflight.values()), self._cfg.stop_drain_sec)
            if self._menu_task is not None and not self._menu_task.done():
                self._menu_task.cancel()
        finally:
            # Also reached when the daemon's grace runs out and cancels us.
            for task in list(self._inflight.values()):
                task.cancel()
            if self._replayed:      # else the stored pending is a crash's, still unread
                self._save_pending()
                self._save_offset()
            if self.health.state != "fatal":
                self.health.stopped()

    async def wait_handled(self, update_id: int, timeout: float) -> None:
        """Wait until ``update_id`` was handled or skipped: the one test hook besides
        :meth:`introspect`, for tests that feed updates and wait on their outcome."""
        async def _wait() -> None:
            while not self._state.is_seen(NS, str(update_id)):
                fut = asyncio.get_running_loop().create_future()
                self._handled_waiters.append(fut)
                await fut
        await asyncio.wait_for(_wait(), timeout)

    def introspect(self) -> "TelegramView":
        """What the poll loop holds now (tests read this, never the internals)."""
        return TelegramView(offset=self._next_offset, running=len(self._inflight))

    # ------------------------------------------------------------------ polling
    async def _run(self) -> None:
        """Bootstrap, then poll until stopped; only a bad token ends the loop early."""
        delays = Backoff(self._deps.retry)
        conflict_since: Optional[float] = None
        webhook_deleted = escalated = False
        while not self._stopping.is_set():
            try:
                if self.bot is None:
                    await self._bootstrap()
                await self._room()
                offset = await self._confirmable_offset()
                if offset is None:
                    continue
                await self._poll_once(offset)
            except Exception as exc:
                verdict = classify(exc)
                if isinstance(verdict, Fatal):
                    self.health.fatal(verdict.reason)
                    log.error("event=channel_stopped platform=telegram token=%s reason=%s",
                              mask_token(self._token),
                              log_field(scrub(verdict.reason, self._token)))
                    self._metric("telegram_poll_errors_total", kind="fatal")
                    return
                assert isinstance(verdict, Retry)
                error = scrub(str(exc), self._token)
                if verdict.state == "conflict":
                    if conflict_since is None:
                        conflict_since = time.monotonic()
                        log.warning("event=poll_conflict description=%s", log_field(error))
                    elif not escalated and \
                            time.monotonic() - conflict_since > CONFLICT_ESCALATE_SEC:
                        escalated = True
                        log.error("event=poll_conflict_persists seconds=%d hint=\"another "
                                  "process polls with this token; stop it\"",
                                  time.monotonic() - conflict_since)
                    if verdict.webhook and not webhook_deleted:
                        webhook_deleted = True
                        await self._delete_webhook()
                if verdict.after is not None:
                    wait = verdict.after            # the server's retry_after, exactly
                else:
                    wait = delays.next()
                self.health.failed(verdict.state, error[:200])
                self._metric("telegram_poll_errors_total", kind=verdict.state)
                if verdict.state != "conflict":     # a 409 streak is logged above
                    log.warning("event=poll_failed attempt=%d retry_in=%.3f error=%s",
                                delays.attempt, wait, log_field(error),
                                exc_info=not isinstance(exc, TelegramError))
                if await wait_or_stop(self._stopping, wait):
                    return
            else:
                delays.reset()
                conflict_since, webhook_deleted, escalated = None, False, False

    async def _bootstrap(self) -> None:
        """getMe (our username), deleteWebhook, then re-run what a crash left pending."""
        me = await self._call("getMe", timeout=self._api.setup_timeout)
        if not isinstance(me, dict) or not isinstance(me.get("id"), int):
            raise TelegramError("getMe", 502, "getMe result has no id")
        await self._delete_webhook(strict=True)
        self.bot = BotInfo(id=me["id"], username=str(me.get("username") or ""))
        self.health.ok()
        log.info("event=telegram_ready bot=@%s offset=%d", self.bot.username, self._next_offset)
        if self._deps.menu is not None and self._menu_task is None:
            self._menu_task = asyncio.ensure_future(publish_menu(
                self._call, self._deps.menu, timeout=self._api.setup_timeout))
        self._replay_pending()

    async def _delete_webhook(self, *, strict: bool = False) -> None:
        """Polling cannot work while a webhook is set (409); keep pending updates."""
        try:
            await self._call("deleteWebhook", {"drop_pending_updates": False},
                             timeout=self._api.setup_timeout)
            log.info("event=webhook_deleted")
        except TelegramError as exc:
            if strict:
                raise
            log.warning("event=webhook_delete_failed error=%s", log_field(str(exc)))

    async def _room(self) -> None:
        """Backpressure: while ``max_inflight`` commands run, fetch no more (they stay queued
        at Telegram, and the pending record written per batch stays small)."""
        limit = self._cfg.max_inflight
        while len(self._inflight) >= limit and not self._stopping.is_set():
            fut = asyncio.get_running_loop().create_future()
            self._handled_waiters.append(fut)
            await fut

    async def _confirmable_offset(self) -> Optional[int]:
        """The offset the next getUpdates may send (None: stopping).

        While state writes fail it is the last offset that was stored, after a
        backoff: updates already fetched come back and are skipped as running
        or seen, new ones still run, and nothing unstored is confirmed.
        """
        if not self._state.write_failing:
            return self._next_offset
        self._save_pending()
        self._save_offset()
        if not self._state.write_failing:
            self._state_delays.reset()
            self.health.ok()
            return self._next_offset
        self.health.failed("state", "state storage failing: updates are not confirmed")
        self._metric("telegram_poll_errors_total", kind="state")
        if await wait_or_stop(self._stopping, self._state_delays.next()):
            return None
        return self._saved_offset or 0

    async def _poll_once(self, offset: int) -> None:
        timeout = max(0, int(self._cfg.poll_timeout_sec))
        params: dict = {"timeout": timeout,
                        "allowed_updates": ["message", "callback_query"]}   # taps too
        if offset:
            params["offset"] = offset
        began = time.monotonic()
        updates = await self._call("getUpdates", params,
                                   timeout=timeout + self._cfg.poll_margin_sec)
        if not isinstance(updates, list):
            raise TelegramError("getUpdates", 502, "result is not a list")
        if not self._state.write_failing:
            self.health.ok()
        if updates:
            self._accept(updates)
        elif time.monotonic() - began < timeout / 2 or timeout == 0:
            # An empty answer that came back early: never spin on it.
            await wait_or_stop(self._stopping, self._deps.retry.initial)

    def _accept(self, updates: list) -> None:
        """Record a batch durably, then start a handler task per new update."""
        fresh: list[tuple[int, Any]] = []
        for update in updates:
            uid = update_id_of(update)
            if uid is None:
                log.warning("event=update_skipped reason=no_update_id")
                self._metric("telegram_updates_total", kind="poison")
                continue
            if uid >= self._next_offset:
                self._next_offset = uid + 1
            if uid in self._raw or self._state.is_seen(NS, str(uid)):
                self._metric("telegram_updates_total", kind="duplicate")
                continue
            fresh.append((uid, update))
        fresh.sort(key=lambda pair: pair[0])
        for uid, update in fresh:
            self._raw[uid] = update
        if fresh:
            self._save_pending()    # before the next getUpdates confirms them
        for uid, update in fresh:
            self._dispatch(uid, update)
        self._save_offset()

    def _dispatch(self, uid: int, update: Any) -> None:
        tap = isinstance(update, dict) and "callback_query" in update   # a button (buttons.py)
        try:
            inbound = parse_callback(update, now=time.time()) if tap else \
                parse_update(update, self.bot or BotInfo(0, ""), now=time.time())
        except PoisonUpdate as exc:
            log.warning("event=update_skipped update_id=%d reason=%s", uid, log_field(str(exc)))
            self._metric("telegram_updates_total", kind="poison")
            self._done(uid)
            return
        if inbound is None:
            self._metric("telegram_updates_total", kind="ignored")
            self._done(uid)
            return
        self._metric("telegram_updates_total", kind="callback_query" if tap else "message")
        if isinstance(inbound, CallbackTap):
            pressed = inbound
            self._inflight[uid] = asyncio.ensure_future(self._handle(
                uid, lambda: self._taps.handle(pressed, self.bot or BotInfo(0, ""))))
            return
        if self._deps.debug:
            log.debug("event=inbound update_id=%d chat=%s user=%s text=%r", uid,
                      inbound.chat_id, inbound.user_id, inbound.text[:200])
        message = inbound
        self._inflight[uid] = asyncio.ensure_future(
            self._handle(uid, lambda: self._on_inbound(message)))

    async def _handle(self, uid: int, work: Callable[[], Awaitable[None]]) -> None:
        try:
            await work()
        except asyncio.CancelledError:
            self._inflight.pop(uid, None)   # unfinished: stays pending for a restart
            raise
        except Exception as exc:
            log.error("event=handler_failed update_id=%d error=%s", uid,
                      log_field(logmod.one_line_error(exc)), exc_info=self._deps.debug)
        self._inflight.pop(uid, None)
        self._done(uid)

    def _done(self, uid: int) -> None:
        """The update is handled: remember it, and let the saved offset pass it."""
        self._state.mark_seen(NS, str(uid), SEEN_TTL_SEC)
        self._raw.pop(uid, None)
        self._save_offset()
        waiters, self._handled_waiters = self._handled_waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    def _save_offset(self) -> None:
        offset = min(self._raw) if self._raw else self._next_offset
        if offset != self._saved_offset:
            self._state.kv(NS).set(KEY_OFFSET, str(offset))
            if not self._state.write_failing:   # else written again once it works
                self._saved_offset = offset

    def _save_pending(self) -> None:
        self._state.kv(NS).set_json(KEY_PENDING, {str(k): v for k, v in self._raw.items()})

    def _replay_pending(self) -> None:
        """Run again what a previous process fetched but did not finish."""
        self._replayed = True
        try:
            stored = self._state.kv(NS).get_json(KEY_PENDING) or {}
        except ValueError:
            log.warning("event=pending_unreadable key=%s", self._state.kv(NS).key(KEY_PENDING))
            stored = {}
        floor = self._saved_offset or 0
        again = []
        for key, update in stored.items() if isinstance(stored, dict) else ():
            uid = int(key) if key.lstrip("-").isdigit() else None
            if uid is None or uid < floor or uid in self._raw or \
                    self._state.is_seen(NS, key):
                continue
            again.append((uid, update))
            self._next_offset = max(self._next_offset, uid + 1)
        if again:
            log.info("event=pending_replayed count=%d", len(again))
            self._accept([u for _, u in sorted(again, key=lambda p: p[0])])
        else:
            self._save_pending()

    # ------------------------------------------------------------------ sending
    @property
    def capabilities(self) -> Capabilities:
        # Typing and video come with their issues; edits and buttons work now.
        if self._deps.buttons is None:
            return CAPABILITIES
        return replace(CAPABILITIES, buttons=True, max_buttons=MAX_BUTTONS)

    async def send(self, chat: ChatRef, reply: Reply, *, start_part: int = 0,
                   key: str = "") -> Sent:
        """Deliver ``reply`` from ``start_part`` on (telegram.send.TelegramSender), one
        attempt per part; raises ChannelSendError. ``key``: Telegram has no
        idempotency key to derive."""
        return await self._taps.send(self._sender, chat, reply, start_part)

    async def clear_buttons(self, sent: Sent) -> None:
        """Remove the inline keyboard from what ``sent`` names (a decided request)."""
        await self._taps.clear(sent)

    async def edit(self, sent: Sent, reply: Reply) -> Sent:
        """editMessageText on ``sent`` ("message is not modified" counts as done)."""
        return await self._sender.edit(sent, reply)

    async def fetch_photo(self, photo: PhotoRef, max_bytes: int) -> bytes:
        """A user's photo (getFile, then the file URL), at most ``max_bytes``."""
        return await self._photos.fetch(photo, max_bytes)

    def _metric(self, name: str, **labels: str) -> None:
        self._deps.metrics.inc(name, 1.0, **labels)
