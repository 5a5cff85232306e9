"""The live job card: a command's ``[Queued]`` reply, kept up to date until the job ends.

Issue 16, DESIGN.md "Cards are edited, results are sent". The card *is* the
reply the router gave to ``/run`` (or ``/approve``; for a run that waited for
approval, the requester's ``[Approved]`` line): once it was delivered,
:meth:`CardTracker.reply_sent` adopts its ``Sent`` as the card (the Outbox
keeps it in the StateStore, so after a restart the same message is edited,
never a second card). Each ``/queue`` pass of the JobWatcher
gives the position and ETA, or "Running" with the elapsed time; the per-run
socket (:mod:`jobs.runs`) adds steps and nodes. Edits go through
:meth:`Outbox.update`, which throttles each card to one edit per
``progress.min_interval_sec`` (latest state wins, no edit when the text is
unchanged, a 429 delays that card only). The result itself is still sent as
a new message by the watcher's exactly-once path; this module only shows.

Platforms that cannot edit (capabilities): LINE shows its loading animation
while the job runs (renewed every ``typing_renew_sec``; 1:1 chats only, the
channel decides), WhatsApp marks the command read with the typing indicator
once; the console writes one line per state change and per 25 % of steps.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Optional

from openclaw_connector import log as logmod
from openclaw_connector.backoff import BackoffPolicy, wait_or_stop
from openclaw_connector.config import Config
from openclaw_connector.delivery import Outbox
from openclaw_connector.jobs.card_text import DONE, ENDED, FAILED, QUEUED, RUNNING, STOPPED, \
    CardState, DurationStats, QueuePositions, card_text, status_line
from openclaw_connector.jobs.runs import RESULT_EVENTS, RUN_EVENTS, RunProgress, RunSocket
from openclaw_connector.jobs.texts import short_id
from openclaw_connector.jobs.watch import PROMPT, Watch
from openclaw_connector.messages import ChatRef, Image, Reply, Sent
from openclaw_connector.openclaw.types import JobOutcome, QueueState
from openclaw_connector.state import StateStore

log = logmod.get("jobs")

TIMED_MEMORY = 1000
TICK_SEC = 5.0                      # a Running card's clock moves at least this often
PREVIEW_EVERY_SEC = 5.0             # the card's photo changes at most this often (issue 16)
PROGRESS = "progress"               # state.kv: started.<watch key> → epoch first seen running
OUTCOME_PHASE = {"success": DONE, "error": FAILED, "interrupted": STOPPED}


@dataclass
class _Live:
    """One card being kept up to date."""

    watch: Watch
    state: CardState = field(default_factory=CardState)
    run: Optional[RunProgress] = None
    quarter: int = -1                   # the last 25 % step written as a line
    phase_shown: str = ""               # the last phase written as a line / indicated
    indicator: Optional[asyncio.Task] = None
    preview: Optional[Image] = None     # ComfyUI's latest preview, not shown yet
    preview_at: float = float("-inf")   # when the card last got a new preview


class CardTracker:
    """Keeps the cards of pending prompt watches current; owned by the JobWatcher."""

    def __init__(self, cfg: Config, *, outbox: Outbox, state: StateStore,
                 stopping: asyncio.Event, retry: BackoffPolicy,
                 kick: Callable[[], None], clock: Callable[[], float] = time.monotonic
                 ) -> None:
        self._outbox = outbox
        self._stopping = stopping
        self._kick = kick
        self._clock = clock
        self._kv = state.kv(PROGRESS)
        self._eta = DurationStats(state)
        self._live: dict[str, _Live] = {}
        self._awaiting: dict[tuple[str, str, str], Watch] = {}
        self._tasks: set[asyncio.Task] = set()
        self._timed: set[str] = set()
        self._ended: dict[str, JobOutcome] = {}    # jobs that ended before their reply
        self._ticker: Optional[asyncio.Task] = None
        self._runs = RunSocket(cfg.openclaw.url, on_event=self.run_event, retry=retry,
                               ping_sec=cfg.results.ws_ping_sec,
                               connect_timeout=cfg.openclaw.timeout_sec,
                               on_preview=self.preview if cfg.progress.previews else None)

    # ------------------------------------------------------------------ which cards
    def expect(self, watch: Watch) -> None:
        """``watch`` was just started by a command whose reply becomes its card."""
        chat = watch.chat
        # Keyed by the command's message; the console has no message ids, but it
        # handles one line at a time, so its reply comes before the next watch.
        if watch.kind == PROMPT:
            self._awaiting[(chat.platform, chat.chat_id, chat.message_id)] = watch

    def reply_sent(self, chat: ChatRef, reply: Reply, sent: Optional[Sent]) -> None:
        """The command's reply in ``chat`` was delivered as ``sent``: adopt it as the card."""
        watch = self._awaiting.pop((chat.platform, chat.chat_id, chat.message_id), None)
        ended = self._ended.pop(watch.key, None) if watch is not None else None
        if watch is None or sent is None or watch.key in self._live:
            return
        if self._outbox.capabilities(chat.platform).edit and not sent.first_id:
            return      # no message id to edit (the platform gave none): no card
        self._outbox.adopt_card(watch.key, sent, reply)
        self._live[watch.key] = live = _Live(watch)
        live.phase_shown = QUEUED           # the reply said [Queued] already
        if ended is not None:               # the job ended before its reply went out
            self.finished(watch, ended)
            return
        self._kick()                        # position and ETA from the next /queue pass

    def restore(self, watch: Watch) -> None:
        """After a restart: keep editing the card an earlier run showed for ``watch``."""
        if watch.kind == PROMPT and self._outbox.card_sent(watch.key) is not None:
            live = self._live[watch.key] = _Live(watch, phase_shown=QUEUED)
            since = self._kv.get("started." + watch.key)
            if since:   # it was running: the clock goes on from where it was
                live.state.started = self._clock() - max(0.0, time.time() - float(since))

    # ------------------------------------------------------------------ state changes
    def queue_seen(self, queue: QueueState) -> None:
        """One ``GET /queue`` answer: position/ETA, or running; attach to the run."""
        running = {e.prompt_id: e for e in queue.running}
        positions = QueuePositions(queue.running, queue.pending)
        if self._runs.prompt_id and self._runs.prompt_id not in running:
            self._runs.release()
        for live in list(self._live.values()):
            state, pid = live.state, live.watch.ref_id
            if state.phase in ENDED:
                continue
            entry = running.get(pid)
            if entry is not None:
                if state.phase != RUNNING:
                    state.phase = RUNNING
                    if state.started is None:
                        state.started = self._clock()
                        self._kv.set("started." + live.watch.key, "%.3f" % time.time())
                if live.run is None:
                    live.run = RunProgress(entry, state)
                self._runs.follow(entry)
            else:
                state.ahead = positions.ahead(pid)
                if state.ahead is None:
                    continue                # left the queue: the history tells the outcome
                mean = self._eta.mean(live.watch.template)
                state.eta_sec = mean * (state.ahead + 1) if mean else None
            self._show(live)

    def run_event(self, prompt_id: str, message: dict) -> None:
        """One event from a socket (ours for the run, or the broadcast one)."""
        kind = message.get("type")
        if kind in RESULT_EVENTS:
            self._kick()                    # the outcome is in /history now (or soon)
            return
        for live in self._live.values():
            if live.watch.ref_id == prompt_id and live.run is not None \
                    and live.state.phase == RUNNING and live.run.apply(message):
                self._show(live)

    def broadcast_event(self, message: dict) -> None:
        """An event on the JobWatcher's own socket: events of a prompt without a
        client_id are broadcast, and some ComfyUI forks send a run's events to the
        socket that connected last, so a run event there counts too."""
        data = message.get("data")
        pid = data.get("prompt_id") if isinstance(data, dict) else None
        if message.get("type") in RUN_EVENTS and isinstance(pid, str):
            self.run_event(pid, message)

    def preview(self, prompt_id: str, data: bytes, content_type: str) -> None:
        """A preview frame of the run (``progress.previews``): the card shows it as its
        photo where the platform can edit, at most every PREVIEW_EVERY_SEC."""
        name = "preview.png" if content_type == "image/png" else "preview.jpg"
        for live in self._live.values():
            if live.watch.ref_id == prompt_id and live.state.phase == RUNNING:
                live.preview = Image(name, data, content_type)
                if self._clock() - live.preview_at >= PREVIEW_EVERY_SEC:
                    self._show(live)

    def finished(self, watch: Watch, outcome: JobOutcome) -> None:
        """The job ended: the card shows the outcome, then is forgotten."""
        live = self._drop(watch)
        if self._awaiting.get((watch.chat.platform, watch.chat.chat_id,
                               watch.chat.message_id)) == watch:
            # Its reply is still on the way (a cached job ends at once): that reply
            # becomes the card and shows the outcome as soon as it was delivered.
            self._ended[watch.key] = outcome
        if outcome.state == "success" and outcome.duration_sec \
                and watch.ref_id not in self._timed:
            self._timed.add(watch.ref_id)   # one sample per job, however many chats watch
            if len(self._timed) > TIMED_MEMORY:
                self._timed.clear()
            self._eta.record(watch.template, outcome.duration_sec)
        if live is None:
            return
        live.preview = None
        live.state.phase = OUTCOME_PHASE.get(outcome.state, FAILED)
        live.state.took_sec = outcome.duration_sec
        self._show(live, last=True)
        if not self._outbox.capabilities(watch.chat.platform).edit:
            self._outbox.end_card(watch.key)    # nothing to edit: forget the handle now

    def given_up(self, watch: Watch) -> None:
        """The watcher stopped following the job (``results.max_wait_hours``): the card
        keeps what it last showed, and nothing of it stays in memory or on disk."""
        self._drop(watch)
        self._outbox.end_card(watch.key)

    def _drop(self, watch: Watch) -> Optional[_Live]:
        """Stop tracking ``watch``'s card (its typing indicator too); what it was."""
        live = self._live.pop(watch.key, None)
        self._kv.delete("started." + watch.key)
        if live is not None and live.indicator is not None:
            live.indicator.cancel()
        return live

    # ------------------------------------------------------------------ showing
    def _show(self, live: _Live, *, last: bool = False) -> None:
        chat, state = live.watch.chat, live.state
        caps = self._outbox.capabilities(chat.platform)
        now = self._clock()
        if caps.edit:
            text = card_text(live.watch.template, live.watch.ref_id, state, now,
                             inputs=live.watch.data.get("inputs"))
            images: tuple[Image, ...] = ()
            if live.preview is not None and now - live.preview_at >= PREVIEW_EVERY_SEC:
                images, live.preview, live.preview_at = (live.preview,), None, now
            self._spawn(self._edit(live.watch.key, chat, Reply(text, images), last))
        elif caps.progress_lines:
            self._line(live, now)
        if caps.typing and state.phase == RUNNING and live.phase_shown != RUNNING:
            live.indicator = self._spawn(self._indicate(chat, caps.typing_renew_sec))
        if state.phase == RUNNING and (self._ticker is None or self._ticker.done()):
            self._ticker = self._spawn(self._tick())
        live.phase_shown = state.phase

    async def _tick(self) -> None:
        """While a card shows Running, re-show it every TICK_SEC so its clock moves even
        when no event comes (a long node without steps, or no run socket)."""
        while not await wait_or_stop(self._stopping, TICK_SEC):
            running = [live for live in self._live.values() if live.state.phase == RUNNING]
            if not running:
                return
            for live in running:
                self._show(live)

    async def _edit(self, key: str, chat: ChatRef, reply: Reply, last: bool) -> None:
        await self._outbox.update(key, chat, reply)
        if last:
            self._outbox.end_card(key)

    def _line(self, live: _Live, now: float) -> None:
        """A terminal cannot edit: one line per state change and per 25 % of steps."""
        state = live.state
        if state.phase in ENDED:
            return                          # the result message is the last line
        quarter = state.percent // 25 if state.percent is not None else -1
        if state.phase == live.phase_shown and quarter <= live.quarter:
            return
        live.quarter = max(live.quarter, quarter, 0) if state.phase == RUNNING else -1
        head = "[%s] %s · %s" % (state.phase.capitalize(), live.watch.template,
                                 short_id(live.watch.ref_id))
        status = status_line(state, now)
        if status.startswith("Running"):
            status = status[len("Running · "):]
        text = head + (" · " + status if status else "")
        self._spawn(self._outbox.deliver(live.watch.chat, Reply(text),
                                         key="card:%s:%s" % (live.watch.key, text)))

    async def _indicate(self, chat: ChatRef, renew_sec: float) -> None:
        """Typing/loading while the job runs: once, or renewed every ``renew_sec``."""
        while True:
            await self._outbox.typing(chat)
            if renew_sec <= 0 or await wait_or_stop(self._stopping, renew_sec):
                return

    def _spawn(self, work: Awaitable[Any]) -> asyncio.Task:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def stop(self) -> None:
        """Detach from the run; let edits in flight end (bounded)."""
        await self._runs.stop()
        for live in self._live.values():
            if live.indicator is not None:
                live.indicator.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=2.0)
