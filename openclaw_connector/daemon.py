"""The daemon: builds the services from the config, starts them in order,
stops them in reverse.

Start order follows Twisted's lesson (bind and open before dialing out):
StateStore, MediaStore, webhook/status listeners, JobWatcher, then the
channels. A part that fails at start logs one clear line and the others keep
running; only configuration errors (including an unusable ``state_dir``)
stop the daemon, and those are raised to ``cli.py``. Stop goes in reverse,
one service at a time, each bounded by what is left of the grace period.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Optional

from openclaw_connector import __version__
from openclaw_connector import log as logmod
from openclaw_connector.backoff import Backoff, BackoffPolicy, wait_or_stop
from openclaw_connector.channels import build_channels
from openclaw_connector.channels.base import ChannelDeps
from openclaw_connector.channels.transport import HTTPTransport, build_transport
from openclaw_connector.commands import Router
from openclaw_connector.config import Config
from openclaw_connector.jobs import JobWatcher
from openclaw_connector.messages import ChannelSendError, ChatRef, Inbound, Reply
from openclaw_connector.metrics import Metrics
from openclaw_connector.openclaw import OpenClawClient
from openclaw_connector.state import StateStore

log = logmod.get("daemon")


class Daemon:
    """All long-lived parts of one connector process."""

    def __init__(self, cfg: Config, *, console_in: Any = None, console_out: Any = None) -> None:
        self.cfg = cfg
        self.metrics = Metrics()
        self.retry = BackoffPolicy(initial=cfg.retry.initial_sec, cap=cfg.retry.max_sec)
        self.state = StateStore(cfg.state_dir)
        self.http: Optional[HTTPTransport] = None
        self.openclaw: Optional[OpenClawClient] = None
        self.media: Any = None
        self.web: Any = None
        self.jobs: Optional[JobWatcher] = None
        self.router: Optional[Router] = None
        self.channels: dict[str, Any] = {}
        self.stop_reason = ""
        self._console_io = (console_in, console_out)
        self._services: list[tuple[str, Any]] = []
        self._started: list[tuple[str, Any]] = []
        self._stopping = asyncio.Event()
        self._stopped = False

    # ------------------------------------------------------------------ building
    def _build(self) -> None:
        cfg = self.cfg
        # One keep-alive pool (and proxy rules) for every platform API and OpenClaw.
        self.http = build_transport(cfg)
        self.openclaw = OpenClawClient(cfg.openclaw, self.http)
        if cfg.line.on or cfg.whatsapp.on or cfg.status.port:
            from openclaw_connector.media import MediaStore
            from openclaw_connector.web import WebServers
            self.media = MediaStore(cfg.media, cfg.state_dir, cfg.openclaw.admin_token,
                                    self.state)
            self.web = WebServers(cfg, media=self.media, health=self.health,
                                  metrics=self.metrics)
        self.jobs = JobWatcher(cfg, openclaw=self.openclaw, state=self.state,
                               deliver=self.deliver, metrics=self.metrics)
        self.router = Router(cfg, openclaw=self.openclaw, jobs=self.jobs, metrics=self.metrics)
        console_in, console_out = self._console_io
        deps = ChannelDeps(
            state=self.state, http=self.http, metrics=self.metrics, media=self.media,
            web=self.web, debug=cfg.debug,
            retry=self.retry,
            extra={"console_in": console_in, "console_out": console_out,
                   "on_eof": lambda: self.request_stop("console end of input")})
        for channel in build_channels(cfg, self.dispatch, deps):
            self.channels[channel.platform] = channel
        if self.media is not None:
            self._services.append(("media", self.media))
        if self.web is not None:
            self._services.append(("web", self.web))
        self._services.append(("jobs", self.jobs))
        for name, channel in self.channels.items():
            self._services.append((name, channel))

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Open state (raises StateDirError), build and start every part."""
        self.state.open()
        self._build()
        log.info("event=daemon_starting version=%s channels=%s openclaw=%s", __version__,
                 ",".join(self.channels) or "none", self.cfg.openclaw.url)
        for name, service in self._services:
            started = time.monotonic()
            try:
                await service.start()
            except Exception as exc:
                if name in ("web",):
                    raise  # a listener that cannot bind is a configuration problem
                log.error("event=service_start_failed name=%s error=%s", name,
                          logmod.one_line_error(exc), exc_info=self.cfg.debug)
                health = getattr(service, "health", None)
                if health is not None:
                    health.fatal("start failed: %s" % logmod.one_line_error(exc))
                continue
            self._started.append((name, service))
            log.debug("event=service_started name=%s took_ms=%.1f", name,
                      1000 * (time.monotonic() - started))

    def request_stop(self, reason: str) -> None:
        if not self._stopping.is_set():
            self.stop_reason = reason
            log.info("event=daemon_stopping reason=%s", reason.replace(" ", "_"))
            self._stopping.set()

    async def wait(self) -> None:
        await self._stopping.wait()

    async def stop(self) -> None:
        """Stop in reverse order within ``shutdown_grace_sec``; state closes last."""
        if self._stopped:
            return
        self._stopped = True
        self._stopping.set()
        deadline = time.monotonic() + self.cfg.shutdown_grace_sec
        # Listeners first so no new webhook work arrives while channels drain.
        order = [s for s in reversed(self._started) if s[0] == "web"] + \
                [s for s in reversed(self._started) if s[0] != "web"]
        for name, service in order:
            started = time.monotonic()
            remaining = max(0.1, deadline - started)
            try:
                await asyncio.wait_for(service.stop(), timeout=remaining)
            except asyncio.TimeoutError:
                log.warning("event=service_stop_timeout name=%s waited_s=%.1f", name, remaining)
            except Exception as exc:
                log.error("event=service_stop_failed name=%s error=%s", name,
                          logmod.one_line_error(exc))
            log.info("event=service_stopped name=%s took_ms=%.1f", name,
                     1000 * (time.monotonic() - started))
        self._started.clear()
        if self.http is not None:
            self.http.close()
        self.state.close()
        log.info("event=daemon_stopped")

    # ------------------------------------------------------------------ traffic
    async def dispatch(self, inbound: Inbound) -> None:
        """The channels' callback: run the command, then send its reply."""
        assert self.router is not None
        reply = await self.router.handle(inbound)
        if reply is not None:
            await self._send_reply(inbound, reply)

    async def _send_reply(self, inbound: Inbound, reply: Reply) -> None:
        """Send a command's reply, retrying with backoff while the platform is failing.

        A channel retries one send a few times on its own; a platform that is down
        for longer must not cost the user their answer, so the reply is tried
        ``results.delivery_attempts`` times with backoff (the platform's
        ``retry_after`` wins). A shutdown during the wait cancels the handler, which
        channels treat as "not answered yet" and replay at the next start.
        """
        delays = Backoff(self.retry)
        attempts = self.cfg.results.delivery_attempts
        for attempt in range(1, attempts + 1):
            try:
                await self.deliver(inbound.chat, reply)
                return
            except ChannelSendError as exc:
                error, permanent, after = str(exc), exc.permanent, exc.retry_after or 0.0
            except Exception as exc:  # an unknown failure is retried like a transient one
                error, permanent, after = logmod.one_line_error(exc), False, 0.0
                log.debug("event=reply_send_error", exc_info=True)
            if permanent or attempt == attempts:
                log.warning("event=reply_failed platform=%s chat=%s attempts=%d permanent=%s "
                            "error=%s", inbound.platform, inbound.chat_id, attempt, permanent,
                            error)
                self.metrics.inc("replies_failed_total", platform=inbound.platform,
                                 help="Command replies given up on")
                return
            wait = max(delays.next(), after)
            log.warning("event=reply_retry platform=%s chat=%s attempt=%d retry_in=%.2f "
                        "error=%s", inbound.platform, inbound.chat_id, attempt, wait, error)
            self.metrics.inc("send_retries_total", platform=inbound.platform,
                             help="Reply sends retried")
            if await wait_or_stop(self._stopping, wait):
                raise asyncio.CancelledError()

    async def deliver(self, chat: ChatRef, reply: Reply) -> None:
        """Send ``reply`` through the channel of ``chat.platform``."""
        channel = self.channels.get(chat.platform)
        if channel is None:
            raise ChannelSendError("channel %s is not enabled" % chat.platform, permanent=True)
        await channel.send(chat, reply)
        self.metrics.inc("sends_total", platform=chat.platform, help="Replies sent")

    def health(self) -> tuple[int, dict]:
        """(HTTP status, body) for ``/healthz``: 200 only when every channel is ok."""
        channels = {name: ch.health.as_dict() for name, ch in self.channels.items()}
        ok = all(c["state"] == "ok" for c in channels.values())
        body: dict = {"ok": ok, "version": __version__, "channels": channels}
        reach = getattr(self.openclaw, "last_reachable", None)
        # No URL here: /healthz is also on the public webhook ports.
        body["comfyui"] = {"reachable": reach}
        return (200 if ok else 503), body
