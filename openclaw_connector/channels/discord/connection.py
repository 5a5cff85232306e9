"""The Discord gateway connection loop: connect (RESUME or IDENTIFY within the
session start limit), read frames into the sans-I/O
:class:`~openclaw_connector.channels.discord.gateway.GatewaySession`, carry out
what it returns, heartbeat on a fixed timeline, back off and reconnect.

Why its own module: keeping one websocket alive is one concept; turning its
dispatches into commands and sending replies is the channel's
(``channels/discord/channel.py``). Follows platforms.md §2 (Discord) and
faults.md §2 items 3-5, 8, 9, 11.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, Callable, Optional, Union

from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.iostream import StreamClosedError
from tornado.websocket import WebSocketClientConnection, WebSocketClosedError, \
    websocket_connect

from openclaw_connector import log as logmod
from openclaw_connector.backoff import Backoff, wait_or_stop
from openclaw_connector.channels.base import ChannelDeps, ChannelHealth
from openclaw_connector.channels.discord.gateway import CLOSE_SHUTDOWN, CLOSE_ZOMBIE, Close, \
    Dispatch, Fatal, GatewaySession, IdentifyBudget, Reconnect, Send, StartHeartbeat
from openclaw_connector.channels.discord.rest import USER_AGENT, DiscordRest
from openclaw_connector.config import DiscordConfig
from openclaw_connector.net.ws_keepalive import KeepAlive, close_now

log = logmod.get("discord")

SESSION = "session"             # kv("discord") key of the resumable session
PING_INTERVAL = 60.0            # websocket-level keepalive, beside Discord's own heartbeat
PING_TIMEOUT = 30.0
MAX_MESSAGE_SIZE = 16 * 1024 * 1024
PERSIST_EVERY = 1.0             # s between session saves (seq) while traffic flows
LOOP_LAG_WARN = 1.0             # s a heartbeat may run late before we warn
RESUME_CONNECT_TRIES = 3        # failed connects to resume_gateway_url before identifying anew


class _FatalStart(Exception):
    """The token or setup is wrong; reconnecting cannot help."""


class GatewayConnection:
    """One supervised gateway connection at a time; ``run()`` until stopping or fatal.

    Every dispatch goes to ``on_dispatch``; the channel decides what it means.
    """

    def __init__(self, cfg: DiscordConfig, deps: ChannelDeps, session: GatewaySession,
                 rest: DiscordRest, health: ChannelHealth, stopping: asyncio.Event,
                 on_dispatch: Callable[[Dispatch], None]) -> None:
        self._cfg, self._deps, self._session, self._rest = cfg, deps, session, rest
        self.health = health
        self._stopping = stopping
        self._dispatch = on_dispatch
        self._delays = Backoff(deps.retry)
        self._identifies = IdentifyBudget()
        self._connect_failures = 0
        self._persisted_at = 0.0
        self._beat_sent = 0.0
        self._gateway_url: Optional[str] = cfg.gateway_url
        self._ws: Optional[WebSocketClientConnection] = None

    def connected(self) -> None:
        """READY or RESUMED arrived: the next failure starts backing off from the start."""
        self._delays.reset()

    def close(self) -> None:
        """Close the open websocket with 1000 (ends the session); the loop then returns."""
        if self._ws is not None:
            self._ws.close(CLOSE_SHUTDOWN, "shutdown")

    async def run(self) -> None:
        """Connect, read until closed, decide resume/identify/fatal, back off, repeat."""
        while not self._stopping.is_set():
            verdict: Union[Reconnect, Fatal, None]
            try:
                verdict = await self._connect_once()
            except _FatalStart as exc:
                verdict = Fatal(0, str(exc))
            except Exception as exc:
                verdict = self._connect_failed(exc)
            if verdict is None or self._stopping.is_set():
                return
            if isinstance(verdict, Fatal):
                log.error("event=channel_stopped platform=discord close_code=%s reason=%s",
                          verdict.code or "-", verdict.reason)
                self.health.fatal(verdict.reason)
                self._deps.state.kv("discord").delete(SESSION)
                return
            delay = verdict.wait if verdict.immediate else \
                max(self._delays.next(), verdict.wait)
            if not verdict.immediate:
                self.health.failed("backoff", verdict.reason)
            self._deps.metrics.inc("discord_gateway_reconnects_total", reason=verdict.reason,
                                   help="Gateway reconnects by reason")
            log.info("event=gateway_reconnect resume=%s reason=%s retry_in=%.3f",
                     verdict.resume, verdict.reason, delay)
            await wait_or_stop(self._stopping, delay)

    def _connect_failed(self, exc: Exception) -> Reconnect:
        """A connection that never opened: retry; the resume URL only a few times."""
        self._connect_failures += 1
        resume = self._session.can_resume
        expected = isinstance(exc, (OSError, HTTPClientError, StreamClosedError,
                                    WebSocketClosedError, asyncio.TimeoutError))
        log.warning("event=gateway_connect_failed resume=%s attempt=%d error=%s", resume,
                    self._connect_failures, logmod.one_line_error(exc),
                    exc_info=not expected)   # an unknown error keeps its traceback
        if resume and self._connect_failures >= RESUME_CONNECT_TRIES:
            self._session.forget()      # the resume host is gone; start a new session
            resume = False
        return Reconnect(resume, "connect_failed")

    async def _connect_once(self) -> Union[Reconnect, Fatal, None]:
        """One connection from open to close; None when stopping."""
        url = self._session.state.resume_url if self._session.can_resume else None
        if url is None:
            url = await self._identify_url()
            if url is None:
                return None
        # wss:// is checked with the REST calls' context, so the gateway and REST always
        # trust the same store (not Tornado's process-wide default, cached at first use).
        tls = self._deps.http.client.tls_context() if url.startswith("wss:") else None
        request = HTTPRequest(_gateway_query(url), headers={"User-Agent": USER_AGENT},
                              connect_timeout=self._cfg.gateway_timeout_sec,
                              request_timeout=self._cfg.gateway_timeout_sec, ssl_options=tls)
        # Through network.proxy's CONNECT tunnel when one applies (net/tunnel.py).
        resolver = self._deps.http.websocket_resolver(request.url, self._cfg.gateway_timeout_sec)
        # No Tornado pinger: KeepAlive pings and aborts without the close handshake.
        ws = await websocket_connect(request, ping_interval=None,
                                     max_message_size=MAX_MESSAGE_SIZE, resolver=resolver)
        if self._stopping.is_set():
            ws.close(CLOSE_SHUTDOWN, "shutdown")
            return None
        self._ws = ws
        self._connect_failures = 0
        self._session.connection_made()
        closed = asyncio.Event()
        beat: Optional[asyncio.Task] = None
        keepalive = KeepAlive(ws, PING_INTERVAL, PING_TIMEOUT).start()
        try:
            while True:
                message = await ws.read_message()
                if message is None:
                    break
                keepalive.heard()
                try:
                    frame = json.loads(message)
                except ValueError:
                    log.warning("event=gateway_bad_frame bytes=%d", len(message))
                    continue
                for action in self._session.receive(frame):
                    beat = await self._act(action, ws, closed, beat)
                if isinstance(frame, dict) and frame.get("op") in (0, 11):
                    self._persist(force=frame.get("t") in ("READY", "RESUMED"))
                    if frame.get("op") == 11 and self._beat_sent:
                        self._deps.metrics.observe(
                            "discord_heartbeat_latency_seconds",
                            time.monotonic() - self._beat_sent,
                            help="Gateway heartbeat to ACK round trip")
                        self._beat_sent = 0.0
        except BaseException:
            ws.close(CLOSE_ZOMBIE, "client error")      # resumable: not 1000
            raise
        finally:
            closed.set()
            keepalive.stop()
            if beat is not None:
                beat.cancel()
            self._ws = None
        if self._stopping.is_set():
            return None
        if keepalive.timed_out:
            log.warning("event=gateway_ping_timeout timeout_s=%.0f hint=no pong or frame; "
                        "dropped the socket to resume", PING_TIMEOUT)
        ws.close()      # no-op after a close handshake; releases an aborted socket
        return self._session.connection_lost(ws.close_code)

    async def _act(self, action: Any, ws: WebSocketClientConnection, closed: asyncio.Event,
                   beat: Optional[asyncio.Task]) -> Optional[asyncio.Task]:
        """Carry out one action from the session; returns the heartbeat task."""
        if isinstance(action, Send):
            await _write(ws, action.frame)
        elif isinstance(action, StartHeartbeat):
            if beat is not None:
                beat.cancel()
            beat = asyncio.ensure_future(self._heartbeat(ws, action, closed))
        elif isinstance(action, Dispatch):
            self._dispatch(action)
        elif isinstance(action, Close):
            log.info("event=gateway_close code=%d reason=%s", action.code, action.reason)
            ws.close(action.code, action.reason)
        return beat

    async def _heartbeat(self, ws: WebSocketClientConnection, start: StartHeartbeat,
                         closed: asyncio.Event) -> None:
        """Beat on schedule, independent of reading and of command handling."""
        loop = asyncio.get_running_loop()
        due = loop.time() + start.first_delay
        while True:
            # Beats follow a fixed timeline (due += interval), so time spent
            # writing or a busy loop does not push every later beat back.
            if await wait_or_stop(closed, due - loop.time()):
                return
            late = loop.time() - due
            if late > LOOP_LAG_WARN:
                log.warning("event=loop_lag late_s=%.2f hint=something blocked the IOLoop; "
                            "heartbeats were delayed", late)
            action = self._session.heartbeat()
            if isinstance(action, Close):
                log.warning("event=gateway_zombie hint=no HEARTBEAT_ACK since the last beat; "
                            "reconnecting to resume")
                # A peer that stopped ACKing will not finish a close handshake either.
                close_now(ws, action.code, action.reason)
                return
            self._beat_sent = time.monotonic()
            await _write(ws, action.frame)
            due = max(due + start.interval, loop.time())

    async def _identify_url(self) -> Optional[str]:
        """The gateway URL, once ``session_start_limit`` allows an IDENTIFY."""
        while not self._stopping.is_set():
            budget_wait = self._identifies.wait(time.monotonic())
            if budget_wait > 0:
                log.warning("event=identify_budget wait_s=%.1f hint=too many new sessions "
                            "recently; waiting to protect the daily identify limit",
                            budget_wait)
                self.health.failed("backoff", "local identify budget")
                if await wait_or_stop(self._stopping, budget_wait):
                    return None
                continue
            resp = await self._rest.get("/gateway/bot")
            if resp.code == 401:
                raise _FatalStart("authentication failed: GET /gateway/bot answered 401; "
                                  "set discord.token to the bot token from the Developer Portal")
            if resp.code != 200:
                if self._gateway_url:
                    log.warning("event=gateway_bot_failed status=%d using=cached_url",
                                resp.code)
                    return self._gateway_url
                raise RuntimeError("GET /gateway/bot answered %d" % resp.code)
            data = json.loads(resp.body)
            limit = data.get("session_start_limit") or {}
            if limit.get("remaining") == 0:
                wait = max(0.0, float(limit.get("reset_after") or 0) / 1000.0)
                log.warning("event=identify_limit remaining=0 wait_s=%.3f hint=waiting for "
                            "Discord's daily session start limit to reset", wait)
                self.health.failed("backoff", "identify limit reached")
                if await wait_or_stop(self._stopping, wait):
                    return None
                continue
            self._gateway_url = self._cfg.gateway_url or data.get("url") or self._gateway_url
            if not self._gateway_url:
                raise RuntimeError("GET /gateway/bot gave no url")
            self._identifies.spend(time.monotonic())
            return self._gateway_url
        return None

    def _persist(self, force: bool = False) -> None:
        """Save the session for a quick restart, at most every PERSIST_EVERY seconds.

        A seq saved a little late only means a few replayed events after a
        crash, and those are deduplicated by message id.
        """
        now = time.monotonic()
        if not self._session.can_resume or (not force and now - self._persisted_at
                                            < PERSIST_EVERY):
            return
        self._persisted_at = now
        self._deps.state.kv("discord").set_json(
            SESSION, dict(self._session.state.as_dict(), saved_at=time.time()))


# --------------------------------------------------------------------------- pure helpers

def _gateway_query(url: str) -> str:
    base = url.split("?", 1)[0].rstrip("/")
    return base + "/?v=10&encoding=json"


async def _write(ws: WebSocketClientConnection, frame: dict) -> None:
    try:
        await ws.write_message(json.dumps(frame))
    except WebSocketClosedError:
        pass  # the read loop sees the close and decides what comes next
