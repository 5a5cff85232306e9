"""JobWatcher: every job started from chat reports back to that chat, exactly once.

A watch is a row in the StateStore (prompt or approval id, template, chat,
created time, state) written *before* the router sends ``[Queued]`` and marked
``done`` only *after* the platform accepted the result, so a crash anywhere in
between re-delivers at most once more and never loses it. On start every
pending watch is checked once.

Completion is event-driven over one connection (openclaw-api.md §7): ComfyUI's
``/ws`` broadcasts ``status`` whenever its queue changes; each one triggers one
pass: ``GET /queue`` once, then ``GET /history/{id}`` only for the watched
prompts that left the queue. A prompt in neither queue nor history is lost
(history lives in ComfyUI's memory, §5). While the socket is down the same pass
runs by polling with backoff (``results.poll_min_sec`` → ``poll_max_sec``);
while it is up a slow safety pass runs every ``10 × poll_max_sec``. Approvals
are polled (``GET /openclaw/approvals/{id}``, §4.3) every
``results.approval_poll_sec`` and on queue changes, until decided or until
``expires_at`` plus a grace minute. No per-job timers: two loops and one socket,
however many watches; with nothing changing the daemon stays idle.

Building the reply (images through ``/view``) and handing it to the Outbox
(:mod:`delivery`, the one place that retries a send): :mod:`jobs.send`; the
texts: :mod:`jobs.texts`; the socket: :mod:`openclaw.comfy_ws`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import secrets
import time
from typing import Any, Awaitable, Callable, Mapping, Optional

from openclaw_connector.jobs import texts as fmt
from openclaw_connector import log as logmod
from openclaw_connector.backoff import Backoff, BackoffPolicy
from openclaw_connector.openclaw.comfy_ws import ComfyWebSocket, ws_url
from openclaw_connector.config import Config
from openclaw_connector.delivery import Outbox
from openclaw_connector.jobs.card import CardTracker
from openclaw_connector.jobs.followups import FollowUps
from openclaw_connector.jobs.send import DONE, FAILED, ResultSender
from openclaw_connector.jobs.watch import APPROVAL, PENDING, PROMPT, Watch, WatcherView, epoch, \
    watch_key
from openclaw_connector.lifecycle import drain
from openclaw_connector.messages import ChatRef, Reply, Sent
from openclaw_connector.metrics import Metrics
from openclaw_connector.openclaw.client import OpenClawClient
from openclaw_connector.openclaw.types import Approval, NotFound, OpenClawError
from openclaw_connector.state import StateStore

log = logmod.get("jobs")

APPROVAL_GRACE_SEC = 60.0
KEEP_FINISHED_SEC = 7 * 86400.0      # finished rows kept this long so a replay is recognised
HISTORY_CONCURRENCY = 8
SAFETY_FACTOR = 10.0                 # safety pass every SAFETY_FACTOR × poll_max_sec
WS_EVENTS = ("status", "execution_success", "execution_error", "execution_interrupted")


class JobWatcher:
    """Follows prompts and approvals a chat started; a service with start()/stop()."""

    def __init__(self, cfg: Config, *, openclaw: OpenClawClient, state: StateStore,
                 outbox: Outbox, metrics: Metrics, clock: Callable[[], float] = time.time,
                 on_decided: Optional[Callable[[str], Awaitable[None]]] = None,
                 followups: Optional[FollowUps] = None) -> None:
        self._cfg = cfg
        self._on_decided = on_decided       # an approval's buttons go once it is decided
        self._res = cfg.results
        self._oc = openclaw
        self._state = state
        self._metrics = metrics
        self._clock = clock
        self._watches: dict[str, Watch] = {}
        self._busy: set[str] = set()
        self._tasks: set[asyncio.Task] = set()
        self._loops: list[asyncio.Task] = []
        self._kick = asyncio.Event()
        self._approval_kick = asyncio.Event()
        self._stopping = asyncio.Event()
        self._poll = Backoff(BackoffPolicy(self._res.poll_min_sec, 2.0,
                                           max(self._res.poll_min_sec, self._res.poll_max_sec)))
        self._sender = ResultSender(cfg, openclaw=openclaw, outbox=outbox, metrics=metrics,
                                    stopping=self._stopping, state=state, followups=followups)
        self.client_id = "openclaw-connector-" + secrets.token_hex(6)
        self.ws: Optional[ComfyWebSocket] = None
        self.cards = CardTracker(cfg, outbox=outbox, state=state, stopping=self._stopping,
                                 retry=self._sender.retry, kick=self._kick.set) \
            if cfg.progress.enabled and openclaw is not None else None   # issue 16's card

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Load pending watches, connect the socket, check every pending watch once."""
        self._state.prune_watches((DONE, FAILED), self._clock() - KEEP_FINISHED_SEC)
        for row in self._state.watches(states=(PENDING,)):
            try:
                self._watches[row.key] = row
            except (ValueError, TypeError) as exc:
                log.error("event=watch_unreadable key=%s error=%s", row.key, exc)
                continue
            if self.cards is not None:
                self.cards.restore(self._watches[row.key])
        self._gauge()
        log.info("event=jobs_started pending=%d client_id=%s", len(self._watches),
                 self.client_id)
        if self._oc is None:
            log.warning("event=jobs_disabled reason=no_openclaw_client")
            return
        self.ws = ComfyWebSocket(
            ws_url(self._cfg.openclaw.url, self.client_id), on_message=self._on_ws_message,
            on_state=self._on_ws_state, retry=self._sender.retry, ping_sec=self._res.ws_ping_sec,
            connect_timeout=self._cfg.openclaw.connect_sec)
        await self.ws.start()
        self._loops = [asyncio.ensure_future(self._check_loop()),
                       asyncio.ensure_future(self._approval_loop())]
        self._kick.set()
        self._approval_kick.set()

    async def stop(self) -> None:
        """Close the socket, end the loops; unfinished deliveries stay pending for next start."""
        self._stopping.set()
        self._kick.set()
        self._approval_kick.set()
        if self.ws is not None:
            await self.ws.stop()
        if self.cards is not None:
            await self.cards.stop()
        await drain(list(self._tasks) + self._loops, 3.0)
        log.info("event=jobs_stopped pending=%d", len(self._watches))

    # ------------------------------------------------------------------ the router's calls
    async def watch_prompt(self, prompt_id: str, template: str, chat: ChatRef, *,
                           approval_id: str = "", inputs: Optional[Mapping] = None) -> None:
        """Deliver the outcome (and images) of ``prompt_id`` to ``chat``, once;
        ``inputs`` go into the ``[Done]`` caption."""
        data: dict = {"approval_id": approval_id} if approval_id else {}
        if inputs:
            data["inputs"] = dict(inputs)
        watch = Watch(watch_key(PROMPT, prompt_id, chat), PROMPT, prompt_id, template,
                      chat, self._clock(), data)
        if self._add(watch):
            if self.cards is not None:
                self.cards.expect(watch)   # the command's reply becomes its live card
            self._kick.set()   # it may have finished before we were told about it

    async def watch_approval(self, approval_id: str, template: str, chat: ChatRef,
                             expires_at: str, *, inputs: Optional[Mapping] = None) -> None:
        """Tell ``chat`` when ``approval_id`` is decided or expires; then follow its job."""
        data: dict = {"expires_at": expires_at}
        if inputs:
            data["inputs"] = dict(inputs)
        if self._add(Watch(watch_key(APPROVAL, approval_id, chat), APPROVAL, approval_id,
                           template, chat, self._clock(), data)):
            self._approval_kick.set()

    def introspect(self) -> "WatcherView":
        """What the watcher holds now (tests read this, never the internals)."""
        return WatcherView(pending=list(self._watches.values()))

    def _add(self, watch: Watch, *, register: bool = True) -> bool:
        """Store ``watch`` unless it exists (pending or already delivered)."""
        if watch.key in self._watches or self._state.watch(watch.key) is not None:
            return False
        self._state.put_watch(dataclasses.replace(watch, state=PENDING,
                                                  updated=self._clock()))
        if register:
            self._watches[watch.key] = watch
            self._gauge()
        log.info("event=watch_added kind=%s id=%s template=%s platform=%s chat=%s",
                 watch.kind, watch.ref_id, watch.template, watch.chat.platform,
                 watch.chat.chat_id)
        return True

    # ------------------------------------------------------------------ socket events
    def _on_ws_message(self, message: dict) -> None:
        if self.cards is not None:
            self.cards.broadcast_event(message)   # a run's events may come this way too
        if message.get("type") not in WS_EVENTS:
            return
        if self._has(PROMPT):
            self._kick.set()
        if self._has(APPROVAL):
            self._approval_kick.set()   # an approval executing queues a prompt

    def _on_ws_state(self, up: bool) -> None:
        if up:
            self._poll.reset()
        self._kick.set()   # catch up after a connect; start polling after a drop

    def _has(self, kind: str) -> bool:
        return any(w.kind == kind and w.key not in self._busy for w in self._watches.values())

    # ------------------------------------------------------------------ prompt checks
    async def _check_loop(self) -> None:
        wait: Optional[float] = None
        while not self._stopping.is_set():
            await self._wait(self._kick, wait)
            if self._stopping.is_set():
                return
            self._kick.clear()
            ok = True
            try:
                await self._check_prompts()
            except OpenClawError as exc:
                ok = False
                # Once per outage at info; the poll keeps trying quietly (backoff to the cap).
                (log.info if self._poll.attempt == 0 else log.debug)(
                    "event=jobs_check_failed retry_attempt=%d error=%s", self._poll.attempt,
                    logmod.one_line_error(exc))
            except Exception:
                ok = False
                log.exception("event=jobs_check_crashed")
            if not self._has(PROMPT):
                wait = None
            elif ok and self.ws is not None and self.ws.connected:
                self._poll.reset()
                wait = SAFETY_FACTOR * self._res.poll_max_sec
            else:
                wait = self._poll.next()   # socket down (or ComfyUI failing): poll

    async def _wait(self, event: asyncio.Event, timeout: Optional[float]) -> None:
        if event.is_set():
            return
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except asyncio.TimeoutError:
            pass

    async def _check_prompts(self) -> None:
        """One pass: give up overdue watches, ask /queue once, /history for the rest."""
        now = self._clock()
        limit = self._res.max_wait_hours * 3600.0
        watches = [w for w in self._watches.values()
                   if w.kind == PROMPT and w.key not in self._busy]
        for w in [w for w in watches if now - w.created > limit]:
            watches.remove(w)
            if self.cards is not None:
                self.cards.given_up(w)
            self._spawn([w], functools.partial(Reply, fmt.gave_up_text(
                w.template, w.ref_id, self._res.max_wait_hours)), "gave_up")
        if not watches:
            return
        queue = await self._oc.queue()
        if self.cards is not None:
            self.cards.queue_seen(queue)
        live = set(queue.running_ids) | set(queue.pending_ids)
        by_id: dict[str, list[Watch]] = {}
        for w in watches:
            if w.ref_id not in live:
                by_id.setdefault(w.ref_id, []).append(w)
        if not by_id:
            return
        gate = asyncio.Semaphore(HISTORY_CONCURRENCY)

        async def one(pid: str) -> None:
            async with gate:
                outcome = await self._oc.history(pid, check_queue=False)
            if outcome.finished or outcome.state == "unknown":   # unknown: lost
                group = by_id[pid]
                if self.cards is not None:
                    for w in group:
                        self.cards.finished(w, outcome)
                self._spawn(group, lambda: self._sender.result_reply(
                    group[0].template, outcome, inputs=group[0].data.get("inputs")),
                    outcome.state)

        results = await asyncio.gather(*(one(p) for p in by_id), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result

    # ------------------------------------------------------------------ approvals
    async def _approval_loop(self) -> None:
        while not self._stopping.is_set():
            await self._wait(self._approval_kick,
                             self._res.approval_poll_sec if self._has(APPROVAL) else None)
            if self._stopping.is_set():
                return
            self._approval_kick.clear()
            for w in [w for w in self._watches.values()
                      if w.kind == APPROVAL and w.key not in self._busy]:
                try:
                    approval = await self._oc.approval(w.ref_id)
                except NotFound:
                    self._spawn([w], functools.partial(Reply, fmt.approval_gone_text(
                        w.ref_id, w.template)), "approval_gone")
                    continue
                except OpenClawError as exc:
                    log.info("event=approval_check_failed id=%s error=%s", w.ref_id,
                             logmod.one_line_error(exc))
                    break
                except Exception:
                    log.exception("event=approval_check_crashed id=%s", w.ref_id)
                    break
                self._on_approval(w, approval)

    def _on_approval(self, w: Watch, a: Approval) -> None:
        now = self._clock()
        expires = epoch(a.expires_at) or epoch(str(w.data.get("expires_at") or ""))
        # Without a usable expires_at, results.max_wait_hours still ends the watch.
        overdue = (expires is not None and now > expires + APPROVAL_GRACE_SEC) or \
            now - w.created > self._res.max_wait_hours * 3600.0
        if self._on_decided is not None and (a.status in ("rejected", "expired") or (
                a.status == "approved" and a.executed_prompt_id)):
            self._track(asyncio.ensure_future(self._on_decided(w.ref_id)))
        if a.status == "rejected":
            self._spawn([w], lambda: Reply(fmt.rejected_text(w.ref_id, w.template,
                                                             a.decision_by)), "rejected")
        elif a.status == "expired" or (a.status == "pending" and overdue):
            self._spawn([w], lambda: Reply(fmt.expired_text(w.ref_id, w.template)), "expired")
        elif a.status == "approved" and a.executed_prompt_id:
            self._busy.add(w.key)
            self._track(asyncio.ensure_future(self._approved(w, a, a.executed_prompt_id)))
        elif a.status == "approved" and overdue:
            self._spawn([w], lambda: Reply(fmt.approved_not_run_text(
                w.ref_id, w.template, a.decision_by)), "approved_not_run")

    async def _approved(self, w: Watch, a: Approval, prompt_id: str) -> None:
        """[Approved] first, then follow the executed prompt for the same chat."""
        data = {"approval_id": w.ref_id}
        if w.data.get("inputs"):
            data["inputs"] = w.data["inputs"]
        follow = Watch(watch_key(PROMPT, prompt_id, w.chat), PROMPT, prompt_id, w.template,
                       w.chat, self._clock(), data)
        # Stored before the line is sent, so a crash in between still delivers the result;
        # registered in memory after, so the result never overtakes the [Approved] line.
        added = self._add(follow, register=False)
        if not added and a.decision_by == "%s:%s" % (w.chat.platform, w.chat.user_id):
            # The requester approved it in this very chat and was told there already.
            self._finish(w, DONE)
            self._busy.discard(w.key)
            return
        reply = Reply(fmt.approved_text(w.ref_id, w.template, prompt_id, a.decision_by))
        on_sent = None
        if self.cards is not None:          # the [Approved] line becomes the requester's card
            self.cards.expect(follow)
            on_sent = functools.partial(self.cards.reply_sent, w.chat, reply)
        try:
            await self._send(w, reply, "approved", on_sent)
        finally:
            row = self._state.watch(follow.key)
            if row is not None and row.state == PENDING and follow.key not in self._watches \
                    and not self._stopping.is_set():
                self._watches[follow.key] = row
                self._gauge()
                self._kick.set()

    # ------------------------------------------------------------------ delivery
    def _spawn(self, watches: list[Watch], build: Callable[[], Any], outcome: str) -> None:
        """Deliver one reply (built lazily, maybe with images) to each watch, in a task."""
        watches = [w for w in watches if w.key not in self._busy]
        if not watches:
            return
        for w in watches:
            self._busy.add(w.key)

        async def run() -> None:
            try:
                reply = build()
                if asyncio.iscoroutine(reply):
                    reply = await reply
            except Exception as exc:
                log.warning("event=result_build_failed id=%s error=%s", watches[0].ref_id,
                            logmod.one_line_error(exc))
                for w in watches:
                    self._busy.discard(w.key)
                self._kick.set()
                return
            await self._send_all(watches, reply, outcome)

        self._track(asyncio.ensure_future(run()))

    def _track(self, task: asyncio.Task) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send_all(self, watches: list[Watch], reply: Reply, outcome: str) -> None:
        await asyncio.gather(*(self._send(w, reply, outcome) for w in watches))

    async def _send(self, w: Watch, reply: Reply, outcome: str,
                    on_sent: Optional[Callable[[Optional[Sent]], None]] = None) -> None:
        try:
            verdict = await self._sender.send(w.key, w.chat, reply, outcome, on_sent)
            if verdict is not None:
                self._finish(w, verdict)
        finally:
            self._busy.discard(w.key)

    def _finish(self, w: Watch, state: str) -> None:
        self._state.update_watch(w.key, state)
        self._watches.pop(w.key, None)
        self._gauge()

    def _gauge(self) -> None:
        self._metrics.set("job_watches", float(len(self._watches)),
                          help="Jobs and approvals waiting for a result")

