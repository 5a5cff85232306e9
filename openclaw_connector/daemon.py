"""The daemon: builds the services from the config, starts them in order,
stops them in two phases.

Start order follows Twisted's lesson (bind and open before dialing out):
StateStore, OpenClawClient, MediaStore, webhook/status listeners, JobWatcher,
then the channels. A part that fails at start logs one clear line and the
others keep running; only configuration errors (an unusable ``state_dir``, a
listener that cannot bind: the ``required`` entries) stop the daemon, and
those are raised to ``cli.py``. Stop follows :func:`lifecycle.stop_plan`:
first the parts that accept work (listeners, and the OpenClaw client so no
command waits out a busy server), then the rest last-started-first, one at
a time, each bounded by what is left of the grace period; state closes last.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Optional, TextIO

from openclaw_connector import __version__
from openclaw_connector import log as logmod
from openclaw_connector.backoff import BackoffPolicy
from openclaw_connector.buttons import Buttons
from openclaw_connector.channels import build_channels
from openclaw_connector.channels.base import Channel, ChannelDeps, PhotoSource
from openclaw_connector.net.transport import HTTPTransport, build_transport
from openclaw_connector.commands import Router
from openclaw_connector.commands.templates import TemplateCatalogue
from openclaw_connector.config import Config
from openclaw_connector.delivery import DONE, STOPPED, Outbox
from openclaw_connector.jobs.followups import FollowUps
from openclaw_connector.jobs.watcher import JobWatcher
from openclaw_connector.lifecycle import ServiceEntry, stop_plan
from openclaw_connector.messages import Inbound, PhotoRef, PhotoUnavailable
from openclaw_connector.metrics import Metrics
from openclaw_connector.openclaw.client import OpenClawClient
from openclaw_connector.state import StateStore

if TYPE_CHECKING:   # built only when a webhook channel or the status port is on
    from openclaw_connector.media import MediaStore
    from openclaw_connector.web import WebServers

log = logmod.get("daemon")


class Daemon:
    """All long-lived parts of one connector process."""

    def __init__(self, cfg: Config, *, console_in: Optional[TextIO] = None,
                 console_out: Optional[TextIO] = None) -> None:
        self.cfg = cfg
        self.metrics = Metrics()
        self.retry = BackoffPolicy(initial=cfg.retry.initial_sec, cap=cfg.retry.max_sec)
        self.state = StateStore(cfg.state_dir, metrics=self.metrics,
                                check_sec=cfg.state_check_sec)
        self.http: Optional[HTTPTransport] = None
        self.openclaw: Optional[OpenClawClient] = None
        self.media: Optional["MediaStore"] = None
        self.web: Optional["WebServers"] = None
        self.jobs: Optional[JobWatcher] = None
        self.router: Optional[Router] = None
        self.channels: dict[str, Channel] = {}
        self.outbox: Optional[Outbox] = None
        self.buttons: Optional[Buttons] = None
        self.stop_reason = ""
        self._console_io = (console_in, console_out)
        self._services: list[ServiceEntry] = []
        self._started: list[ServiceEntry] = []
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
        # The one place that retries a send; it reads self.channels as they are added.
        self.outbox = Outbox(self.channels, retry=self.retry,
                             attempts=cfg.results.delivery_attempts, stopping=self._stopping,
                             state=self.state, metrics=self.metrics,
                             card_interval=cfg.progress.min_interval_sec)
        self.buttons = Buttons(self.state, ttl_sec=cfg.buttons.token_ttl_sec,
                               channels=self.channels)
        # One template catalogue: /run and /templates read it, and so do result buttons.
        catalogue = TemplateCatalogue(self.openclaw)
        self.jobs = JobWatcher(cfg, openclaw=self.openclaw, state=self.state,
                               outbox=self.outbox, metrics=self.metrics,
                               on_decided=self.buttons.decided,
                               followups=FollowUps(cfg, catalogue))
        self.router = Router(cfg, openclaw=self.openclaw, jobs=self.jobs, metrics=self.metrics,
                             on_decided=self.buttons.decided, catalogue=catalogue,
                             state=self.state, photo_fetch=self._fetch_photo)
        console_in, console_out = self._console_io
        deps = ChannelDeps(
            state=self.state, http=self.http, metrics=self.metrics, media=self.media,
            web=self.web, debug=cfg.debug,
            retry=self.retry, menu=self.router.menu(), console_in=console_in,
            console_out=console_out, on_eof=lambda: self.request_stop("console end of input"),
            buttons=self.buttons)
        for channel in build_channels(cfg, self.dispatch, deps):
            self.channels[channel.platform] = channel
        self.metrics.set("build_info", 1, version=__version__,
                         help="Always 1; the version label says which build runs")
        self.metrics.collect(self._channel_gauges)
        services = [ServiceEntry("state", self.state, required=True),
                    ServiceEntry("openclaw", self.openclaw, intake=True)]
        if self.media is not None:
            services.append(ServiceEntry("media", self.media))
        if self.web is not None:   # a listener that cannot bind is a configuration problem
            services.append(ServiceEntry("web", self.web, required=True, intake=True))
        services.append(ServiceEntry("jobs", self.jobs))
        services += [ServiceEntry(name, ch) for name, ch in self.channels.items()]
        self._services = services

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Build and start every part; a ``required`` one that fails raises
        (StateDirError for the state directory, OSError for a listener)."""
        self._build()
        log.info("event=daemon_starting version=%s channels=%s openclaw=%s", __version__,
                 ",".join(self.channels) or "none", self.cfg.openclaw.url)
        assert self.router is not None
        for warning in self.router.permissions.warnings:
            log.warning(warning)
        for entry in self._services:
            started = time.monotonic()
            try:
                await entry.service.start()
            except Exception as exc:
                if entry.required:
                    raise
                log.error("event=service_start_failed name=%s error=%s", entry.name,
                          logmod.one_line_error(exc), exc_info=self.cfg.debug)
                health = getattr(entry.service, "health", None)
                if health is not None:
                    health.fatal("start failed: %s" % logmod.one_line_error(exc))
                continue
            self._started.append(entry)
            log.debug("event=service_started name=%s took_ms=%.1f", entry.name,
                      1000 * (time.monotonic() - started))

    def request_stop(self, reason: str) -> None:
        if not self._stopping.is_set():
            self.stop_reason = reason
            log.info("event=daemon_stopping reason=%s", reason.replace(" ", "_"))
            self._stopping.set()

    async def wait(self) -> None:
        await self._stopping.wait()

    async def stop(self) -> None:
        """Stop by :func:`stop_plan` within ``shutdown_grace_sec``; state closes last."""
        if self._stopped:
            return
        self._stopped = True
        self._stopping.set()
        deadline = time.monotonic() + self.cfg.shutdown_grace_sec
        for phase, entry in stop_plan(self._started):
            started = time.monotonic()
            remaining = max(0.1, deadline - started)
            try:
                await asyncio.wait_for(entry.service.stop(), timeout=remaining)
            except asyncio.TimeoutError:
                log.warning("event=service_stop_timeout name=%s phase=%s waited_s=%.1f",
                            entry.name, phase, remaining)
            except Exception as exc:
                log.error("event=service_stop_failed name=%s phase=%s error=%s", entry.name,
                          phase, logmod.one_line_error(exc))
            log.info("event=service_stopped name=%s phase=%s took_ms=%.1f", entry.name, phase,
                     1000 * (time.monotonic() - started))
        self._started.clear()
        if self.http is not None:
            self.http.close()
        log.info("event=daemon_stopped")

    # ------------------------------------------------------------------ traffic
    async def dispatch(self, inbound: Inbound) -> None:
        """The channels' callback: run the command, then deliver its reply (Outbox).

        A shutdown during a retry wait cancels the handler, which channels treat
        as "not answered yet" and replay at the next start.
        """
        assert self.router is not None and self.outbox is not None
        reply = await self.router.handle(inbound)
        if reply is None:
            return
        delivery = await self.outbox.deliver(inbound.chat, reply,
                                             key="reply:" + inbound.base_id)
        if delivery.status == STOPPED:
            raise asyncio.CancelledError()
        if delivery.status == DONE and self.jobs is not None and self.jobs.cards is not None:
            # If the command started a watched prompt, this message is its live card.
            self.jobs.cards.reply_sent(inbound.chat, reply, delivery.sent)
        if delivery.status != DONE:
            log.warning("event=reply_failed platform=%s chat=%s attempts=%d permanent=%s "
                        "error=%s", inbound.platform, inbound.chat_id, delivery.attempts,
                        delivery.permanent, delivery.error)
            self.metrics.inc("replies_failed_total", platform=inbound.platform,
                             help="Command replies given up on")

    async def _fetch_photo(self, photo: PhotoRef, max_bytes: int) -> bytes:
        """A user's photo through the channel it came from (issue 19)."""
        channel = self.channels.get(photo.platform)
        if not isinstance(channel, PhotoSource):
            raise PhotoUnavailable("Photos from %s cannot be used." % photo.platform)
        return await channel.fetch_photo(photo, max_bytes)

    def _channel_gauges(self) -> None:
        for name, channel in self.channels.items():
            self.metrics.set("channel_up", 1 if channel.health.state == "ok" else 0,
                             channel=name, help="1 while the channel is connected and ok")

    def health(self) -> tuple[int, dict]:
        """(HTTP status, body) for ``/healthz``: 200 only when every channel is ok (a
        console that is ``off`` because there is no terminal does not count), state
        writes reach the disk and no listener is out of descriptors."""
        channels = {name: ch.health.as_dict() for name, ch in self.channels.items()}
        state = self.state.health()
        ok = all(c["state"] in ("ok", "off") for c in channels.values()) and state["writable"]
        body: dict = {"ok": ok, "version": __version__, "channels": channels,
                      "state": state}
        if self.web is not None:
            body["http"] = self.web.listener_health()
            if any(g["accept_paused"] for g in body["http"]["listeners"].values()):
                body["ok"] = ok = False
        # None only until the first call or /ws connect ends; false once one failed.
        reach = getattr(self.openclaw, "last_reachable", None)
        if reach is None:
            reach = getattr(getattr(self.jobs, "ws", None), "last_connect_ok", None)
        body["comfyui"] = {"reachable": reach}
        return (200 if ok else 503), body
